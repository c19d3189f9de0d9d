/**
 * The wasm data-movement kernels (src/backend/wasm_kernels.ts) give exactly what TF.js's cpu backend gives, on
 * random shapes of rank 1–6, every axis, float32/int32/bool, empty pieces; and the strided copy merges dimensions.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simplifyBox, stridedCopy } from '../../src/backend/strided_copy';
import { registerWasmKernels, unregisterWasmKernels, WASM_KERNEL_NAMES } from '../../src/backend/wasm_kernels';
import { lowbias32 } from '../helpers/det';

let previous = '';
beforeAll(async () => {
  previous = tf.getBackend();
  registerWasmKernels();
  expect(await tf.setBackend('wasm')).toBe(true);
});
afterAll(async () => {
  if (previous) await tf.setBackend(previous);
});

/** Small deterministic PRNG for the case generator. */
function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = lowbias32(s + 0x9e3779b9);
    return s % n;
  };
}

type Dtype = 'float32' | 'int32' | 'bool';
function values(n: number, dtype: Dtype, seed: number): Float32Array | Int32Array | Uint8Array {
  if (dtype === 'float32') return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7 + seed) * 100);
  if (dtype === 'int32') return Int32Array.from({ length: n }, (_, i) => (i * 7919 + seed) % 1000003);
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) % 3 === 0 ? 1 : 0);
}

/** Runs `f` on wasm and on cpu with the same inputs; the outputs must be identical (shape, dtype, every element). */
async function same(shapes: number[][], dtype: Dtype, seed: number, f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[]): Promise<void> {
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    return tf.tidy(() => {
      const xs = shapes.map((s, i) => tf.tensor(values(s.reduce((a, b) => a * b, 1), dtype, seed + i), s, dtype));
      const r = f(...xs);
      return (Array.isArray(r) ? r : [r]).map((t) => ({ shape: t.shape, dtype: t.dtype, data: Array.from(t.dataSync() as ArrayLike<number>) }));
    });
  };
  const cpu = await run('cpu');
  const wasm = await run('wasm');
  expect(wasm, `${f} on [${shapes.map((s) => `[${s}]`)}] ${dtype}`).toEqual(cpu);
}

function randomShape(r: (n: number) => number, rank: number, max = 5): number[] {
  return Array.from({ length: rank }, () => 1 + r(max));
}

describe('wasm data-movement kernels vs the cpu backend', () => {
  it('slice: random boxes of rank 1–6', async () => {
    const r = rng(1);
    for (let c = 0; c < 40; c++) {
      const rank = 1 + (c % 6);
      const shape = randomShape(r, rank);
      const begin = shape.map((n) => r(n));
      const size = shape.map((n, i) => (r(4) === 0 ? -1 : 1 + r(n - begin[i])));
      const dtype = (['float32', 'int32', 'bool'] as Dtype[])[c % 3];
      await same([shape], dtype, c, (x) => tf.slice(x, begin, size));
    }
  });

  it('split (equal and uneven), unpack along every axis incl. negative', async () => {
    const r = rng(2);
    for (let c = 0; c < 24; c++) {
      const rank = 1 + (c % 6);
      const shape = randomShape(r, rank, 6);
      const axis = r(rank);
      const n = shape[axis];
      const sizes = n === 1 ? [1] : [1 + r(n - 1)];
      if (n > 1) sizes.push(n - sizes[0]);
      await same([shape], c % 2 ? 'float32' : 'int32', c, (x) => tf.split(x, sizes, axis - (c % 3 === 0 ? rank : 0)));
      await same([shape], 'float32', c, (x) => tf.unstack(x, axis));
    }
    await same([[4, 6, 2]], 'float32', 9, (x) => tf.split(x, 3, 1));
    await same([[4, 0, 2]], 'float32', 9, (x) => tf.split(x, [0, 0], 1));
  });

  it('concat and stack along every axis, 2–4 inputs, empty pieces', async () => {
    const r = rng(3);
    for (let c = 0; c < 24; c++) {
      const rank = 1 + (c % 6);
      const base = randomShape(r, rank);
      const axis = r(rank);
      const k = 2 + r(3);
      const shapes = Array.from({ length: k }, () => base.map((n, i) => (i === axis ? r(4) : n)));
      const dtype = (['float32', 'int32', 'bool'] as Dtype[])[c % 3];
      await same(shapes, dtype, c, (...xs) => tf.concat(xs, axis));
      const stackAxis = r(rank + 1);
      await same(Array.from({ length: k }, () => base), dtype, c, (...xs) => tf.stack(xs, stackAxis));
    }
    await same([[3, 1], [3, 2]], 'float32', 1, (a, b) => tf.concat([a, b], -1));
  });

  it('transpose: every permutation up to rank 4, random ones up to rank 6', async () => {
    const perms = (n: number): number[][] => (n === 1 ? [[0]] : perms(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)])));
    const r = rng(4);
    for (let rank = 2; rank <= 4; rank++)
      for (const perm of perms(rank)) await same([randomShape(r, rank)], 'float32', rank, (x) => tf.transpose(x, perm));
    for (let c = 0; c < 20; c++) {
      const rank = 5 + (c % 2);
      const perm = perms(rank)[r(rank === 5 ? 120 : 720)];
      await same([randomShape(r, rank)], (['float32', 'int32', 'bool'] as Dtype[])[c % 3], c, (x) => tf.transpose(x, perm));
    }
  });

  it('gradients through concat/split/transpose match cpu', async () => {
    await same([[2, 3, 4, 3, 5], [2, 3, 4, 3, 2]], 'float32', 5, (a, b) =>
      tf.grads((u: tf.Tensor, v: tf.Tensor) => tf.sum(tf.mul(tf.transpose(tf.concat([u, v], 4), [0, 4, 2, 3, 1]), tf.range(0, 3).reshape([1, 1, 1, 1, 3]))))([a, b]),
    );
  });

  it('the original kernels come back and agree', async () => {
    const ours = WASM_KERNEL_NAMES.map((n) => tf.getKernel(n, 'wasm').kernelFunc);
    unregisterWasmKernels();
    try {
      WASM_KERNEL_NAMES.forEach((n, i) => expect(tf.getKernel(n, 'wasm').kernelFunc).not.toBe(ours[i]));
      await same([[2, 3, 4, 5, 6]], 'float32', 7, (x) => [tf.slice(x, [0, 1, 0, 2, 1], [2, 2, 4, 2, 3]), tf.transpose(x, [4, 2, 0, 3, 1])]);
    } finally {
      registerWasmKernels();
    }
    WASM_KERNEL_NAMES.forEach((n, i) => expect(tf.getKernel(n, 'wasm').kernelFunc).toBe(ours[i]));
  });
});

describe('strided copy', () => {
  it('merges contiguous dims and drops size-1 dims', () => {
    // channel slice 16 of 48 of [2, 4, 4, 4, 48] → 128 rows of 16
    expect(simplifyBox([2, 4, 4, 4, 1, 16], [3072, 768, 192, 48, 48, 1], [1024, 256, 64, 16, 16, 1])).toEqual([[128, 16], [48, 1], [16, 1]]);
    const src = Float32Array.from({ length: 24 }, (_, i) => i);
    const dst = new Float32Array(6);
    stridedCopy(src, 1, [12, 4, 1], dst, 0, [3, 3, 1], [2, 1, 3]); // [2,3,4][:, 0:1, 1:4]
    expect(Array.from(dst)).toEqual([1, 2, 3, 13, 14, 15]);
  });
});
