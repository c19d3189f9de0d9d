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
export {
  loadDatalist,
  inspectDatalist,
  buildDatalist,
  type DatalistItem,
  type LoadDatalistOptions,
} from './io/datalist';
export { generatePhantom, writePhantomSet, BTCV_LABELS, type PhantomOptions, type PhantomSetOptions } from './synth';
export { Random } from './core/random';
export * as ops from './nn/ops';
export { loadSafetensors, saveSafetensors, decodeSafetensors, encodeSafetensors, CheckpointError, type StateDict } from './io/checkpoint/safetensors';
export { fromTorch, toTorch, type TorchKind } from './io/checkpoint/layout';
export * from './data';
export { writeNpy, readNpy, encodeNpy, decodeNpy } from './io/npy';
export * as viz from './viz';
export { Module, ViT, ViTAutoEnc, UNETR, type ViTConfig, type ViTAutoEncConfig, type UNETRConfig } from './nn';
export { saveCheckpoint, loadCheckpoint, loadViTBackbone, readStateDict, type SaveCheckpointOptions, type LoadReport } from './nn/checkpoint';
export { loadTorchCheckpoint } from './io/checkpoint/torch';
export * from './losses';
export * from './metrics';
export * from './inference';
