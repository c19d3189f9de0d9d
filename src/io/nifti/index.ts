export { loadNifti, decodeNifti, isGzip, type NiftiImage, type LoadNiftiOptions } from './read';
export { saveNifti, encodeNifti, type SaveNiftiOptions } from './write';
export { bestAffine, monaiAffine, qformAffine, sformAffine } from './affine';
export type { NiftiHeader } from './header';
export type { WritableDtype, NiftiDtypeName } from './datatypes';
