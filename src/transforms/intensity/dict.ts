import type { Volume } from '../../core/volume';
import { MapTransform, type Data, type MapTransformOptions } from '../core/transform';
import { ScaleIntensityRange, type ScaleIntensityRangeOptions } from './array';

/** Dictionary form of `ScaleIntensityRange`. */
export class ScaleIntensityRanged extends MapTransform {
  readonly t: ScaleIntensityRange;
  constructor(opts: MapTransformOptions & ScaleIntensityRangeOptions) {
    super(opts);
    this.t = new ScaleIntensityRange(opts);
  }
  call(d: Data): Data {
    const out = { ...d };
    for (const k of this.presentKeys(d)) out[k] = this.t.call(d[k] as Volume);
    return out;
  }
}
