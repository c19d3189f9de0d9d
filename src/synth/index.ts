/** Synthetic abdominal CT phantoms with BTCV organ labels (see `generatePhantom` and `writePhantomSet`). */
export { generatePhantom, orientationForIndex, organStats, PRESETS } from './phantom';
export type { Phantom, PhantomOptions, PhantomPreset, OrganStats } from './phantom';
export { writePhantomSet, gzipOptions } from './dataset';
export type { PhantomSetOptions, PhantomSetResult, PhantomManifest, ManifestVolume, PhantomProgress } from './dataset';
export { sampleAnatomy, TISSUE_HU } from './anatomy';
export type { Anatomy } from './anatomy';
export { ORIENTATION_CYCLE, orientedAffine, type StoredOrientation } from './grid';
export { BTCV_LABELS, BTCV_LABEL_NAMES, BTCV_LABEL_DESCRIPTIONS, NUM_ORGANS, btcvLabelMap } from './labels';
