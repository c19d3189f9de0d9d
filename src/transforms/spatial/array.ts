import type { Volume } from '../../core/volume';
import { ArgumentError } from '../../errors';
import type { Transform } from '../core/transform';
import { applyOrientation, orientationTransform, planSpacing, resample, type InterpolationMode } from './functional';
import { axcodesToOrnt } from '../../core/affine';

export interface OrientationOptions {
  /** Target orientation code, e.g. 'RAS' (nibabel labels: L/R, P/A, I/S). */
  axcodes: string;
}

/** MONAI `Orientation`: flip/permute the array axes so they point along `axcodes`; the affine follows. */
export class Orientation implements Transform<Volume, Volume> {
  readonly axcodes: string;
  constructor(opts: OrientationOptions) {
    try {
      axcodesToOrnt(opts.axcodes);
    } catch (e) {
      throw new ArgumentError(`Orientation: ${(e as Error).message}`);
    }
    this.axcodes = opts.axcodes.toUpperCase();
  }
  call(v: Volume): Volume {
    return applyOrientation(v, orientationTransform(v.affine, this.axcodes));
  }
}

export interface SpacingOptions {
  /** Output voxel size in mm per axis (a number means isotropic). */
  pixdim: number | [number, number, number];
  /** 'bilinear' (trilinear in 3-D; images) or 'nearest' (labels). */
  mode?: InterpolationMode;
}

export function toTriple(v: number | readonly number[], name: string): [number, number, number] {
  const t = typeof v === 'number' ? [v, v, v] : [...v];
  if (t.length !== 3 || t.some((x) => !Number.isFinite(x))) throw new ArgumentError(`${name} must be a number or 3 numbers, got ${JSON.stringify(v)}`);
  return [t[0], t[1], t[2]];
}

/**
 * MONAI `Spacing(pixdim, mode, diagonal=False, padding_mode='border', align_corners=False, dtype=float64)`:
 * resample to `pixdim` keeping orientation and rotation (shear dropped), origin at the corner voxel.
 */
export class Spacing implements Transform<Volume, Volume> {
  readonly pixdim: [number, number, number];
  readonly mode: InterpolationMode;
  constructor(opts: SpacingOptions) {
    this.pixdim = toTriple(opts.pixdim, 'Spacing pixdim');
    if (this.pixdim.some((p) => p <= 0)) throw new ArgumentError(`Spacing pixdim must be positive, got ${this.pixdim}`);
    this.mode = opts.mode ?? 'bilinear';
  }
  call(v: Volume, mode: InterpolationMode = this.mode): Volume {
    return resample(v, planSpacing(v.shape.slice(1), v.affine, this.pixdim), mode);
  }
}
