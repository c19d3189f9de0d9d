/**
 * The native backend's Reshape with reused shape tensors and Cast that skips same-dtype casts
 * (src/backend/native_kernels.ts): same values and shapes as tfjs-node's own (incl. -1 and int32/bool), invisible to
 * tf.memory(), disposal independent of the input, and gradients through them. Native only.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { availableBackends } from '../../src/backend/select';
import { NATIVE_FUSED_NORM, NATIVE_LEAKY_RELU_GRAD, NATIVE_MATMUL_2D, registerNativeCast, registerNativeLeakyReluGrad, registerNativeConstInputs, registerNativeFusedNorm, registerNativeMatMul2D, registerNativeReshape, registerNativeSmallBatchMatMul, SMALL_BMM_FLOPS } from '../../src/backend/native_kernels';
import { instanceNorm } from '../../src/nn/ops/norm';
import { leakyRelu } from '../../src/nn/ops/activations';
import { matmul2d } from '../../src/nn/ops/matmul';

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

  it('returns a same-shape reshape as one more reference to its input', async () => {
    require('@tensorflow/tfjs-node');
    expect(await tf.setBackend('tensorflow')).toBe(true);
    expect(registerNativeReshape('tensorflow')).toBe(true);
    const before = tf.memory().numTensors;
    const x = tf.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const same = tf.reshape(x, [2, -1]);
    expect(same.shape).toEqual([2, 3]);
    x.dispose(); // the result must outlive its input
    expect(Array.from(same.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    const flat = tf.reshape(same, [6]);
    same.dispose();
    expect(Array.from(flat.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    flat.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // broadcasting gradients end in same-shape reshapes
    const a = tf.tensor([[1, 2], [3, 4]]);
    const b = tf.tensor([10, 20]);
    const [ga, gb] = tf.grads((u: tf.Tensor, v: tf.Tensor) => tf.sum(tf.mul(tf.add(u, v), u)))([a, b]);
    expect(Array.from(ga.dataSync())).toEqual([12, 24, 16, 28]);
    expect(Array.from(gb.dataSync())).toEqual([4, 6]);
    tf.dispose([a, b, ga, gb]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('skips same-dtype casts, keeps real ones, frees correctly', async () => {
    require('@tensorflow/tfjs-node');
    expect(await tf.setBackend('tensorflow')).toBe(true);
    expect(registerNativeCast('tensorflow')).toBe(true);
    const before = tf.memory().numTensors;
    const x = tf.tensor([1.5, -2.25, 3], [3]);
    const same = tf.cast(x, 'float32');
    x.dispose(); // the cast's result must outlive its input
    expect(Array.from(same.dataSync())).toEqual([1.5, -2.25, 3]);
    const i = tf.cast(same, 'int32');
    expect(i.dtype).toBe('int32');
    expect(Array.from(i.dataSync())).toEqual([1, -2, 3]);
    const b = tf.cast(i, 'bool');
    expect(Array.from(b.dataSync())).toEqual([1, 1, 1]);
    tf.dispose([same, i, b]);
    expect(tf.memory().numTensors).toBe(before);
    const a = tf.tensor([1, 2, 3]);
    const c = tf.tensor([4, 5, 6]);
    const [ga, gc] = tf.grads((u: tf.Tensor, v: tf.Tensor) => tf.sum(tf.mul(u, v)))([a, c]);
    expect(Array.from(ga.dataSync())).toEqual([4, 5, 6]);
    expect(Array.from(gc.dataSync())).toEqual([1, 2, 3]);
    tf.dispose([a, c, ga, gc]);
  });

  it("TensorFlow's 2-D MatMul: values and gradients as BatchMatMul, all transpose flags", async () => {
    require('@tensorflow/tfjs-node');
    expect(await tf.setBackend('tensorflow')).toBe(true);
    expect(registerNativeMatMul2D('tensorflow')).toBe(true);
    const a = tf.randomNormal([37, 53], 0, 1, 'float32', 1) as tf.Tensor2D;
    const b = tf.randomNormal([53, 29], 0, 1, 'float32', 2) as tf.Tensor2D;
    const close = (x: tf.Tensor, y: tf.Tensor) => expect(tf.tidy(() => tf.max(tf.abs(tf.sub(x, y))).dataSync()[0])).toBeLessThan(1e-4);
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
      const A = ta ? tf.transpose(a) : a;
      const B = tb ? tf.transpose(b) : b;
      close(tf.engine().runKernel(NATIVE_MATMUL_2D, { a: A, b: B }, { transposeA: ta, transposeB: tb }) as tf.Tensor, tf.matMul(a, b));
    }
    const dy = tf.randomNormal([37, 29], 0, 1, 'float32', 3);
    const before = tf.memory().numTensors;
    const ours = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(matmul2d(x as tf.Tensor2D, y as tf.Tensor2D), dy)))([a, b]);
    const ref = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D), dy)))([a, b]);
    close(ours[0], ref[0]);
    close(ours[1], ref[1]);
    tf.dispose([...ours, ...ref]);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => tf.engine().runKernel(NATIVE_MATMUL_2D, { a: tf.zeros([2, 2, 2]), b }, { transposeA: false, transposeB: false })).toThrow(/2-D/);
  });

  it('reductions, transpose and concat with cached axis tensors: same values as the cpu backend, no leaks', async () => {
    require('@tensorflow/tfjs-node');
    const data = Array.from({ length: 2 * 3 * 4 }, (_, i) => ((i * 7) % 11) - 5 + i / 10);
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor(data, [2, 3, 4]);
        const xi = tf.tensor(data.map(Math.round), [2, 3, 4], 'int32');
        const outs = [
          tf.sum(x), tf.sum(x, 1), tf.sum(x, [0, 2], true), tf.sum(xi, -1), tf.sum(tf.greater(x, 0), 0),
          tf.mean(x, 2, true), tf.mean(x, [0, 1]), tf.mean(xi, 1),
          tf.max(x, 1), tf.max(x, [0, 2], true), tf.min(x, 0), tf.min(xi, -1, true), tf.prod(x, 2), tf.prod(xi, [0, 1]),
          tf.transpose(x, [2, 0, 1]), tf.transpose(xi, [1, 0, 2]), tf.transpose(x),
          tf.concat([x, x], 1), tf.concat([x, tf.ones([2, 3, 1])], -1), tf.concat([xi, xi, xi], 0),
          // gradients through them
          tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.transpose(tf.concat([t, tf.square(t)], 0), [1, 0, 2]), tf.max(tf.mean(t, 1, true), 0))))(x),
        ];
        return outs.map((o) => ({ shape: o.shape, dtype: o.dtype, values: Array.from(o.dataSync()) }));
      });
    expect(await tf.setBackend('cpu')).toBe(true);
    const want = run();
    expect(await tf.setBackend('tensorflow')).toBe(true);
    expect(registerNativeConstInputs('tensorflow')).toBe(true);
    expect(registerNativeConstInputs('tensorflow')).toBe(true); // idempotent
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      const got = run();
      got.forEach((g, k) => {
        expect(g.shape, `output ${k}`).toEqual(want[k].shape);
        expect(g.dtype, `output ${k}`).toBe(want[k].dtype);
        g.values.forEach((v, j) => expect(Math.abs(v - want[k].values[j]), `output ${k}[${j}]`).toBeLessThan(1e-4 * Math.max(1, Math.abs(v))));
      });
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('small batched products through BatchMatMulV3: values and gradients as plain loops, all transpose flags', async () => {
    require('@tensorflow/tfjs-node');
    expect(await tf.setBackend('tensorflow')).toBe(true);
    expect(registerNativeSmallBatchMatMul('tensorflow')).toBe(true);
    expect(registerNativeSmallBatchMatMul('tensorflow')).toBe(true); // idempotent
    /** a [B, m, k] · b [B, k, n] in float64 loops */
    const ref = (a: tf.Tensor3D, b: tf.Tensor3D): number[] => {
      const [B, m, k] = a.shape;
      const n = b.shape[2];
      const A = a.dataSync(), Bv = b.dataSync();
      const out: number[] = [];
      for (let q = 0; q < B; q++) for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let l = 0; l < k; l++) acc += A[q * m * k + i * k + l] * Bv[q * k * n + l * n + j];
        out.push(acc);
      }
      return out;
    };
    const maxDiff = (x: ArrayLike<number>, y: number[]) => Math.max(...y.map((v, i) => Math.abs(v - x[i])));
    // small (BatchMatMulV3) and one above SMALL_BMM_FLOPS (tfjs-node's BatchMatMulV2)
    for (const [B, m, k, n] of [[8, 8, 24, 8], [3, 5, 7, 2], [4, 40, 50, 40]]) {
      expect(B * m * k * n <= SMALL_BMM_FLOPS).toBe(B !== 4);
      const a = tf.randomNormal([B, m, k], 0, 1, 'float32', B) as tf.Tensor3D;
      const b = tf.randomNormal([B, k, n], 0, 1, 'float32', m) as tf.Tensor3D;
      const want = ref(a, b);
      for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
        const y = tf.tidy(() => tf.matMul(ta ? tf.transpose(a, [0, 2, 1]) : a, tb ? tf.transpose(b, [0, 2, 1]) : b, ta, tb));
        expect(y.shape).toEqual([B, m, n]);
        expect(maxDiff(y.dataSync(), want)).toBeLessThan(1e-4);
        y.dispose();
      }
      // gradients: d/da sum(a·b ⊙ dy) = dy·bᵀ, d/db = aᵀ·dy
      const dy = tf.randomNormal([B, m, n], 0, 1, 'float32', 5) as tf.Tensor3D;
      const before = tf.memory().numTensors;
      const [ga, gb] = tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x as tf.Tensor3D, w as tf.Tensor3D), dy)))([a, b]);
      const bT = tf.transpose(b, [0, 2, 1]) as tf.Tensor3D;
      const aT = tf.transpose(a, [0, 2, 1]) as tf.Tensor3D;
      expect(maxDiff(ga.dataSync(), ref(dy, bT))).toBeLessThan(1e-4);
      expect(maxDiff(gb.dataSync(), ref(aT, dy))).toBeLessThan(1e-4);
      tf.dispose([ga, gb, aT, bT]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([a, b, dy]);
    }
  });

  it('LeakyReLU gradient through LeakyReluGrad equals the op-by-op one (zeros and negatives too), no leaks', async () => {
    require('@tensorflow/tfjs-node');
    expect(await tf.setBackend('tensorflow')).toBe(true);
    expect(registerNativeLeakyReluGrad('tensorflow')).toBe(true);
    const x = tf.concat([tf.randomNormal([997], 0, 1, 'float32', 9), tf.zeros([3])]).reshape([2, 5, 10, 10]);
    const dy = tf.randomNormal([2, 5, 10, 10], 0, 1, 'float32', 10);
    const run = () => tf.tidy(() => Array.from(tf.grad((a: tf.Tensor) => tf.sum(tf.mul(leakyRelu(a, 0.01), dy)))(x).dataSync()));
    const before = tf.memory().numTensors;
    const fused = run();
    expect(tf.memory().numTensors).toBe(before);
    const cfg = tf.getKernel(NATIVE_LEAKY_RELU_GRAD, 'tensorflow');
    tf.unregisterKernel(NATIVE_LEAKY_RELU_GRAD, 'tensorflow');
    let plain: number[];
    try {
      plain = run();
    } finally {
      tf.registerKernel(cfg);
    }
    expect(fused).toEqual(plain);
    tf.dispose([x, dy]);
  });

  it('instance norm through FusedBatchNormV3 / GradV3 equals the op-by-op one, no leaks', async () => {
    require('@tensorflow/tfjs-node');
    expect(await tf.setBackend('tensorflow')).toBe(true);
    expect(registerNativeFusedNorm('tensorflow')).toBe(true);
    const x = tf.randomNormal([2, 6, 5, 4, 3], 1, 2, 'float32', 7) as tf.Tensor5D;
    const dy = tf.randomNormal([2, 6, 5, 4, 3], 0, 1, 'float32', 8);
    const x1 = tf.slice(x, [1, 0, 0, 0, 0], [1, 6, 5, 4, 3]) as tf.Tensor5D; // a batch of one takes its own route
    const dy1 = tf.slice(dy, [1, 0, 0, 0, 0], [1, 6, 5, 4, 3]);
    const run = () =>
      tf.tidy(() =>
        [[x, dy], [x1, dy1]].flatMap(([a0, d]) => {
          const y = instanceNorm(a0 as tf.Tensor5D);
          const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(instanceNorm(a as tf.Tensor5D), d)))(a0);
          return [Array.from(y.dataSync()), Array.from(g.dataSync())];
        }),
      );
    const before = tf.memory().numTensors;
    const fused = run();
    expect(tf.memory().numTensors).toBe(before);
    const cfg = tf.getKernel(NATIVE_FUSED_NORM, 'tensorflow');
    tf.unregisterKernel(NATIVE_FUSED_NORM, 'tensorflow');
    let plain: number[][];
    try {
      plain = run();
    } finally {
      tf.registerKernel(cfg);
    }
    expect(fused).toHaveLength(4);
    for (let k = 0; k < 4; k++) fused[k].forEach((v, i) => expect(Math.abs(v - plain[k][i])).toBeLessThan(1e-5));
  });
});
