import type { Volume } from '../../core/volume';
import type { NiftiImage } from '../../io/nifti';
import type { Transform } from '../core/transform';

export function isVolume(x: unknown): x is Volume {
  return typeof x === 'object' && x !== null && 'shape' in x && (x as Volume).shape.length === 4 && 'affine' in x;
}

/**
 * MONAI `EnsureChannelFirst`: a 3-D NIfTI has no channel axis, so one is added in front: (X, Y, Z) → (1, X, Y, Z).
 * A value that already is a channel-first Volume passes through.
 */
export class EnsureChannelFirst implements Transform<NiftiImage | Volume, Volume> {
  call(img: NiftiImage | Volume): Volume {
    if (isVolume(img)) return img;
    const [X, Y, Z] = img.shape;
    return { data: img.data, shape: [1, X, Y, Z], affine: img.affine.map((r) => r.slice()) };
  }
}
