/**
 * The native backend's Reshape with reused shape tensors (src/backend/native_kernels.ts): same values and shapes as
 * tfjs-node's own (incl. -1 and int32/bool), invisible to tf.memory(), and gradients through it. Native only.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { availableBackends } from '../../src/backend/select';
import { registerNativeReshape } from '../../src/backend/native_kernels';

const native = availableBackends().includes('native');

describe.runIf(native)('native Reshape with cached shape tensors', () => {
  it('reshapes like tfjs-node, leaks nothing, keeps gradients', async () => {
    require('@tensorflow/tfjs-node');
    expect(await tf.setBackend('tensorflow')).toBe(true);
    expect(registerNativeReshape('tensorflow')).toBe(true);
    expect(registerNativeReshape('tensorflow')).toBe(true); // idempotent
    const x = tf.range(0, 24).reshape([2, 3, 4]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const ys = tf.tidy(() => [tf.reshape(x, [6, -1]), tf.reshape(x, [4, 6]), tf.reshape(tf.cast(x, 'int32'), [-1]), tf.reshape(tf.greater(x, 5), [3, 8])]);
      expect(ys.map((y) => y.shape)).toEqual([[6, 4], [4, 6], [24], [3, 8]]);
      expect(Array.from(ys[0].dataSync())).toEqual(Array.from({ length: 24 }, (_, k) => k));
      expect(ys[2].dtype).toBe('int32');
      expect(Array.from(ys[3].dataSync()).filter(Boolean).length).toBe(18);
      tf.dispose(ys);
    }
    expect(tf.memory().numTensors).toBe(before);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.reshape(t, [4, 6]), tf.range(0, 24).reshape([4, 6]))))(x);
    expect(g.shape).toEqual([2, 3, 4]);
    expect(Array.from(g.dataSync())).toEqual(Array.from({ length: 24 }, (_, k) => k));
    expect(() => tf.reshape(x, [5, 5])).toThrow();
  });
});
