import type { Volume } from '../../core/volume';
import { ArgumentError } from '../../errors';
import type { Transform } from '../core/transform';
import { cropOrPad, foregroundBox, spatialPad } from './functional';

export interface CropForegroundOptions {
  /** Which voxels count as foreground (MONAI `select_fn`, default x > 0). */
  selectFn?: (x: number) => boolean;
  /** Voxels added around the box on each side. */
  margin?: number | [number, number, number];
  /** Clamp the grown box to the volume instead of padding (MONAI `allow_smaller`). */
  allowSmaller?: boolean;
}

/**
 * MONAI `CropForeground`: crop to the bounding box of the foreground (end exclusive). A volume with no foreground
 * gives an empty (0×0×0) crop, as in MONAI; a following `SpatialPad` turns that into zeros.
 */
export class CropForeground implements Transform<Volume, Volume> {
  readonly selectFn: (x: number) => boolean;
  readonly margin: number | [number, number, number];
  readonly allowSmaller: boolean;
  constructor(opts: CropForegroundOptions = {}) {
    this.selectFn = opts.selectFn ?? ((x) => x > 0);
    this.margin = opts.margin ?? 0;
    const ms = typeof this.margin === 'number' ? [this.margin] : this.margin;
    if (ms.some((m) => m < 0 || !Number.isInteger(m))) throw new ArgumentError(`CropForeground margin must be non-negative integers, got ${this.margin}`);
    this.allowSmaller = opts.allowSmaller ?? true;
  }
  computeBox(v: Volume): { start: [number, number, number]; end: [number, number, number] } {
    return foregroundBox(v, this.selectFn, this.margin, this.allowSmaller);
  }
  call(v: Volume, box = this.computeBox(v)): Volume {
    return cropOrPad(v, box.start, box.end);
  }
}

export interface SpatialPadOptions {
  /** Minimum size per axis; −1 keeps an axis as it is. */
  spatialSize: number | [number, number, number];
  method?: 'symmetric' | 'end';
  /** Constant fill value (MONAI mode 'constant'). */
  value?: number;
}

/** MONAI `SpatialPad(spatial_size, method='symmetric', mode='constant')`. Axes already large enough are untouched. */
export class SpatialPad implements Transform<Volume, Volume> {
  readonly size: [number, number, number];
  readonly method: 'symmetric' | 'end';
  readonly value: number;
  constructor(opts: SpatialPadOptions) {
    const s = opts.spatialSize;
    this.size = typeof s === 'number' ? [s, s, s] : [...s];
    this.method = opts.method ?? 'symmetric';
    this.value = opts.value ?? 0;
  }
  call(v: Volume): Volume {
    return spatialPad(v, this.size, this.method, this.value);
  }
}
