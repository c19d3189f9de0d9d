/**
 * Sliding-window inference, a port of MONAI 1.6.1's `monai.inferers.sliding_window_inference` for one channel-first
 * volume (spec §4.6).
 *
 * - Axes smaller than the ROI are padded with `padValue` by (diff//2, diff − diff//2); the result is cropped back.
 * - Per axis the scan interval is `int(roi·(1 − overlap))` (`roi` when the (padded) size equals the ROI, never 0);
 *   window starts are `d·interval`, the last ones shifted back to fit (`windowStarts`).
 * - Windows are enumerated as `meshgrid(..., indexing='ij')`: the last axis (Z) varies fastest; `swBatchSize`
 *   consecutive windows go to the predictor together (the last batch may be smaller).
 * - Each window's logits are weighted by the importance map (`importanceMap`), summed, and divided by the summed
 *   weights: `out = Σ logits·w / Σ w`.
 *
 * Memory: the accumulation is on the host, never on the accelerator. Each batch's output is pulled with
 * `await t.data()` and disposed. Host memory = K·N floats (weighted sum, reused in place as the returned output)
 * + N floats (weight sum), N = X·Y·Z of the *unpadded* input, plus one batch of windows in and out
 * (swBatchSize·roi·(C + K) floats) and the importance map. E.g. 512×512×300, K = 14: 15 · 78.6 M · 4 B ≈ 4.7 GB;
 * the accelerator holds only one batch of windows at a time.
 */
import * as tf from '@tensorflow/tfjs';
import { importanceMap, type BlendMode, type Triple } from './importance';

export type { BlendMode, Triple } from './importance';

/** `batch` is NDHWC `[n, rx, ry, rz, C]`; must return NDHWC logits `[n, rx, ry, rz, K]` (a new tensor, which the
 *  caller disposes; the predictor must dispose its own intermediates, e.g. with `tf.tidy`). */
export type Predictor = (batch: tf.Tensor5D) => tf.Tensor5D | Promise<tf.Tensor5D>;

export interface SlidingWindowOptions {
  /** Fraction of overlap between neighbouring windows, per axis or for all; in [0, 1). Default 0.25. */
  overlap?: number | Triple;
  /** Blending. Default 'constant'. */
  mode?: BlendMode;
  /** σ = sigmaScale · roi for 'gaussian'. Default 0.125. */
  sigmaScale?: number | Triple;
  /** Constant used to pad axes smaller than the ROI (MONAI's `cval`). Default 0. */
  padValue?: number;
  /** Called after each predictor batch with (windows done, total windows). */
  onProgress?: (done: number, total: number) => void;
}

export interface ChannelFirstVolume {
  data: Float32Array;
  shape: [number, number, number, number];
}

/** MONAI's `fall_back_tuple`: a single number is used for every axis; a non-positive entry means "the whole axis". */
export function resolveRoi(roi: number | readonly number[], size: Triple): Triple {
  const r = typeof roi === 'number' ? [roi, roi, roi] : [...roi];
  if (r.length !== 3) throw new RangeError(`slidingWindowInference: roiSize needs 3 values, got ${r.length}`);
  return r.map((v, i) => {
    if (!Number.isFinite(v) || v <= 0) return size[i];
    if (!Number.isInteger(v)) throw new RangeError(`slidingWindowInference: roiSize must be integers, got ${v}`);
    return v;
  }) as Triple;
}

/** `_get_scan_interval` for one axis; `size` is the padded size (≥ roi). */
export function scanInterval(size: number, roi: number, overlap: number): number {
  if (roi === size) return roi;
  const interval = Math.trunc(roi * (1 - overlap));
  return interval > 0 ? interval : 1;
}

/**
 * Window starts along one axis, as MONAI's `dense_patch_slices` (after padding an axis smaller than `roi` to
 * `roi`, so the starts are in padded coordinates: a too-small axis gives `[0]`).
 * E.g. (250, 96, 0.25) → [0, 72, 144, 154]; (180, 96, 0.25) → [0, 72, 84]; (90, 96, 0.25) → [0].
 */
export function windowStarts(size: number, roi: number, overlap = 0.25): number[] {
  checkOverlap(overlap);
  if (!Number.isInteger(size) || size < 1 || !Number.isInteger(roi) || roi < 1) {
    throw new RangeError(`windowStarts: size and roi must be positive integers, got ${size}, ${roi}`);
  }
  const image = Math.max(size, roi);
  const interval = scanInterval(image, roi, overlap);
  const num = Math.ceil(image / interval);
  let scanNum = 1;
  for (let d = 0; d < num; d++) {
    if (d * interval + roi >= image) {
      scanNum = d + 1;
      break;
    }
  }
  const starts: number[] = [];
  for (let d = 0; d < scanNum; d++) {
    const s = d * interval;
    starts.push(s - Math.max(s + roi - image, 0));
  }
  return starts;
}

function checkOverlap(o: number): void {
  if (!(o >= 0 && o < 1)) throw new RangeError(`overlap must be >= 0 and < 1, got ${o}`);
}

export interface WindowPlan {
  roi: Triple;
  /** Padded size, max(size, roi) per axis. */
  padded: Triple;
  /** Low-side padding per axis (diff//2). */
  padLo: Triple;
  /** Window starts per axis in padded coordinates. */
  axisStarts: [number[], number[], number[]];
  /** All windows' starts (padded coordinates), 'ij' meshgrid order, Z fastest. */
  windows: Triple[];
}

export function planWindows(size: Triple, roiSize: number | readonly number[], overlap: number | Triple = 0.25): WindowPlan {
  const roi = resolveRoi(roiSize, size);
  const ov: Triple = typeof overlap === 'number' ? [overlap, overlap, overlap] : [...overlap];
  if (ov.length !== 3) throw new RangeError('overlap needs 3 values');
  ov.forEach(checkOverlap);
  const padded = size.map((s, i) => Math.max(s, roi[i])) as Triple;
  const padLo = size.map((s, i) => Math.floor(Math.max(roi[i] - s, 0) / 2)) as Triple;
  const axisStarts = [0, 1, 2].map((i) => windowStarts(size[i], roi[i], ov[i])) as [number[], number[], number[]];
  const windows: Triple[] = [];
  for (const a of axisStarts[0]) for (const b of axisStarts[1]) for (const c of axisStarts[2]) windows.push([a, b, c]);
  return { roi, padded, padLo, axisStarts, windows };
}

/**
 * Runs `predictor` over sliding windows of `input` (MONAI layout (C, X, Y, Z)) and blends the results; returns the
 * logits in MONAI layout (K, X, Y, Z), same spatial size as the input.
 */
export async function slidingWindowInference(
  input: ChannelFirstVolume,
  roiSize: number | readonly number[],
  swBatchSize: number,
  predictor: Predictor,
  opts: SlidingWindowOptions = {},
): Promise<ChannelFirstVolume> {
  const { overlap = 0.25, mode = 'constant', sigmaScale = 0.125, padValue = 0, onProgress } = opts;
  const [C, X, Y, Z] = input.shape;
  if (input.shape.length !== 4 || input.shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`slidingWindowInference: shape must be 4 positive integers (C, X, Y, Z), got [${input.shape.join(', ')}]`);
  }
  if (input.data.length !== C * X * Y * Z) {
    throw new RangeError(`slidingWindowInference: data has ${input.data.length} values, shape [${input.shape.join(', ')}] needs ${C * X * Y * Z}`);
  }
  if (!Number.isInteger(swBatchSize) || swBatchSize < 1) {
    throw new RangeError(`slidingWindowInference: swBatchSize must be a positive integer, got ${swBatchSize}`);
  }
  const size: Triple = [X, Y, Z];
  const plan = planWindows(size, roiSize, overlap);
  const [rx, ry, rz] = plan.roi;
  const [px, py, pz] = plan.padLo;
  const weights = importanceMap(plan.roi, mode, sigmaScale);
  const N = X * Y * Z;
  const R = rx * ry * rz;
  const total = plan.windows.length;
  const src = input.data;

  let acc: Float32Array | null = null; // K·N weighted sum; becomes the output
  const count = new Float32Array(N);
  let K = 0;

  for (let w0 = 0; w0 < total; w0 += swBatchSize) {
    const n = Math.min(swBatchSize, total - w0);
    const inBuf = new Float32Array(n * R * C); // fresh per batch: a backend may keep a reference to it
    // Gather the windows (padded coordinates → input coordinates) into NDHWC on the host.
    for (let b = 0; b < n; b++) {
      const [sx, sy, sz] = plan.windows[w0 + b];
      for (let x = 0; x < rx; x++) {
        const ox = sx + x - px;
        for (let y = 0; y < ry; y++) {
          const oy = sy + y - py;
          const rowIn = ox >= 0 && ox < X && oy >= 0 && oy < Y;
          for (let z = 0; z < rz; z++) {
            const oz = sz + z - pz;
            const o = (((b * rx + x) * ry + y) * rz + z) * C;
            if (rowIn && oz >= 0 && oz < Z) {
              const base = (ox * Y + oy) * Z + oz;
              for (let c = 0; c < C; c++) inBuf[o + c] = src[c * N + base];
            } else {
              for (let c = 0; c < C; c++) inBuf[o + c] = padValue;
            }
          }
        }
      }
    }
    const batch = tf.tensor5d(inBuf, [n, rx, ry, rz, C]);
    let logits: tf.Tensor5D | undefined;
    let out: Float32Array;
    try {
      logits = await predictor(batch);
      const s = logits.shape;
      if (s.length !== 5 || s[0] !== n || s[1] !== rx || s[2] !== ry || s[3] !== rz || s[4] < 1) {
        throw new RangeError(`slidingWindowInference: predictor returned shape [${s.join(', ')}], expected [${n}, ${rx}, ${ry}, ${rz}, K]`);
      }
      if (K === 0) K = s[4];
      else if (s[4] !== K) throw new RangeError(`slidingWindowInference: predictor returned ${s[4]} channels, earlier ${K}`);
      const d = await logits.data();
      out = d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>);
    } finally {
      if (logits && logits !== batch) logits.dispose();
      batch.dispose();
    }
    if (acc === null) acc = new Float32Array(K * N);
    // Accumulate the weighted logits and the weights over the part of each window inside the unpadded input.
    for (let b = 0; b < n; b++) {
      const [sx, sy, sz] = plan.windows[w0 + b];
      for (let x = 0; x < rx; x++) {
        const ox = sx + x - px;
        if (ox < 0 || ox >= X) continue;
        for (let y = 0; y < ry; y++) {
          const oy = sy + y - py;
          if (oy < 0 || oy >= Y) continue;
          for (let z = 0; z < rz; z++) {
            const oz = sz + z - pz;
            if (oz < 0 || oz >= Z) continue;
            const wi = (x * ry + y) * rz + z;
            const wt = weights[wi];
            const dst = (ox * Y + oy) * Z + oz;
            const o = (b * R + wi) * K;
            count[dst] += wt;
            for (let k = 0; k < K; k++) acc[k * N + dst] += Math.fround(out[o + k] * wt);
          }
        }
      }
    }
    onProgress?.(w0 + n, total);
  }
  const res = acc as Float32Array;
  for (let k = 0; k < K; k++) {
    const off = k * N;
    for (let i = 0; i < N; i++) res[off + i] = res[off + i] / count[i];
  }
  return { data: res, shape: [K, X, Y, Z] };
}

/** MONAI's `SlidingWindowInferer`: stores the settings; `call` runs `slidingWindowInference`. */
export class SlidingWindowInferer {
  readonly roiSize: number | readonly number[];
  readonly swBatchSize: number;
  readonly options: Readonly<Required<Omit<SlidingWindowOptions, 'onProgress'>>> & Pick<SlidingWindowOptions, 'onProgress'>;

  constructor(roiSize: number | readonly number[], swBatchSize = 1, opts: SlidingWindowOptions = {}) {
    if (!Number.isInteger(swBatchSize) || swBatchSize < 1) throw new RangeError(`swBatchSize must be a positive integer, got ${swBatchSize}`);
    const overlap = opts.overlap ?? 0.25;
    (typeof overlap === 'number' ? [overlap] : overlap).forEach(checkOverlap);
    const mode = opts.mode ?? 'constant';
    if (mode !== 'constant' && mode !== 'gaussian') throw new RangeError(`unsupported mode '${String(mode)}'`);
    this.roiSize = typeof roiSize === 'number' ? roiSize : [...roiSize];
    this.swBatchSize = swBatchSize;
    this.options = { overlap, mode, sigmaScale: opts.sigmaScale ?? 0.125, padValue: opts.padValue ?? 0, onProgress: opts.onProgress };
  }

  call(input: ChannelFirstVolume, predictor: Predictor, onProgress?: SlidingWindowOptions['onProgress']): Promise<ChannelFirstVolume> {
    return slidingWindowInference(input, this.roiSize, this.swBatchSize, predictor, {
      ...this.options,
      onProgress: onProgress ?? this.options.onProgress,
    });
  }
}
