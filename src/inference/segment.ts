/**
 * Whole-volume segmentation the way the tutorial validates (spec §2.2, §4.5, §4.6), with the label map brought back
 * onto the input's own grid:
 *
 * 1. the fine-tuning validation preprocessing (`buildPipeline('finetune-val', params)`: EnsureChannelFirst →
 *    Orientation RAS → Spacing 1.5×1.5×2 → HU −175..250 → [0, 1] → CropForeground), MONAI-exact;
 * 2. `sliding_window_inference(x, roi, sw_batch_size=4, model)` with MONAI's defaults (overlap 0.25, constant
 *    blending, zero padding);
 * 3. argmax over the classes (`AsDiscrete(argmax=True)`; ties → the lowest class, as torch.argmax);
 * 4. nearest-neighbour resampling back onto the input grid through the affines: input voxel i takes the class of
 *    preprocessed voxel round(A_pre⁻¹ · A_in · i); voxels outside the cropped, resampled grid (the air that
 *    CropForeground removed) are background; a voxel exactly half a voxel beyond the grid's end takes the last one
 *    (MONAI's Spacing grid can stop half an output voxel short of the input's last slice, e.g. 30 × 3 mm → 44 × 2 mm). A_pre already holds the orientation change, the new spacing and the
 *    crop offset, so this inverts all three at once (MONAI's `Invertd` with nearest interpolation does the same).
 *    When the preprocessed grid is finer than the input on every axis (CT at ≥ 1.5/2 mm) the round trip is exact:
 *    a label map pushed through steps 1 and 4 comes back unchanged.
 *
 * The result's `labels` is uint8 class ids (a `Uint8Array`, C order over (X, Y, Z) of the input), with the input's
 * shape (as `[1, X, Y, Z]`) and affine: `saveNifti(out, labels.data, inputShape, labels.affine, { dtype: 'uint8' })`.
 *
 * Memory, besides the input while it is preprocessed: the preprocessed image (N floats), the sliding-window
 * accumulator (K·N + N floats, N = preprocessed voxels, K = classes), one batch of windows, then N bytes of argmax
 * and the input-grid label map. E.g. a 512×512×200 CT at 0.8×0.8×2.5 mm becomes ≤ 273×273×250 voxels: with K = 14
 * the accumulator is ≤ 15 · 18.6 M · 4 B ≈ 1.1 GB.
 */
import * as tf from '@tensorflow/tfjs';
import { inverse, matmul, type Affine } from '../core/affine';
import type { Volume } from '../core/volume';
import { ArgumentError } from '../errors';
import { loadNifti } from '../io/nifti';
import { UNETR } from '../nn/nets/unetr';
import { Compose } from '../transforms/core/transform';
import { LoadImaged } from '../transforms/io/dict';
import { buildPipeline, TUTORIAL_PARAMS, type PipelineParams } from '../transforms/pipelines';
import type { BlendMode, Triple } from './importance';
import { planWindows, slidingWindowInference, type ChannelFirstVolume, type Predictor } from './sliding_window';

/** uint8 class ids on a grid: `Volume`'s layout with one channel. */
export interface LabelVolume {
  data: Uint8Array;
  shape: [1, number, number, number];
  affine: Affine;
}

export type SegmentStage = 'preprocess' | 'inference' | 'postprocess';

export interface SegmentOptions {
  /** Window size. Default: the UNETR's `img_size` when a model is given, else 96 (the tutorial's). */
  roiSize?: number | readonly number[];
  /** Windows per predictor call. Default 4 (the tutorial's). */
  swBatchSize?: number;
  /** Default 0.25 (MONAI's default, which the tutorial's validation uses). */
  overlap?: number;
  /** Default 'constant' (the tutorial's). */
  mode?: BlendMode;
  /** Preprocessing numbers (axcodes, finetunePixdim, finetuneWindow); default the tutorial's. */
  params?: PipelineParams;
  /** Progress: the stage, and for 'inference' the windows done / total (called after each batch). */
  onProgress?: (stage: SegmentStage, done: number, total: number) => void;
}

export interface SegmentResult {
  /** Class ids on the input grid: input shape (with a leading 1) and affine. */
  labels: LabelVolume;
  /** Number of classes the predictor produced (K); 0 when the input had no foreground. */
  numClasses: number;
  /** (K, X, Y, Z) of the blended logits on the preprocessed grid. */
  logitsShape: [number, number, number, number];
  /** (1, X, Y, Z) after preprocessing, and its affine (orientation, spacing and crop included). */
  preprocessedShape: [number, number, number, number];
  preprocessedAffine: Affine;
  /** Number of sliding windows. */
  windows: number;
  /** Header problems that loading the input fixed (MONAI's header repair). */
  warnings: string[];
  timings: { preprocessMs: number; inferenceMs: number; postprocessMs: number; totalMs: number };
}

/** A predictor running a UNETR in eval mode on NDHWC windows. */
export function unetrPredictor(model: UNETR): Predictor {
  model.eval();
  return (batch) => tf.tidy(() => model.forward(batch));
}

/**
 * The validation preprocessing of `input` (a NIfTI path, or a raw HU volume `(1, X, Y, Z)` with its affine).
 * Returns the preprocessed image and the input grid (shape, affine) the labels must go back to.
 */
export async function preprocessForSegmentation(
  input: string | Volume,
  params: PipelineParams = TUTORIAL_PARAMS,
): Promise<{ image: Volume; inputShape: Triple; inputAffine: Affine; warnings: string[] }> {
  const det = buildPipeline('finetune-val', params).deterministic;
  // Load ourselves (to know the input grid), then run the chain after LoadImaged.
  const rest = new Compose(det.transforms.filter((t) => !(t instanceof LoadImaged)));
  let inputShape: Triple;
  let inputAffine: Affine;
  let warnings: string[] = [];
  let first: unknown;
  if (typeof input === 'string') {
    const img = await loadNifti(input);
    inputShape = [...img.shape];
    inputAffine = img.affine.map((r) => r.slice());
    warnings = img.warnings;
    first = img;
  } else {
    if (input.shape.length !== 4 || input.shape[0] !== 1) {
      throw new ArgumentError(`segment: the input volume must have one channel, shape (1, X, Y, Z); got [${input.shape.join(', ')}]`);
    }
    inputShape = [input.shape[1], input.shape[2], input.shape[3]];
    inputAffine = input.affine.map((r) => r.slice());
    first = input;
  }
  const d = await rest.one({ image: first });
  first = undefined;
  return { image: d.image as Volume, inputShape, inputAffine, warnings };
}

/** argmax over the channel axis of (K, X, Y, Z) logits → uint8 ids (first maximum wins, as torch.argmax). */
export function argmaxLabels(logits: ChannelFirstVolume): Uint8Array {
  const [K, X, Y, Z] = logits.shape;
  if (K > 256) throw new ArgumentError(`segment: ${K} classes do not fit a uint8 label map (at most 256)`);
  const N = X * Y * Z;
  const best = new Float32Array(logits.data.subarray(0, N));
  const ids = new Uint8Array(N);
  for (let k = 1; k < K; k++) {
    const off = k * N;
    const src = logits.data;
    for (let i = 0; i < N; i++) {
      const v = src[off + i];
      if (v > best[i]) {
        best[i] = v;
        ids[i] = k;
      }
    }
  }
  return ids;
}

/**
 * Nearest-neighbour resampling of a label map from grid (`srcShape`, `srcAffine`) onto (`dstShape`, `dstAffine`):
 * dst voxel i ← src voxel round(srcAffine⁻¹ · dstAffine · i) (halves round up), 0 where that point lies more than half
 * a voxel outside the src grid (a point exactly half a voxel beyond the last src voxel takes that voxel).
 */
export function resampleLabelsNearest(
  src: Uint8Array,
  srcShape: Triple,
  srcAffine: Affine,
  dstShape: Triple,
  dstAffine: Affine,
): Uint8Array {
  const [SX, SY, SZ] = srcShape;
  const [DX, DY, DZ] = dstShape;
  if (src.length !== SX * SY * SZ) throw new ArgumentError(`resampleLabelsNearest: ${src.length} labels for shape [${srcShape.join(', ')}]`);
  const out = new Uint8Array(DX * DY * DZ);
  if (SX * SY * SZ === 0) return out;
  const m = matmul(inverse(srcAffine), dstAffine); // dst voxel → src voxel
  // Snap matrix entries that are integers or simple ratios up to rounding noise, so that exact grid coincidences
  // (e.g. 3 mm → 1.5 mm: p = 2i) do not become x.4999999 / x.5000001 at random.
  const snap = (v: number) => {
    const r = Math.round(v * 1e6) / 1e6;
    return Math.abs(r - v) < 1e-9 * Math.max(1, Math.abs(v)) ? r : v;
  };
  const M = m.slice(0, 3).map((row) => row.map(snap));
  const rnd = (v: number) => Math.floor(v + 0.5 + 1e-9); // halves up, also when noise puts them at x.4999999999
  // nearest src voxel; a point exactly half a voxel beyond the last one still belongs to it (e.g. 30 slices at 3 mm →
  // 44 at 2 mm: MONAI's Spacing grid ends half a slice before the input's last slice)
  const near = (v: number, n: number) => {
    const p = rnd(v);
    return p < n ? p : v <= n - 0.5 + 1e-6 ? n - 1 : n;
  };
  let o = 0;
  for (let x = 0; x < DX; x++) {
    for (let y = 0; y < DY; y++) {
      const bx = M[0][0] * x + M[0][1] * y + M[0][3];
      const by = M[1][0] * x + M[1][1] * y + M[1][3];
      const bz = M[2][0] * x + M[2][1] * y + M[2][3];
      for (let z = 0; z < DZ; z++, o++) {
        const px = near(bx + M[0][2] * z, SX);
        if (px < 0 || px >= SX) continue;
        const py = near(by + M[1][2] * z, SY);
        if (py < 0 || py >= SY) continue;
        const pz = near(bz + M[2][2] * z, SZ);
        if (pz < 0 || pz >= SZ) continue;
        out[o] = src[(px * SY + py) * SZ + pz];
      }
    }
  }
  return out;
}

function roiFromModel(model: UNETR): Triple {
  return [...model.vit.body.cfg.img] as Triple;
}

/**
 * Segment one CT volume (a NIfTI path, or a raw HU `(1, X, Y, Z)` volume with its affine). `predictor` maps NDHWC
 * window batches `[n, rx, ry, rz, 1]` to NDHWC logits `[n, rx, ry, rz, K]` (any function: a test can inject an
 * oracle), or is a UNETR (run in eval mode; the ROI defaults to, and must equal, its `img_size`).
 */
export async function segmentVolume(input: string | Volume, predictor: Predictor | UNETR, opts: SegmentOptions = {}): Promise<SegmentResult> {
  const t0 = performance.now();
  const { swBatchSize = 4, overlap = 0.25, mode = 'constant', params = TUTORIAL_PARAMS, onProgress } = opts;
  let predict: Predictor;
  let roi: number | readonly number[];
  if (predictor instanceof UNETR) {
    const modelRoi = roiFromModel(predictor);
    roi = opts.roiSize ?? modelRoi;
    const r = typeof roi === 'number' ? [roi, roi, roi] : [...roi];
    if (r.length !== 3 || r.some((v, i) => v !== modelRoi[i])) {
      throw new ArgumentError(`segment: the UNETR takes windows of its img_size [${modelRoi.join(', ')}], not roiSize ${JSON.stringify(opts.roiSize)}`);
    }
    if (predictor.vit.body.cfg.inChannels !== 1) {
      throw new ArgumentError(`segment: the UNETR has in_channels ${predictor.vit.body.cfg.inChannels}; CT segmentation needs 1`);
    }
    predict = unetrPredictor(predictor);
  } else {
    roi = opts.roiSize ?? 96;
    predict = predictor;
  }

  onProgress?.('preprocess', 0, 1);
  // keep only what is needed: `x` is the one holder of the preprocessed voxels, emptied after the sliding window
  const { x, preAffine, inputShape, inputAffine, warnings } = await preprocessForSegmentation(input, params).then((p) => ({
    x: { data: p.image.data, shape: p.image.shape } as ChannelFirstVolume,
    preAffine: p.image.affine.map((r) => r.slice()),
    inputShape: p.inputShape,
    inputAffine: p.inputAffine,
    warnings: p.warnings,
  }));
  onProgress?.('preprocess', 1, 1);
  const t1 = performance.now();
  const [, PX, PY, PZ] = x.shape;
  const preShape: Triple = [PX, PY, PZ];
  const [IX, IY, IZ] = inputShape;

  if (PX * PY * PZ === 0) {
    // no voxel above the window's lower bound: MONAI's CropForeground gives an empty volume; nothing to segment.
    const t = performance.now();
    return {
      labels: { data: new Uint8Array(IX * IY * IZ), shape: [1, IX, IY, IZ], affine: inputAffine },
      numClasses: 0,
      logitsShape: [0, PX, PY, PZ],
      preprocessedShape: [1, PX, PY, PZ],
      preprocessedAffine: preAffine,
      windows: 0,
      warnings: [...warnings, 'no foreground (no voxel above the HU window): the label map is all background'],
      timings: { preprocessMs: t1 - t0, inferenceMs: 0, postprocessMs: t - t1, totalMs: t - t0 },
    };
  }

  const windows = planWindows(preShape, roi, overlap).windows.length;
  onProgress?.('inference', 0, windows);
  let logits: ChannelFirstVolume | null = await slidingWindowInference(x, roi, swBatchSize, predict, {
    overlap,
    mode,
    onProgress: (done, total) => onProgress?.('inference', done, total),
  });
  x.data = new Float32Array(0); // release the preprocessed image
  const t2 = performance.now();
  onProgress?.('postprocess', 0, 1);
  const K = logits.shape[0];
  const logitsShape = [...logits.shape] as [number, number, number, number];
  const ids = argmaxLabels(logits);
  logits = null; // release the K·N accumulator before allocating the input-grid map
  const labels = resampleLabelsNearest(ids, preShape, preAffine, inputShape, inputAffine);
  onProgress?.('postprocess', 1, 1);
  const t3 = performance.now();
  return {
    labels: { data: labels, shape: [1, IX, IY, IZ], affine: inputAffine },
    numClasses: K,
    logitsShape,
    preprocessedShape: [1, PX, PY, PZ],
    preprocessedAffine: preAffine,
    windows,
    warnings,
    timings: { preprocessMs: t1 - t0, inferenceMs: t2 - t1, postprocessMs: t3 - t2, totalMs: t3 - t0 },
  };
}

/** Voxel count per class id (index = class). */
export function labelCounts(labels: Uint8Array, numClasses = 256): number[] {
  const c = new Array<number>(Math.max(1, numClasses)).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (v >= c.length) c.length = v + 1;
    c[v] = (c[v] ?? 0) + 1;
  }
  return Array.from(c, (v) => v ?? 0);
}
