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
export {
  loadModel,
  checkpointMetadata,
  resolveCheckpointPath,
  buildModel,
  METADATA_ARCH_KEY,
  METADATA_ARCH_CONFIG_KEY,
  type LoadedModel,
  type LoadModelOptions,
  type LoadModelReport,
  type ArchName,
} from './nn/load_model';
export {
  collectResults,
  readRunResult,
  findRunDirs,
  resultsTable,
  resultsBarChartSpec,
  publishedResults,
  meanStd,
  relativeImprovement,
  RESULTS_CAPTION,
  type RunResult,
  type ResultsTable,
  type ResultsRow,
} from './train/results';
export { Adam, type AdamOptions, type OptimizerState } from './train/optim';
export { loadConfig, parseConfig, listPresets, type TrainConfig, type PretrainConfig, type FinetuneConfig } from './train/config';
export { pretrain, type TrainResult } from './train/pretrain';
export { finetune, loadPretrainedBackbone } from './train/finetune';
export { validateSegmentation, validateReconstruction, type SegmentationScores } from './train/validate';
export { TrainingDivergedError, InsufficientMemoryError, type TrainOptions } from './train/session';
export { RunFolder, type MetricsRecord, type RunSummary } from './train/run_folder';
export { CheckpointStore, type CheckpointState } from './train/checkpoints';
export { runExperiment, writeResults, loadExperimentConfig, type ExperimentConfig } from './train/experiment';
export { prepareDemoData, type DemoData } from './train/demo_data';
export { estimateTrainingMemory, type MemoryEstimate } from './train/memory';
