/**
 * The op layer against PyTorch (fixtures: scripts/reference/make_op_fixtures.py), forward and every gradient, on
 * every backend available here (cpu and wasm always; native when @tensorflow/tfjs-node is installed).
 *
 * Tolerances are on max |ours − torch| divided by max(1, max |torch|) (float32 against a float64 reference):
 *   elementwise ops (GELU, LeakyReLU, softmax)       1e-6
 *   reductions/normalisations/matmuls                 1e-5
 *   convolutions (sums of up to 27·Cin·k³ products)   1e-4
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerNativeKernels } from '../../src/backend/native_kernels';
import { registerWasmKernels } from '../../src/backend/wasm_kernels';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableBackends } from '../../src/backend/select';
import { decodeSafetensors } from '../../src/io/checkpoint/safetensors';
import { fromTorch, toTorch, type TorchKind } from '../../src/io/checkpoint/layout';
import * as ops from '../../src/nn/ops';
import { customOp } from '../../src/nn/ops/custom';
import { filterGrad3x3x3, webgpuFilterGrad } from '../../src/nn/ops/conv3d';
import { det, sampleIndices } from '../helpers/det';
import { FIXTURES } from '../helpers/paths';

// the wasm backend as the library starts it (src/backend/select.ts): with ssl3d's data-movement kernels
registerWasmKernels();

interface Spec {
  shape: number[];
  seed: number;
  scale?: number;
  offset?: number;
}
interface Case {
  name: string;
  inputs: Record<string, Spec>;
  dy: Spec;
  args: Record<string, unknown>;
  stats: Record<string, { sum: number; abs_sum: number; shape: number[] }>;
}
const DIR = path.join(FIXTURES, 'ops');
const index: { cases: Case[]; samples: number } = JSON.parse(readFileSync(path.join(DIR, 'index.json'), 'utf8'));

type Fn = (...xs: tf.Tensor[]) => tf.Tensor;
/** For each case: the layout of each input and of the output, and the op in ssl3d layouts. */
const OPS: Record<string, { kinds: TorchKind[]; out: TorchKind; tol: number; fn: Fn }> = {
  linear: { kinds: ['plain', 'linear', 'plain'], out: 'plain', tol: 1e-5, fn: (x, w, b) => ops.linear(x, w as tf.Tensor2D, b as tf.Tensor1D) },
  bmm: { kinds: ['plain', 'plain'], out: 'plain', tol: 1e-5, fn: (a, b) => ops.bmm(a as tf.Tensor3D, b as tf.Tensor3D) },
  attention: {
    kinds: ['plain', 'plain', 'plain'],
    out: 'plain',
    tol: 1e-5,
    fn: (q, k, v) =>
      ops.bmm(ops.softmax(tf.mul(ops.bmm(q as tf.Tensor3D, tf.transpose(k, [0, 2, 1]) as tf.Tensor3D), 0.125)) as tf.Tensor3D, v as tf.Tensor3D),
  },
  softmax: { kinds: ['plain'], out: 'plain', tol: 1e-6, fn: (x) => ops.softmax(x) },
  layernorm: { kinds: ['plain', 'plain', 'plain'], out: 'plain', tol: 1e-5, fn: (x, w, b) => ops.layerNorm(x, w as tf.Tensor1D, b as tf.Tensor1D) },
  gelu: { kinds: ['plain'], out: 'plain', tol: 1e-6, fn: (x) => ops.gelu(x) },
  leaky_relu: { kinds: ['plain'], out: 'plain', tol: 1e-6, fn: (x) => ops.leakyRelu(x) },
  instance_norm: { kinds: ['activation'], out: 'activation', tol: 1e-5, fn: (x) => ops.instanceNorm(x as tf.Tensor5D) },
  conv1: { kinds: ['activation', 'conv'], out: 'activation', tol: 1e-4, fn: (x, w) => ops.conv3d(x as tf.Tensor5D, w as tf.Tensor5D) },
  conv3: { kinds: ['activation', 'conv'], out: 'activation', tol: 1e-4, fn: (x, w) => ops.conv3d(x as tf.Tensor5D, w as tf.Tensor5D, undefined, { padding: 'same' }) },
  conv3_bias: {
    kinds: ['activation', 'conv', 'plain'],
    out: 'activation',
    tol: 1e-4,
    fn: (x, w, b) => ops.conv3d(x as tf.Tensor5D, w as tf.Tensor5D, b as tf.Tensor1D, { padding: 'same' }),
  },
  patch_embed: {
    kinds: ['activation', 'conv', 'plain'],
    out: 'activation',
    tol: 1e-4,
    fn: (x, w, b) => ops.conv3d(x as tf.Tensor5D, w as tf.Tensor5D, b as tf.Tensor1D, { stride: 16 }),
  },
  conv_transpose2: { kinds: ['activation', 'conv_transpose'], out: 'activation', tol: 1e-4, fn: (x, w) => ops.convTranspose3d(x as tf.Tensor5D, w as tf.Tensor5D) },
  conv_transpose4: {
    kinds: ['activation', 'conv_transpose', 'plain'],
    out: 'activation',
    tol: 1e-4,
    fn: (x, w, b) => ops.convTranspose3d(x as tf.Tensor5D, w as tf.Tensor5D, b as tf.Tensor1D),
  },
  concat: { kinds: ['activation', 'activation'], out: 'activation', tol: 1e-6, fn: (a, b) => ops.concatChannels([a as tf.Tensor5D, b as tf.Tensor5D]) },
  conv3_96: { kinds: ['activation', 'conv'], out: 'activation', tol: 1e-4, fn: (x, w) => ops.conv3d(x as tf.Tensor5D, w as tf.Tensor5D, undefined, { padding: 'same' }) },
};

function detTensor(s: Spec): tf.Tensor {
  const d = det(s.shape, s.seed, s.scale ?? 1);
  if (s.offset) for (let i = 0; i < d.length; i++) d[i] = d[i] + s.offset;
  return tf.tensor(d, s.shape);
}

function relErr(ours: Float32Array | ArrayLike<number>, ref: Float32Array | ArrayLike<number>): number {
  let m = 0,
    scale = 1;
  for (let i = 0; i < ref.length; i++) {
    m = Math.max(m, Math.abs(ours[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return m / scale;
}

/** Run one case: forward and all input gradients, returned in PyTorch layouts. */
function runCase(c: Case): Record<string, tf.Tensor> {
  const op = OPS[c.name];
  return tf.tidy(() => {
    const inputsTorch = Object.values(c.inputs).map(detTensor);
    const inputs = inputsTorch.map((t, i) => fromTorch(t, op.kinds[i]));
    const dy = fromTorch(detTensor(c.dy), op.out);
    const y = op.fn(...inputs);
    const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(op.fn(...xs), dy)))(inputs);
    const out: Record<string, tf.Tensor> = { y: toTorch(y, op.out) };
    Object.keys(c.inputs).forEach((k, i) => (out[`d${k}`] = toTorch(grads[i], op.kinds[i])));
    return out;
  });
}

const backends = ['cpu', 'wasm', ...(availableBackends().includes('native') ? ['tensorflow'] : [])];

for (const backend of backends) {
  describe(`op layer vs PyTorch on ${backend}`, () => {
    let previous = '';
    beforeAll(async () => {
      previous = tf.getBackend();
      if (backend === 'tensorflow') {
        require('@tensorflow/tfjs-node');
        registerNativeKernels('tensorflow'); // as src/backend/select.ts starts it
      }
      expect(await tf.setBackend(backend)).toBe(true);
    });
    afterAll(async () => {
      if (previous) await tf.setBackend(previous);
    });

    for (const c of index.cases) {
      const large = Boolean(c.args.large);
      it(`${c.name} ${Object.entries(c.inputs).map(([k, s]) => `${k}=[${s.shape}]`).join(' ')} (tol ${OPS[c.name].tol})`, () => {
        const ref = decodeSafetensors(readFileSync(path.join(DIR, `${c.name}.safetensors`))).tensors;
        const before = tf.memory().numTensors;
        const got = runCase(c);
        for (const [key, t] of Object.entries(got)) {
          const ours = t.dataSync();
          if (ref.has(key)) {
            const r = ref.get(key)!;
            expect(t.shape, `${c.name}.${key} shape`).toEqual(r.shape);
            expect(relErr(ours, r.data), `${c.name}.${key}`).toBeLessThanOrEqual(OPS[c.name].tol);
          } else {
            const r = ref.get(`${key}_samples`)!;
            expect(r, `${c.name}: no reference for ${key}`).toBeDefined();
            const idx = sampleIndices(ours.length, index.samples, 7);
            expect(relErr(idx.map((i) => ours[i]), r.data), `${c.name}.${key} (samples)`).toBeLessThanOrEqual(OPS[c.name].tol);
            const st = c.stats[key];
            let sum = 0;
            for (let i = 0; i < ours.length; i++) sum += ours[i];
            expect(Math.abs(sum - st.sum) / Math.max(1, st.abs_sum), `${c.name}.${key} sum`).toBeLessThan(1e-5);
          }
        }
        Object.values(got).forEach((t) => t.dispose());
        expect(tf.memory().numTensors, 'tensors leaked').toBe(before);
      }, large ? 600_000 : 60_000);
    }
  });
}

describe('stock TF.js kernels that the op layer replaces', () => {
  it('wasm Conv3DBackpropInputV2 is wrong (this is why conv3d has its own gradient)', async () => {
    await tf.setBackend('wasm');
    const c = index.cases.find((x) => x.name === 'conv3')!;
    const ref = decodeSafetensors(readFileSync(path.join(DIR, 'conv3.safetensors'))).tensors.get('dx')!;
    const err = tf.tidy(() => {
      const x = fromTorch(detTensor(c.inputs.x), 'activation') as tf.Tensor5D;
      const w = fromTorch(detTensor(c.inputs.w), 'conv') as tf.Tensor5D;
      const dy = fromTorch(detTensor(c.dy), 'activation');
      const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.conv3d(a as tf.Tensor5D, w, 1, 'same'), dy)))(x);
      return relErr(toTorch(dx, 'activation').dataSync(), ref.data);
    });
    // If this starts failing, TF.js fixed the kernel and the workaround could be dropped.
    expect(err).toBeGreaterThan(1e-2);
  });
});

describe('memory bounding', () => {
  it('3³ convolution split into X-slabs (forward and both gradients) equals the unsplit result', async () => {
    await tf.setBackend('cpu');
    const c = index.cases.find((x) => x.name === 'conv3')!;
    const full = runCase(c);
    ops.setMaxChunkElements(300); // forces one X-plane per slab at this size
    try {
      const split = runCase(c);
      for (const k of Object.keys(full)) expect(relErr(split[k].dataSync(), full[k].dataSync()), k).toBeLessThan(1e-6);
      Object.values(split).forEach((t) => t.dispose());
    } finally {
      ops.setMaxChunkElements(2 ** 25);
      Object.values(full).forEach((t) => t.dispose());
    }
  });
});

describe('3³ filter gradients for GPUs (webgpu: SSL3D_WEBGPU_CONV_DW)', () => {
  it('batched (any chunk, padded last chunk) and split-K equal PyTorch, also split into X-slabs', async () => {
    await tf.setBackend('cpu');
    const c = index.cases.find((x) => x.name === 'conv3')!;
    const ref = decodeSafetensors(readFileSync(path.join(DIR, 'conv3.safetensors'))).tensors.get('dw')!;
    const x = fromTorch(detTensor(c.inputs.x), 'activation') as tf.Tensor5D;
    const dy = fromTorch(detTensor(c.dy), 'activation') as tf.Tensor5D;
    const variants: Array<[string, () => tf.Tensor]> = [
      ['splitk', () => filterGrad3x3x3.splitk(x, dy)],
      ['batched 2048', () => filterGrad3x3x3.batched(x, dy)],
      ['batched 7', () => filterGrad3x3x3.batched(x, dy, 7)],
    ];
    for (const slabs of [false, true]) {
      if (slabs) ops.setMaxChunkElements(300);
      try {
        for (const [name, f] of variants) {
          const before = tf.memory().numTensors;
          const err = tf.tidy(() => relErr(toTorch(f(), 'conv').dataSync(), ref.data));
          expect(err, `${name}${slabs ? ' slabs' : ''}`).toBeLessThanOrEqual(1e-5);
          expect(tf.memory().numTensors, `${name} leaked`).toBe(before);
        }
      } finally {
        ops.setMaxChunkElements(2 ** 25);
      }
    }
    x.dispose();
    dy.dispose();
  });
  it('the choice is read from SSL3D_WEBGPU_CONV_DW (default batched) and checked', () => {
    expect(webgpuFilterGrad({})).toBe('batched');
    expect(webgpuFilterGrad({ SSL3D_WEBGPU_CONV_DW: 'SplitK' })).toBe('splitk');
    expect(webgpuFilterGrad({ SSL3D_WEBGPU_CONV_DW: 'stock' })).toBe('stock');
    expect(() => webgpuFilterGrad({ SSL3D_WEBGPU_CONV_DW: 'fast' })).toThrow(/SSL3D_WEBGPU_CONV_DW=fast/);
  });
});

describe('add, reshape and concatChannels: gradients that keep no input alive', () => {
  beforeAll(async () => {
    expect(await tf.setBackend('cpu')).toBe(true);
  });
  /** tensors the tape saved for the backward pass while running f under a gradient */
  const savedBy = (f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor): number => {
    let saved = -1;
    tf.grad((t: tf.Tensor) => {
      const y = f(t);
      const tape = (tf.engine() as unknown as { state: { activeTape: Array<{ saved?: tf.Tensor[] }> } }).state.activeTape;
      saved = tape.reduce((n, node) => n + (node.saved?.length ?? 0), 0);
      return tf.sum(y);
    })(x);
    return saved;
  };
  it('equal TF.js values and gradients (with broadcasting), and save nothing', () => {
    const a = tf.randomNormal([2, 3, 4, 5, 6], 0, 1, 'float32', 1);
    const bs = [tf.randomNormal([2, 3, 4, 5, 6], 0, 1, 'float32', 2), tf.randomNormal([6], 0, 1, 'float32', 3), tf.randomNormal([1, 3, 1, 5, 1], 0, 1, 'float32', 4)];
    const dy = tf.randomNormal([2, 3, 4, 5, 6], 0, 1, 'float32', 5);
    const close = (x: tf.Tensor, y: tf.Tensor) => {
      expect(x.shape).toEqual(y.shape);
      expect(tf.max(tf.abs(tf.sub(x, y))).dataSync()[0]).toBeLessThan(1e-5);
    };
    for (const b of bs) {
      close(ops.add(a, b), tf.add(a, b));
      const ours = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(ops.add(x, y), dy)))([a, b]);
      const ref = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.add(x, y), dy)))([a, b]);
      close(ours[0], ref[0]);
      close(ours[1], ref[1]);
    }
    close(ops.reshape(a, [6, -1]), tf.reshape(a, [6, 120]));
    close(tf.grad((x: tf.Tensor) => tf.sum(tf.mul(ops.reshape(x, [6, 120]), tf.reshape(dy, [6, 120]))))(a), dy);
    const c = tf.randomNormal([2, 3, 4, 5, 2], 0, 1, 'float32', 6) as tf.Tensor5D;
    const a5 = a as tf.Tensor5D;
    const dyc = tf.randomNormal([2, 3, 4, 5, 8], 0, 1, 'float32', 7);
    close(ops.concatChannels([a5, c]), tf.concat([a5, c], 4));
    const [ga, gc] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(ops.concatChannels([x as tf.Tensor5D, y as tf.Tensor5D]), dyc)))([a5, c]);
    close(ga, tf.slice(dyc, [0, 0, 0, 0, 0], [2, 3, 4, 5, 6]));
    close(gc, tf.slice(dyc, [0, 0, 0, 0, 6], [2, 3, 4, 5, 2]));
    // what the tape keeps for the backward pass: TF.js's ops save their inputs (for the shapes), these nothing
    expect(savedBy((x) => tf.add(x, bs[0]), a)).toBeGreaterThan(0);
    expect(savedBy((x) => ops.add(x, bs[0]), a)).toBe(0);
    expect(savedBy((x) => tf.reshape(x, [6, 120]), a)).toBeGreaterThan(0);
    expect(savedBy((x) => ops.reshape(x, [6, 120]), a)).toBe(0);
    expect(savedBy((x) => tf.concat([x, c], 4), a)).toBeGreaterThan(0);
    expect(savedBy((x) => ops.concatChannels([x as tf.Tensor5D, c]), a)).toBe(0);
  });
});

describe('customOp frees a node’s saved tensors and dy right after its gradient', () => {
  beforeAll(async () => {
    expect(await tf.setBackend('cpu')).toBe(true);
  });
  it('first-order: freed before the next node runs; values unchanged; a caller-supplied dy survives; higher order still works', () => {
    let keptBy3: tf.Tensor[] = [];
    let dyOf3: tf.Tensor | null = null;
    let seenIn2: boolean[] = [];
    const f3 = customOp(([x], save) => {
      save([x]);
      return {
        value: tf.mul(x, x),
        gradFunc: (dy, [sx]) => {
          keptBy3 = [sx];
          dyOf3 = dy;
          return tf.mul(dy, tf.mul(sx, 2));
        },
      };
    });
    const f2 = customOp(([x], save) => {
      save([x]);
      return {
        value: tf.exp(x),
        gradFunc: (dy, [sx]) => {
          seenIn2 = [...keptBy3.map((t) => t.isDisposed), dyOf3 ? dyOf3.isDisposed : false];
          return tf.mul(dy, tf.exp(sx));
        },
      };
    });
    const x = tf.tensor([0.1, -0.3, 0.7]);
    const before = tf.memory().numTensors;
    const g = tf.grad((t: tf.Tensor) => tf.sum(f3(f2(t))))(x);
    // d/dx exp(x)² = 2·exp(2x)
    Array.from(g.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(2 * Math.exp(2 * [0.1, -0.3, 0.7][i]), 5));
    expect(seenIn2).toEqual([true, true]);
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // a dy passed by the caller is not the backward pass's to free
    const dy = tf.tensor([1, 2, 3]);
    const g2 = tf.grad((t: tf.Tensor) => f3(t))(x, dy);
    expect(dy.isDisposed).toBe(false);
    expect(Array.from(g2.dataSync()).map((v) => +v.toFixed(5))).toEqual([0.2, -1.2, 4.2]);
    // second derivative through customOps (nothing is freed while a gradient is being recorded): d²/dx² x² = 2
    const gg = tf.grad((t: tf.Tensor) => tf.sum(tf.grad((u: tf.Tensor) => tf.sum(f3(u)))(t)))(x);
    expect(Array.from(gg.dataSync())).toEqual([2, 2, 2]);
    tf.dispose([dy, g2, gg, x]);
  });
});
