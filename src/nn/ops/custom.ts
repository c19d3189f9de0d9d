import * as tf from '@tensorflow/tfjs';

export type GradResult = tf.Tensor | tf.Tensor[];

interface EngineState {
  gradientDepth: number;
  activeScope: { track: tf.Tensor[] } | null;
}

/**
 * Frees what one node of the backward pass no longer needs, as soon as its gradient is computed: the tensors it saved
 * and the gradient it received. TF.js keeps both until the whole backward pass ends (saved tensors are disposed
 * after it, gradients with its scope), so at UNETR's 96³ level every intermediate gradient stayed alive at once.
 * Only for first-order gradients (a higher-order gradient may still read them), never a tensor the gradient returns,
 * and dy only when the backward pass itself made it (not a dy the caller passed to tf.grad).
 */
function releaseAfterBackward(dy: tf.Tensor, saved: tf.Tensor[], result: GradResult): void {
  const state = (tf.engine() as unknown as { state: EngineState }).state;
  if (state.gradientDepth > 0) return;
  const out = new Set(Array.isArray(result) ? result : [result]);
  for (const t of saved) if (!out.has(t) && !t.isDisposed) t.dispose();
  if (!out.has(dy) && !dy.isDisposed && state.activeScope?.track.includes(dy)) dy.dispose();
}

/**
 * A typed wrapper over `tf.customGrad`: `f(inputs, save)` returns the value and a gradient function
 * `(dy, saved) → one gradient per input`. After the gradient function runs, the saved tensors and dy are freed
 * (see releaseAfterBackward), so gradient functions must not keep them.
 */
export function customOp<T extends tf.Tensor>(
  f: (inputs: tf.Tensor[], save: tf.GradSaveFunc) => { value: T; gradFunc: (dy: T, saved: tf.Tensor[]) => GradResult },
): (...inputs: tf.Tensor[]) => T {
  const g = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args.pop() as tf.GradSaveFunc;
    const { value, gradFunc } = f(args as tf.Tensor[], save);
    return {
      value,
      gradFunc: (dy: T, saved: tf.Tensor[]) => {
        const result = gradFunc(dy, saved);
        releaseAfterBackward(dy, saved, result);
        return result;
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (...inputs: tf.Tensor[]) => g(...inputs) as T;
}
