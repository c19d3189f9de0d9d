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
    const start = centerCropStart(center, this.spatialSize);
    return cropOrPad(v, start, start.map((x, i) => x + this.spatialSize[i]));
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
    const label = d[this.labelKey] as Volume | undefined;
    if (!label) throw new ArgumentError(`RandCropByPosNegLabeld: label key '${this.labelKey}' is missing from the data`);
    const image = this.imageKey ? (d[this.imageKey] as Volume) : undefined;
    const { centers, positive } = this.t.randomize(label, image);
    const keys = this.presentKeys(d);
    return centers.map((center, i) => {
      const out: Data = { ...d };
      for (const k of keys) out[k] = this.t.crop(d[k] as Volume, center);
      recordDraw(out, { transform: 'RandCropByPosNegLabeld', center, positive: positive[i] });
      return out;
    });
  }
}
