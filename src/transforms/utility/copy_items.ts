import type { Volume } from '../../core/volume';
import { ArgumentError } from '../../errors';
import { MapTransform, type Data, type MapTransformOptions } from '../core/transform';
import { cloneVolume } from '../../core/volume';

/** MONAI `CopyItemsd(keys, times, names)`: independent deep copies of `keys` under `names`. */
export class CopyItemsd extends MapTransform {
  readonly names: string[];
  constructor(opts: MapTransformOptions & { times?: number; names: string[] }) {
    super(opts);
    const times = opts.times ?? 1;
    if (opts.names.length !== times * this.keys.length) {
      throw new ArgumentError(`CopyItemsd: need ${times * this.keys.length} names (times × keys), got ${opts.names.length}`);
    }
    this.names = opts.names;
  }
  call(d: Data): Data {
    const keys = this.presentKeys(d);
    const out: Data = { ...d };
    let n = 0;
    const times = this.names.length / this.keys.length;
    for (let t = 0; t < times; t++) for (const k of keys) out[this.names[n++]] = cloneVolume(d[k] as Volume);
    return out;
  }
}
