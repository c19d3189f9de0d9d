import type { Volume } from '../../core/volume';
import type { Transform } from '../core/transform';
import { scaleIntensityRange } from './functional';

export interface ScaleIntensityRangeOptions {
  aMin: number;
  aMax: number;
  bMin?: number;
  bMax?: number;
  clip?: boolean;
}

/** MONAI `ScaleIntensityRange(a_min, a_max, b_min, b_max, clip)`: a linear HU window to [b_min, b_max]. */
export class ScaleIntensityRange implements Transform<Volume, Volume> {
  readonly opts: Required<ScaleIntensityRangeOptions>;
  constructor(opts: ScaleIntensityRangeOptions) {
    this.opts = { bMin: 0, bMax: 1, clip: false, ...opts };
  }
  call(v: Volume): Volume {
    const { aMin, aMax, bMin, bMax, clip } = this.opts;
    return scaleIntensityRange(v, aMin, aMax, bMin, bMax, clip);
  }
}
