import type { Volume } from '../../core/volume';
import { MapTransform, type Data, type MapTransformOptions } from '../core/transform';
import { CropForeground, SpatialPad, type CropForegroundOptions, type SpatialPadOptions } from './array';

/** Dictionary form of `CropForeground`: the box is computed on `sourceKey` and applied to every key. */
export class CropForegroundd extends MapTransform {
  readonly t: CropForeground;
  readonly sourceKey: string;
  constructor(opts: MapTransformOptions & CropForegroundOptions & { sourceKey: string }) {
    super(opts);
    this.t = new CropForeground(opts);
    this.sourceKey = opts.sourceKey;
  }
  call(d: Data): Data {
    const src = d[this.sourceKey] as Volume | undefined;
    if (!src) throw new Error(`CropForegroundd: source key '${this.sourceKey}' is missing from the data`);
    const box = this.t.computeBox(src);
    const out: Data = { ...d, foreground_start_coord: box.start, foreground_end_coord: box.end };
    for (const k of this.presentKeys(d)) out[k] = this.t.call(d[k] as Volume, box);
    return out;
  }
}

/** Dictionary form of `SpatialPad`. */
export class SpatialPadd extends MapTransform {
  readonly t: SpatialPad;
  constructor(opts: MapTransformOptions & SpatialPadOptions) {
    super(opts);
    this.t = new SpatialPad(opts);
  }
  call(d: Data): Data {
    const out = { ...d };
    for (const k of this.presentKeys(d)) out[k] = this.t.call(d[k] as Volume);
    return out;
  }
}
