/**
 * The webgpu kernel wrappers of src/backend/webgpu.ts change shapes only, never results. Here they are installed on the
 * cpu backend (whose kernels run every shape) with a workgroup limit of 2, so that the wide-transpose path (sides over
 * 16 × 2 = 32) runs at small sizes, and every wrapped op is compared with the values computed before the wrappers
 * were installed. (Its own file: the wrappers stay registered for the rest of the process.)
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { installRank5Workarounds } from '../../src/backend/webgpu';

const U = (shape: number[], seed: number) => tf.randomUniform(shape, -1, 1, 'float32', seed);
/** Every wrapped kernel, on shapes that take each wrapper's reshaping path. */
function ops(): Record<string, tf.Tensor> {
  const x5 = U([2, 4, 5, 6, 7], 1);
  const tall = U([100, 3], 2);
  const wide = U([3, 70], 3);
  const ints = tf.cast(tf.mul(tall, 10), 'int32');
  return {
    bias_add: tf.add(x5, U([7], 4)),
    broadcast_mul: tf.mul(x5, U([2, 1, 1, 1, 7], 5)),
    pad5: tf.pad(x5, [[0, 0], [1, 1], [1, 1], [1, 1], [0, 0]]),
    where5: tf.where(tf.greater(x5, 0), x5, tf.mul(x5, 0.01)),
    reverse5: tf.reverse(x5, [1, 2, 3]),
    cast: tf.cast(tf.greater(x5, 0), 'float32'),
    transpose_tall: tf.transpose(tall),
    transpose_wide: tf.transpose(wide),
    sum_rows: tf.sum(tall, 0),
    sum_rows_keep: tf.sum(tall, 0, true),
    mean_rows: tf.mean(tall, 0),
    max_rows: tf.max(tall, 0),
    min_rows_keep: tf.min(tall, [0], true),
    prod_rows: tf.prod(tf.add(tf.mul(tall, 0.01), 1), 0),
    argmax_rows: tf.argMax(tall, 0),
    argmin_rows: tf.argMin(tall, 0),
    any_rows: tf.any(tf.greater(tall, 0.9), 0),
    all_rows: tf.all(tf.greater(tall, -0.9), 0),
    int_sum_rows: tf.sum(ints, 0),
    int_transpose: tf.transpose(ints),
    sum_cols: tf.sum(tall, 1),
    sum_5d: tf.sum(x5, [1, 2, 3]),
  };
}

describe('webgpu kernel wrappers, run on cpu', () => {
  let before: Record<string, { shape: number[]; dtype: string; values: number[] }>;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    before = Object.fromEntries(Object.entries(tf.tidy(ops)).map(([k, t]) => [k, { shape: t.shape, dtype: t.dtype, values: Array.from(t.dataSync()) }]));
    installRank5Workarounds(tf, { backend: 'cpu', maxWorkgroups: 2 });
  });
  it('give the same shapes, dtypes and values as the stock kernels, and leak nothing', () => {
    const n = tf.memory().numTensors;
    const after = tf.tidy(ops);
    for (const [k, t] of Object.entries(after)) {
      expect({ k, shape: t.shape, dtype: t.dtype }).toEqual({ k, shape: before[k].shape, dtype: before[k].dtype });
      const v = Array.from(t.dataSync());
      v.forEach((a, i) => expect(Math.abs(a - before[k].values[i]), `${k}[${i}]`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(before[k].values[i]))));
    }
    Object.values(after).forEach((t) => t.dispose());
    expect(tf.memory().numTensors).toBe(n);
  });
});
