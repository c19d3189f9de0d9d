import type { Volume } from '../../core/volume';
import type { NiftiImage } from '../../io/nifti';
import { MapTransform, type Data, type MapTransformOptions } from '../core/transform';
import { EnsureChannelFirst } from './array';

/** Dictionary form of `EnsureChannelFirst`. */
export class EnsureChannelFirstd extends MapTransform {
  readonly t = new EnsureChannelFirst();
  constructor(opts: MapTransformOptions) {
    super(opts);
  }
  call(d: Data): Data {
    const out = { ...d };
    for (const k of this.presentKeys(d)) out[k] = this.t.call(d[k] as NiftiImage | Volume);
    return out;
  }
}
