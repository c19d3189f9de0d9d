import * as tf from '@tensorflow/tfjs';

export type GradResult = tf.Tensor | tf.Tensor[];

/**
 * A typed wrapper over `tf.customGrad`: `f(inputs, save)` returns the value and a gradient function
 * `(dy, saved) → one gradient per input`.
 */
export function customOp<T extends tf.Tensor>(
  f: (inputs: tf.Tensor[], save: tf.GradSaveFunc) => { value: T; gradFunc: (dy: T, saved: tf.Tensor[]) => GradResult },
): (...inputs: tf.Tensor[]) => T {
  const g = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args.pop() as tf.GradSaveFunc;
    return f(args as tf.Tensor[], save);
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (...inputs: tf.Tensor[]) => g(...inputs) as T;
}
