/**
 * ssl3d's own TensorFlow ops (src/backend/native_ops.ts, scripts/native-backend/ops/): the loader's checks
 * of the library and its manifest (any machine), and on the native backend the fused LayerNorm and GELU against the
 * op-by-op forms (forward and every gradient, odd shapes, bit-identical reruns, no leaks, errors). The op-layer
 * fixtures (test/nn/ops.test.ts) compare both with PyTorch on every backend. SSL3D_REQUIRE_NATIVE_OPS=1 (CI) fails
 * instead of skipping when the native backend is installed but the library did not load.
 */
import * as tf from '@tensorflow/tfjs';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { availableBackends } from '../../src/backend/select';
import { registerNativeKernels } from '../../src/backend/native_kernels';
import { checkNativeOpsLibrary, loadNativeOps, NATIVE_GELU, NATIVE_INSTANCE_NORM, NATIVE_LAYER_NORM, NATIVE_LAYER_NORM_GRAD, NATIVE_OPS, nativeOpsDir } from '../../src/backend/native_ops';
import * as ops from '../../src/nn/ops';

describe('native op library checks', () => {
  const make = (files: Record<string, string | number>) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ssl3d-ops-'));
    for (const [name, v] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), typeof v === 'number' ? Buffer.alloc(v) : v);
    return dir;
  };
  const allOps = [...NATIVE_OPS];
  const manifest = (bytes: number, opNames = allOps) => JSON.stringify({ tfVersion: '2.21.0', frameworkBytes: bytes, ops: opNames });

  it('accepts a library built for the framework library beside it', () => {
    const dir = make({ 'ssl3d_ops.node': 'x', 'ssl3d_ops.json': manifest(10), 'libtensorflow_framework.so.2': 10 });
    expect(checkNativeOpsLibrary(dir)).toEqual({ ok: true, library: path.join(dir, 'ssl3d_ops.node') });
  });

  it('refuses, with the reason, a missing library or manifest, another TensorFlow build, or missing ops', () => {
    const reason = (files: Record<string, string | number>) => {
      const r = checkNativeOpsLibrary(make(files));
      expect(r.ok).toBe(false);
      return (r as { reason: string }).reason;
    };
    expect(reason({ 'libtensorflow_framework.so.2': 10 })).toMatch(/no .*ssl3d_ops\.node.*backend:native/);
    expect(reason({ 'ssl3d_ops.node': 'x', 'libtensorflow_framework.so.2': 10 })).toMatch(/ssl3d_ops\.json is missing or unreadable/);
    expect(reason({ 'ssl3d_ops.node': 'x', 'ssl3d_ops.json': '{not json', 'libtensorflow_framework.so.2': 10 })).toMatch(/unreadable/);
    expect(reason({ 'ssl3d_ops.node': 'x', 'ssl3d_ops.json': manifest(10), 'libtensorflow_framework.so.2': 11 })).toMatch(/another TensorFlow library \(2\.21\.0, 10 bytes; found 11\)/);
    expect(reason({ 'ssl3d_ops.node': 'x', 'ssl3d_ops.json': manifest(10, ['Ssl3dGelu']), 'libtensorflow_framework.so.2': 10 })).toMatch(/lacks Ssl3dLayerNorm, Ssl3dLayerNormGrad, Ssl3dGeluGrad, Ssl3dSplitHeads/);
    expect(reason({ 'ssl3d_ops.node': 'x', 'ssl3d_ops.json': manifest(10) })).toMatch(/no .*libtensorflow_framework\.so\.2/);
  });
});

const native = availableBackends().includes('native');

describe.runIf(native)('fused LayerNorm and GELU on the native backend', () => {
  let loaded = false;
  beforeAll(async () => {
    require('@tensorflow/tfjs-node');
    registerNativeKernels('tensorflow'); // as src/backend/select.ts starts it
    expect(await tf.setBackend('tensorflow')).toBe(true);
    const s = loadNativeOps('tensorflow');
    loaded = s.loaded;
    if (!s.loaded && process.env.SSL3D_REQUIRE_NATIVE_OPS === '1') throw new Error(`SSL3D_REQUIRE_NATIVE_OPS=1 but: ${s.reason} (dir ${nativeOpsDir('tensorflow')})`);
  });

  /** f's value and gradients with the fused kernels, then with them unregistered (the op-by-op forms). */
  const bothWays = (f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[]) => {
    const run = () => tf.tidy(() => [f(...xs), ...tf.grads(f)(xs)].map((t) => t.dataSync().slice()));
    const fused = run();
    const saved = [NATIVE_LAYER_NORM, NATIVE_GELU].map((k) => tf.getKernel(k, 'tensorflow')!);
    saved.forEach((k) => tf.unregisterKernel(k.kernelName, 'tensorflow'));
    try {
      return { fused, plain: run() };
    } finally {
      saved.forEach((k) => tf.registerKernel(k));
    }
  };
  const relDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let m = 0, s = 1;
    for (let i = 0; i < a.length; i++) (m = Math.max(m, Math.abs(a[i] - b[i]))), (s = Math.max(s, Math.abs(b[i])));
    return m / s;
  };

  it('agree with the op-by-op forms: value and gradients of x, weight and bias, for odd shapes', () => {
    if (!loaded) return;
    expect(tf.getKernel(NATIVE_LAYER_NORM, 'tensorflow')).toBeDefined();
    // rows not a multiple of the gradient's row blocks, a 1-D input, D = 1, a big D
    for (const shape of [[2, 7, 96], [1, 1, 768], [5], [33, 1], [3, 3, 5, 4], [130, 40]]) {
      const D = shape[shape.length - 1];
      const x = tf.randomNormal(shape, 0.3, 2, 'float32', 11);
      const w = tf.randomNormal([D], 1, 0.5, 'float32', 12);
      const b = tf.randomNormal([D], 0, 1, 'float32', 13);
      const dy = tf.randomNormal(shape, 0, 1, 'float32', 14);
      const f = (t: tf.Tensor, u: tf.Tensor, v: tf.Tensor) => tf.sum(tf.mul(ops.gelu(ops.layerNorm(t, u as tf.Tensor1D, v as tf.Tensor1D)), dy));
      const { fused, plain } = bothWays(f, [x, w, b]);
      for (let i = 0; i < fused.length; i++) expect(relDiff(fused[i], plain[i]), `shape [${shape}] output ${i}`).toBeLessThan(D === 1 ? 1e-4 : 2e-5);
      tf.dispose([x, w, b, dy]);
    }
  });

  it('softmax and GELU(x + b) in one op each way agree with the op-by-op forms', () => {
    if (!loaded) return;
    for (const shape of [[2, 7, 96], [5], [33, 1], [3, 4, 216], [130, 40]]) {
      const D = shape[shape.length - 1];
      const x = tf.randomNormal(shape, 0.2, 3, 'float32', 41);
      const b = tf.randomNormal([D], 0, 1, 'float32', 42);
      const dy = tf.randomNormal(shape, 0, 1, 'float32', 43);
      const f = (t: tf.Tensor, u: tf.Tensor) => tf.sum(tf.mul(ops.softmax(ops.biasGelu(t, u as tf.Tensor1D)), dy));
      const run = () => tf.tidy(() => [f(x, b), ...tf.grads(f)([x, b])].map((t) => t.dataSync().slice()));
      const fused = run();
      const saved = ['Ssl3dSoftmax', 'Ssl3dBiasGelu'].map((k) => tf.getKernel(k, 'tensorflow')!);
      saved.forEach((k) => tf.unregisterKernel(k.kernelName, 'tensorflow'));
      const plain = run();
      saved.forEach((k) => tf.registerKernel(k));
      for (let i = 0; i < fused.length; i++) expect(relDiff(fused[i], plain[i]), `shape [${shape}] output ${i}`).toBeLessThan(2e-5);
      tf.dispose([x, b, dy]);
    }
    expect(() => ops.biasGelu(tf.zeros([3, 4]), tf.zeros([5]) as tf.Tensor1D)).toThrow(/Ssl3dBiasGelu: b must be \[D\] for x \[.., D\]/);
  });

  it('instance norm: the whole batch in one op agrees with per-sample FusedBatchNormV3 and the op-by-op form', () => {
    if (!loaded) return;
    for (const shape of [[2, 9, 10, 11, 16], [1, 3, 4, 5, 2], [3, 40, 41, 3, 1], [2, 2, 2, 2, 130]] as Array<[number, number, number, number, number]>) {
      const x = tf.randomNormal(shape, 2, 3, 'float32', 31) as tf.Tensor5D;
      const dy = tf.randomNormal(shape, 0, 1, 'float32', 32);
      const f = (t: tf.Tensor) => tf.sum(tf.mul(ops.instanceNorm(t as tf.Tensor5D), dy));
      const run = () => tf.tidy(() => [ops.instanceNorm(x), tf.grad(f)(x)].map((t) => t.dataSync().slice()));
      const ours = run();
      const saved = tf.getKernel(NATIVE_INSTANCE_NORM, 'tensorflow')!;
      tf.unregisterKernel(NATIVE_INSTANCE_NORM, 'tensorflow');
      const fbn = run(); // FusedBatchNormV3 per sample (family norm)
      const fbnKernel = tf.getKernel('Ssl3dFusedNorm', 'tensorflow')!;
      tf.unregisterKernel('Ssl3dFusedNorm', 'tensorflow');
      const plain = run(); // TF.js ops
      tf.registerKernel(fbnKernel);
      tf.registerKernel(saved);
      for (let i = 0; i < 2; i++) {
        expect(relDiff(ours[i], fbn[i]), `[${shape}] ${i ? 'dx' : 'y'} vs FusedBatchNormV3`).toBeLessThan(1e-5);
        expect(relDiff(ours[i], plain[i]), `[${shape}] ${i ? 'dx' : 'y'} vs op by op`).toBeLessThan(1e-5);
      }
      tf.dispose([x, dy]);
    }
  });

  it('gives bit-identical results when run again, and leaks no tensors', () => {
    if (!loaded) return;
    const x = tf.randomNormal([300, 96], 0, 1, 'float32', 21);
    const w = tf.ones([96]);
    const b = tf.zeros([96]);
    const step = () => tf.tidy(() => tf.grads((t: tf.Tensor, u: tf.Tensor, v: tf.Tensor) => tf.sum(tf.square(ops.gelu(ops.layerNorm(t, u as tf.Tensor1D, v as tf.Tensor1D)))))([x, w, b]).map((g) => g.dataSync().slice()));
    const first = step();
    const before = tf.memory().numTensors;
    const second = step();
    expect(tf.memory().numTensors).toBe(before);
    second.forEach((g, i) => expect(Array.from(g)).toEqual(Array.from(first[i])));
    tf.dispose([x, w, b]);
  });

  it('fails with the op and the shapes when the inputs do not fit', () => {
    if (!loaded) return;
    const x = tf.zeros([4, 8]);
    expect(() => tf.engine().runKernel(NATIVE_LAYER_NORM, { x, gamma: tf.zeros([7]), beta: tf.zeros([7]) }, { epsilon: 1e-5 })).toThrow(/Ssl3dLayerNorm: gamma must be \[8\]/);
    expect(() =>
      tf.engine().runKernel(NATIVE_LAYER_NORM_GRAD, { dy: tf.zeros([4, 8]), x, mean: tf.zeros([3]), rstd: tf.zeros([4]), gamma: tf.zeros([8]) }),
    ).toThrow(/mean and rstd must hold one value per row \(4\)/);
  });
});
