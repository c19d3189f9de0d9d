import type { Volume } from '../../core/volume';
import { MapTransform, perKey, type Data, type MapTransformOptions } from '../core/transform';
import { Orientation, Spacing, type OrientationOptions } from './array';
import type { InterpolationMode } from './functional';

/** Dictionary form of `Orientation`. */
export class Orientationd extends MapTransform {
  readonly t: Orientation;
  constructor(opts: MapTransformOptions & OrientationOptions) {
    super(opts);
    this.t = new Orientation(opts);
  }
  call(d: Data): Data {
    const out = { ...d };
    for (const k of this.presentKeys(d)) out[k] = this.t.call(d[k] as Volume);
    return out;
  }
}

/** Dictionary form of `Spacing`; `mode` may be one value or one per key (e.g. ['bilinear', 'nearest']). */
export class Spacingd extends MapTransform {
  readonly t: Spacing;
  readonly modes: InterpolationMode[];
  constructor(opts: MapTransformOptions & { pixdim: number | [number, number, number]; mode?: InterpolationMode | InterpolationMode[] }) {
    super(opts);
    this.t = new Spacing({ pixdim: opts.pixdim });
    this.modes = perKey(opts.mode ?? 'bilinear', this.keys, 'mode');
  }
  call(d: Data): Data {
    const out = { ...d };
    for (const k of this.presentKeys(d)) out[k] = this.t.call(d[k] as Volume, this.modes[this.keys.indexOf(k)]);
    return out;
  }
}
