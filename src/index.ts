/**
 * ssl3d's public API. Everything a user imports comes from here; internals are not re-exported wholesale
 * (test/exports.test.ts keeps the list deliberate).
 */
export { VERSION } from './version';
export * from './errors';
export type { Affine } from './core/affine';
export { axcodes } from './core/affine';
export { createVolume, volumeStats, type Volume, type VolumeStats } from './core/volume';
export {
  loadNifti,
  decodeNifti,
  saveNifti,
  encodeNifti,
  type LoadNiftiOptions,
  type NiftiImage,
  type NiftiHeader,
  type SaveNiftiOptions,
  type WritableDtype,
} from './io/nifti';
export * from './transforms';
export { initBackend, availableBackends, describeBackend, type BackendInfo, type BackendName } from './backend/select';
