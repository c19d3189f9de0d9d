/**
 * Random crops with MONAI semantics: `RandSpatialCropSamples(d)` (uniform crop positions) and
 * `RandCropByPosNegLabel(d)` (crop centres drawn from foreground / background voxels).
 */
import type { Volume } from '../../core/volume';
import { ArgumentError } from '../../errors';
import { RandomMapTransform, type Data, type MapTransformOptions } from '../core/transform';
import { Randomizable, recordDraw } from '../core/randomizable';
import { centerCropStart, correctCropCenter, cropOrPad, randomPatchStart } from './functional';

function triple(v: number | readonly number[], name: string): [number, number, number] {
  const t = typeof v === 'number' ? [v, v, v] : [...v];
  if (t.length !== 3 || t.some((x) => !Number.isInteger(x) || x <= 0)) throw new ArgumentError(`${name} must be a positive integer or 3 of them, got ${JSON.stringify(v)}`);
  return [t[0], t[1], t[2]];
}

/** The crop of `size` centred on `center` (centres already corrected to lie inside). */
function cropAtCenter(v: Volume, center: readonly number[], size: readonly number[]): Volume {
  const start = centerCropStart(center, size);
  return cropOrPad(v, start, start.map((x, i) => x + size[i]));
}

/** The label (required) and image (optional) volumes a label-driven crop samples its centres from. */
function labelAndImage(d: Data, transform: string, labelKey: string, imageKey?: string): [Volume, Volume | undefined] {
  const label = d[labelKey] as Volume | undefined;
  if (!label) throw new ArgumentError(`${transform}: label key '${labelKey}' is missing from the data`);
  return [label, imageKey ? (d[imageKey] as Volume) : undefined];
}

/** One dict per centre, every key cropped alike, with the draw recorded (centre + `draw(i)`). */
function cropsAtCenters(d: Data, keys: string[], centers: number[][], size: readonly number[], draw: (i: number) => Record<string, unknown>): Data[] {
  return centers.map((center, i) => {
    const out: Data = { ...d };
    for (const k of keys) out[k] = cropAtCenter(d[k] as Volume, center, size);
    const { transform, ...rest } = draw(i);
    recordDraw(out, { transform: transform as string, center, ...rest });
    return out;
  });
}

export interface RandSpatialCropSamplesOptions {
  roiSize: number | [number, number, number];
  numSamples: number;
}

/**
 * MONAI `RandSpatialCropSamples(roi_size, num_samples, random_center=True, random_size=False)`: `numSamples` crops,
 * each at a uniformly random fully-inside position (an axis not larger than the ROI is taken whole).
 */
export class RandSpatialCropSamples extends Randomizable {
  readonly roiSize: [number, number, number];
  readonly numSamples: number;
  constructor(opts: RandSpatialCropSamplesOptions) {
    super();
    this.roiSize = triple(opts.roiSize, 'RandSpatialCropSamples roiSize');
    if (!Number.isInteger(opts.numSamples) || opts.numSamples < 1) throw new ArgumentError(`numSamples must be ≥ 1, got ${opts.numSamples}`);
    this.numSamples = opts.numSamples;
  }
  /** Crop starts for a volume of spatial `shape`. */
  randomize(shape: readonly number[]): number[][] {
    return Array.from({ length: this.numSamples }, () => randomPatchStart(shape, this.roiSize, this.R));
  }
  sizeFor(shape: readonly number[]): number[] {
    return shape.map((n, i) => Math.min(n, this.roiSize[i]));
  }
  call(v: Volume): Volume[] {
    const shape = v.shape.slice(1);
    const size = this.sizeFor(shape);
    return this.randomize(shape).map((s) => cropOrPad(v, s, s.map((x, i) => x + size[i])));
  }
}

/** Dictionary form: the same crops for every key; returns one dict per sample. */
export class RandSpatialCropSamplesd extends RandomMapTransform<RandSpatialCropSamples> {
  readonly t: RandSpatialCropSamples;
  constructor(opts: MapTransformOptions & RandSpatialCropSamplesOptions) {
    super(opts);
    this.t = new RandSpatialCropSamples(opts);
  }
  call(d: Data): Data[] {
    const keys = this.presentKeys(d);
    const shape = (d[keys[0]] as Volume).shape.slice(1);
    const size = this.t.sizeFor(shape);
    return this.t.randomize(shape).map((start) => {
      const out: Data = { ...d };
      for (const k of keys) out[k] = cropOrPad(d[k] as Volume, start, start.map((x, i) => x + size[i]));
      recordDraw(out, { transform: 'RandSpatialCropSamplesd', start, size });
      return out;
    });
  }
}

export interface RandCropByPosNegLabelOptions {
  spatialSize: number | [number, number, number];
  pos?: number;
  neg?: number;
  numSamples?: number;
  /** Voxels with image > imageThreshold (any channel) are eligible background centres. */
  imageThreshold?: number;
}

/** Flat C-order indices of foreground (label ≠ 0) and background (label = 0 and image > threshold) voxels. */
export function mapBinaryToIndices(label: Volume, image: Volume | undefined, threshold: number): { fg: Int32Array; bg: Int32Array } {
  const [C, X, Y, Z] = label.shape;
  const n = X * Y * Z;
  const fgMask = new Uint8Array(n);
  for (let c = 0; c < C; c++) for (let i = 0; i < n; i++) if (label.data[c * n + i] !== 0) fgMask[i] = 1;
  let imgMask: Uint8Array | undefined;
  if (image) {
    imgMask = new Uint8Array(n);
    const ic = image.shape[0];
    for (let c = 0; c < ic; c++) for (let i = 0; i < n; i++) if (image.data[c * n + i] > threshold) imgMask[i] = 1;
  }
  let nf = 0,
    nb = 0;
  for (let i = 0; i < n; i++) {
    if (fgMask[i]) nf++;
    else if (!imgMask || imgMask[i]) nb++;
  }
  const fg = new Int32Array(nf),
    bg = new Int32Array(nb);
  nf = nb = 0;
  for (let i = 0; i < n; i++) {
    if (fgMask[i]) fg[nf++] = i;
    else if (!imgMask || imgMask[i]) bg[nb++] = i;
  }
  return { fg, bg };
}

/**
 * MONAI `RandCropByPosNegLabel`: each sample's centre is a random foreground voxel with probability
 * pos/(pos+neg), else a random background voxel, then moved so the crop lies inside (`correct_crop_centers`).
 * No foreground → only background centres (and vice versa), as MONAI does with a warning; neither → error.
 */
export class RandCropByPosNegLabel extends Randomizable {
  readonly spatialSize: [number, number, number];
  readonly posRatio: number;
  readonly numSamples: number;
  readonly imageThreshold: number;
  constructor(opts: RandCropByPosNegLabelOptions) {
    super();
    this.spatialSize = triple(opts.spatialSize, 'RandCropByPosNegLabel spatialSize');
    const pos = opts.pos ?? 1,
      neg = opts.neg ?? 1;
    if (pos < 0 || neg < 0 || pos + neg === 0) throw new ArgumentError(`pos and neg must be ≥ 0 and not both 0, got ${pos}, ${neg}`);
    this.posRatio = pos / (pos + neg);
    this.numSamples = opts.numSamples ?? 1;
    this.imageThreshold = opts.imageThreshold ?? 0;
  }

  /** Crop centres (corrected) and whether each came from the foreground. */
  randomize(label: Volume, image?: Volume): { centers: number[][]; positive: boolean[] } {
    const shape = label.shape.slice(1);
    if (shape.some((n, i) => n < this.spatialSize[i])) {
      throw new ArgumentError(
        `RandCropByPosNegLabel: volume ${shape.join('×')} is smaller than the crop ${this.spatialSize.join('×')}; pad it first (SpatialPad) or use a smaller patch`,
      );
    }
    const { fg, bg } = mapBinaryToIndices(label, image, this.imageThreshold);
    if (fg.length === 0 && bg.length === 0) throw new ArgumentError('RandCropByPosNegLabel: no sampling location available (no foreground and no background voxels)');
    const ratio = fg.length === 0 ? 0 : bg.length === 0 ? 1 : this.posRatio;
    const [, Y, Z] = shape;
    const centers: number[][] = [];
    const positive: boolean[] = [];
    for (let s = 0; s < this.numSamples; s++) {
      const usePos = this.R.random() < ratio;
      const pool = usePos ? fg : bg;
      const idx = pool[this.R.int(0, pool.length)];
      const c = [Math.floor(idx / (Y * Z)), Math.floor(idx / Z) % Y, idx % Z];
      centers.push(correctCropCenter(c, this.spatialSize, shape));
      positive.push(usePos);
    }
    return { centers, positive };
  }

  crop(v: Volume, center: readonly number[]): Volume {
    return cropAtCenter(v, center, this.spatialSize);
  }
}

/** Dictionary form: centres drawn from `labelKey` (and `imageKey` for the background), the same crops for every key. */
export class RandCropByPosNegLabeld extends RandomMapTransform<RandCropByPosNegLabel> {
  readonly t: RandCropByPosNegLabel;
  readonly labelKey: string;
  readonly imageKey?: string;
  constructor(opts: MapTransformOptions & RandCropByPosNegLabelOptions & { labelKey: string; imageKey?: string }) {
    super(opts);
    this.t = new RandCropByPosNegLabel(opts);
    this.labelKey = opts.labelKey;
    this.imageKey = opts.imageKey;
  }
  call(d: Data): Data[] {
    const [label, image] = labelAndImage(d, 'RandCropByPosNegLabeld', this.labelKey, this.imageKey);
    const { centers, positive } = this.t.randomize(label, image);
    return cropsAtCenters(d, this.presentKeys(d), centers, this.t.spatialSize, (i) => ({ transform: 'RandCropByPosNegLabeld', positive: positive[i] }));
  }
}

export interface RandCropByLabelClassesOptions {
  spatialSize: number | [number, number, number];
  /** Number of classes of a single-channel (argmax) label map; class c = voxels with value c. */
  numClasses: number;
  /** Relative frequency of each class as a crop centre (default: all equal, background included). */
  ratios?: readonly number[] | null;
  numSamples?: number;
  /** Only voxels with image > imageThreshold (any channel) are eligible centres, when an image is given. */
  imageThreshold?: number;
}

/** Flat C-order indices of the voxels of each class 0..numClasses−1 (restricted to image > threshold if given). */
export function mapClassesToIndices(label: Volume, numClasses: number, image: Volume | undefined, threshold: number): Int32Array[] {
  const [C, X, Y, Z] = label.shape;
  if (C !== 1) throw new ArgumentError(`RandCropByLabelClasses needs a single-channel label map (class values), got ${C} channels`);
  const n = X * Y * Z;
  let imgMask: Uint8Array | undefined;
  if (image) {
    imgMask = new Uint8Array(n);
    for (let c = 0; c < image.shape[0]; c++) for (let i = 0; i < n; i++) if (image.data[c * n + i] > threshold) imgMask[i] = 1;
  }
  const counts = new Int32Array(numClasses);
  const cls = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    if (imgMask && !imgMask[i]) continue;
    const v = Math.round(label.data[i]);
    if (v >= 0 && v < numClasses) {
      cls[i] = v;
      counts[v]++;
    }
  }
  const out = Array.from(counts, (k) => new Int32Array(k));
  const fill = new Int32Array(numClasses);
  for (let i = 0; i < n; i++) if (cls[i] >= 0) out[cls[i]][fill[cls[i]]++] = i;
  return out;
}

/**
 * MONAI `RandCropByLabelClasses`: each sample's centre is a random voxel of a class drawn with probability
 * ∝ `ratios` (classes absent from this label map are skipped, as MONAI does with a warning), then moved so the
 * crop lies inside. With equal ratios every organ is a crop centre as often as the liver, whatever its size.
 */
export class RandCropByLabelClasses extends Randomizable {
  readonly spatialSize: [number, number, number];
  readonly numClasses: number;
  readonly ratios: number[];
  readonly numSamples: number;
  readonly imageThreshold: number;
  constructor(opts: RandCropByLabelClassesOptions) {
    super();
    this.spatialSize = triple(opts.spatialSize, 'RandCropByLabelClasses spatialSize');
    if (!Number.isInteger(opts.numClasses) || opts.numClasses < 1) throw new ArgumentError(`numClasses must be a positive integer, got ${opts.numClasses}`);
    this.numClasses = opts.numClasses;
    const r = opts.ratios ?? Array(opts.numClasses).fill(1);
    if (r.length !== opts.numClasses || r.some((x) => !(x >= 0)) || r.every((x) => x === 0)) {
      throw new ArgumentError(`ratios must be ${opts.numClasses} numbers ≥ 0, not all 0, got ${JSON.stringify(r)}`);
    }
    this.ratios = [...r];
    this.numSamples = opts.numSamples ?? 1;
    this.imageThreshold = opts.imageThreshold ?? 0;
  }

  /** Crop centres (corrected) and the class each was drawn from. */
  randomize(label: Volume, image?: Volume): { centers: number[][]; classes: number[] } {
    const shape = label.shape.slice(1);
    if (shape.some((n, i) => n < this.spatialSize[i])) {
      throw new ArgumentError(
        `RandCropByLabelClasses: volume ${shape.join('×')} is smaller than the crop ${this.spatialSize.join('×')}; pad it first (SpatialPad) or use a smaller patch`,
      );
    }
    const indices = mapClassesToIndices(label, this.numClasses, image, this.imageThreshold);
    const w = this.ratios.map((r, c) => (indices[c].length > 0 ? r : 0));
    const total = w.reduce((a, b) => a + b, 0);
    if (total === 0) throw new ArgumentError('RandCropByLabelClasses: no sampling location available (no voxel of any class with a ratio > 0)');
    const [, Y, Z] = shape;
    const centers: number[][] = [];
    const classes: number[] = [];
    for (let s = 0; s < this.numSamples; s++) {
      let u = this.R.random() * total;
      let c = 0;
      while (c < w.length - 1 && (w[c] === 0 || u >= w[c])) {
        u -= w[c];
        c++;
      }
      while (w[c] === 0) c--; // rounding at the top end
      const pool = indices[c];
      const idx = pool[this.R.int(0, pool.length)];
      centers.push(correctCropCenter([Math.floor(idx / (Y * Z)), Math.floor(idx / Z) % Y, idx % Z], this.spatialSize, shape));
      classes.push(c);
    }
    return { centers, classes };
  }

  crop(v: Volume, center: readonly number[]): Volume {
    return cropAtCenter(v, center, this.spatialSize);
  }
}

/** Dictionary form of `RandCropByLabelClasses`: centres from `labelKey`, the same crops for every key. */
export class RandCropByLabelClassesd extends RandomMapTransform<RandCropByLabelClasses> {
  readonly t: RandCropByLabelClasses;
  readonly labelKey: string;
  readonly imageKey?: string;
  constructor(opts: MapTransformOptions & RandCropByLabelClassesOptions & { labelKey: string; imageKey?: string }) {
    super(opts);
    this.t = new RandCropByLabelClasses(opts);
    this.labelKey = opts.labelKey;
    this.imageKey = opts.imageKey;
  }
  call(d: Data): Data[] {
    const [label, image] = labelAndImage(d, 'RandCropByLabelClassesd', this.labelKey, this.imageKey);
    const { centers, classes } = this.t.randomize(label, image);
    return cropsAtCenters(d, this.presentKeys(d), centers, this.t.spatialSize, (i) => ({ transform: 'RandCropByLabelClassesd', class: classes[i] }));
  }
}
