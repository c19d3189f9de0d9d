/**
 * Sliding-window inference against MONAI 1.6.1 (fixtures: scripts/reference/make_sliding_window_fixtures.py):
 * window starts exactly, importance maps to 1e-6, blended outputs to 1e-5 relative to max|ref|, on the default
 * TF.js backend; no tensors leaked; progress counts windows.
 */
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeSafetensors } from '../../src/io/checkpoint/safetensors';
import {
  SlidingWindowInferer,
  importanceMap,
  planWindows,
  slidingWindowInference,
  windowStarts,
  type BlendMode,
  type Predictor,
  type Triple,
} from '../../src/inference';
import { det } from '../helpers/det';
import { FIXTURES } from '../helpers/paths';

interface Case {
  name: string;
  C: number;
  K: number;
  size: Triple;
  roi: Triple;
  bs: number;
  overlap: number;
  mode: BlendMode;
  seed: number;
  A: number[][];
  b: number[];
  cz: number[];
  cx: number[];
  windows: number;
  batches: number[];
  axis_starts: [number[], number[], number[]];
}
const DIR = path.join(FIXTURES, 'inference');
const index: { cases: Record<string, Case>; starts: { size: number; roi: number; overlap: number; starts: number[] }[] } =
  JSON.parse(readFileSync(path.join(DIR, 'index.json'), 'utf8'));
const ref = (name: string) => decodeSafetensors(readFileSync(path.join(DIR, `${name}.safetensors`))).tensors;

/** logits_k = Σ_c A[k,c]·x_c + b_k + cz_k·(window-local z) + cx_k·(window-local x), NDHWC in and out. */
function linearPredictor(c: Case, calls?: number[]): Predictor {
  return (batch) => {
    calls?.push(batch.shape[0]);
    return tf.tidy(() => {
      const [n, rx, ry, rz, C] = batch.shape;
      const At = tf.tensor2d(c.A).transpose(); // [C, K]
      let y = tf.matMul(batch.reshape([n * rx * ry * rz, C]), At).reshape([n, rx, ry, rz, c.K]);
      y = y.add(tf.tensor1d(c.b));
      const zl = tf.range(0, rz, 1, 'float32').reshape([1, 1, 1, rz, 1]);
      const xl = tf.range(0, rx, 1, 'float32').reshape([1, rx, 1, 1, 1]);
      y = y.add(zl.mul(tf.tensor1d(c.cz))).add(xl.mul(tf.tensor1d(c.cx)));
      return y as tf.Tensor5D;
    });
  };
}

function maxRel(ours: ArrayLike<number>, r: ArrayLike<number>): number {
  expect(ours.length).toBe(r.length);
  let m = 0;
  let e = 0;
  for (let i = 0; i < r.length; i++) {
    m = Math.max(m, Math.abs(r[i]));
    e = Math.max(e, Math.abs(ours[i] - r[i]));
  }
  return e / m;
}

describe('windowStarts', () => {
  it('spec examples', () => {
    expect(windowStarts(250, 96, 0.25)).toEqual([0, 72, 144, 154]);
    expect(windowStarts(180, 96, 0.25)).toEqual([0, 72, 84]);
    expect(windowStarts(90, 96, 0.25)).toEqual([0]);
  });
  it.each(index.starts)('matches MONAI: size $size roi $roi overlap $overlap', (s) => {
    expect(windowStarts(s.size, s.roi, s.overlap)).toEqual(s.starts);
  });
  it('rejects bad overlap', () => {
    expect(() => windowStarts(100, 10, 1)).toThrow(RangeError);
    expect(() => windowStarts(100, 10, -0.1)).toThrow(RangeError);
  });
});

describe('importanceMap', () => {
  it.each(Object.values(index.cases))('$name ($mode, roi $roi) matches compute_importance_map to 1e-6', (c) => {
    const r = ref(c.name).get('importance')!;
    expect(r.shape).toEqual(c.roi);
    const ours = importanceMap(c.roi, c.mode, 0.125);
    expect(ours.length).toBe(r.data.length);
    let e = 0;
    for (let i = 0; i < ours.length; i++) e = Math.max(e, Math.abs(ours[i] - r.data[i]));
    expect(e).toBeLessThanOrEqual(1e-6);
  });
  it('gaussian is clamped at 1e-3 and not max-normalised for even sizes', () => {
    const m = importanceMap([16, 16, 16], 'gaussian', 0.125);
    expect(Math.min(...m)).toBeCloseTo(1e-3, 9);
    expect(Math.max(...m)).toBeLessThan(1);
    expect(Math.max(...importanceMap([15, 15, 15], 'gaussian'))).toBe(1);
  });
});

describe('slidingWindowInference vs MONAI', () => {
  it.each(Object.values(index.cases))('$name: size $size roi $roi bs $bs overlap $overlap $mode', async (c) => {
    const plan = planWindows(c.size, c.roi, c.overlap);
    expect(plan.axisStarts).toEqual(c.axis_starts);
    expect(plan.windows.length).toBe(c.windows);
    const input = { data: det([c.C, ...c.size], c.seed), shape: [c.C, ...c.size] as [number, number, number, number] };
    const calls: number[] = [];
    const progress: [number, number][] = [];
    const before = tf.memory().numTensors;
    const out = await slidingWindowInference(input, c.roi, c.bs, linearPredictor(c, calls), {
      overlap: c.overlap,
      mode: c.mode,
      onProgress: (d, t) => progress.push([d, t]),
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(out.shape).toEqual([c.K, ...c.size]);
    expect(calls).toEqual(c.batches);
    expect(progress.length).toBe(c.batches.length);
    expect(progress[progress.length - 1]).toEqual([c.windows, c.windows]);
    let done = 0;
    progress.forEach(([d, t], i) => {
      done += c.batches[i];
      expect([d, t]).toEqual([done, c.windows]);
    });
    const r = ref(c.name).get('out')!;
    expect(r.shape).toEqual([1, c.K, ...c.size]); // NCXYZ with batch 1 = our (K, X, Y, Z) layout
    const err = maxRel(out.data, r.data); // observed: 0 to 1.5e-7
    expect(err).toBeLessThanOrEqual(1e-5);
  });
});

describe('SlidingWindowInferer and errors', () => {
  const c = index.cases['aniso_gauss_bs3'];
  it('stores options and gives the same result', async () => {
    const inferer = new SlidingWindowInferer(c.roi, c.bs, { overlap: c.overlap, mode: c.mode });
    expect(inferer.options).toMatchObject({ overlap: 0.25, mode: 'gaussian', sigmaScale: 0.125, padValue: 0 });
    const input = { data: det([c.C, ...c.size], c.seed), shape: [c.C, ...c.size] as [number, number, number, number] };
    let last = 0;
    const out = await inferer.call(input, linearPredictor(c), (d) => (last = d));
    expect(last).toBe(c.windows);
    expect(maxRel(out.data, ref(c.name).get('out')!.data)).toBeLessThanOrEqual(1e-5);
  });
  it('async predictor, no leak on predictor error, bad shapes rejected', async () => {
    const input = { data: det([1, 20, 20, 20], 9), shape: [1, 20, 20, 20] as [number, number, number, number] };
    const before = tf.memory().numTensors;
    const asyncPred: Predictor = async (b) => {
      await new Promise((r) => setTimeout(r, 0));
      return tf.tidy(() => tf.concat([b, b.mul(2)], 4) as tf.Tensor5D);
    };
    const out = await slidingWindowInference(input, 16, 2, asyncPred, { mode: 'gaussian' });
    expect(out.shape).toEqual([2, 20, 20, 20]);
    // Linear in the input with no position term: blending reproduces the input exactly (to rounding).
    expect(maxRel(out.data.subarray(0, 8000), input.data)).toBeLessThan(1e-6);
    expect(maxRel(out.data.subarray(8000), input.data.map((v) => v * 2))).toBeLessThan(1e-6);
    await expect(slidingWindowInference(input, 16, 2, () => tf.zeros([1, 16, 16, 16, 2]) as tf.Tensor5D)).rejects.toThrow(/predictor returned shape/);
    await expect(
      slidingWindowInference(input, 16, 1, () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(tf.memory().numTensors).toBe(before);
    await expect(slidingWindowInference({ data: new Float32Array(3), shape: [1, 2, 2, 2] }, 16, 1, asyncPred)).rejects.toThrow(RangeError);
    await expect(slidingWindowInference(input, 16, 0, asyncPred)).rejects.toThrow(RangeError);
  });
  it('padValue fills padded voxels seen by the predictor; output is cropped', async () => {
    const input = { data: new Float32Array(4 * 5 * 6).fill(1), shape: [1, 4, 5, 6] as [number, number, number, number] };
    let seenMin = Infinity;
    const out = await slidingWindowInference(input, [8, 5, 8], 1, (b) => {
      seenMin = Math.min(seenMin, b.min().dataSync()[0]);
      return tf.tidy(() => b.add(0) as tf.Tensor5D);
    }, { padValue: -7 });
    expect(seenMin).toBe(-7);
    expect(out.shape).toEqual([1, 4, 5, 6]);
    expect(Array.from(out.data).every((v) => v === 1)).toBe(true);
  });
});
