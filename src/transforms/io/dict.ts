import type { LoadNiftiOptions } from '../../io/nifti';
import { ArgumentError } from '../../errors';
import { MapTransform, type Data, type MapTransformOptions } from '../core/transform';
import { LoadImage } from './array';

/** Dictionary form of `LoadImage`: each key holds a file path and is replaced by the loaded image. */
export class LoadImaged extends MapTransform {
  readonly t: LoadImage;
  constructor(opts: MapTransformOptions & LoadNiftiOptions) {
    super(opts);
    this.t = new LoadImage(opts);
  }
  async call(d: Data): Promise<Data> {
    const out = { ...d };
    for (const k of this.presentKeys(d)) {
      const p = d[k];
      if (typeof p !== 'string') throw new ArgumentError(`LoadImaged: key '${k}' should hold a file path, got ${typeof p}`);
      out[k] = await this.t.call(p);
    }
    return out;
  }
}
