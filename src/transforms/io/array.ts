import { loadNifti, type LoadNiftiOptions, type NiftiImage } from '../../io/nifti';
import type { Transform } from '../core/transform';

/** MONAI `LoadImage` for NIfTI (NibabelReader, float32, image_only): path → NiftiImage (no channel axis yet). */
export class LoadImage implements Transform<string, Promise<NiftiImage>> {
  constructor(readonly options: LoadNiftiOptions = {}) {}
  call(path: string): Promise<NiftiImage> {
    return loadNifti(path, this.options);
  }
}
