export { Compose, MapTransform, type Data, type Transform, type MapTransformOptions } from './core/transform';
export { LoadImage } from './io/array';
export { LoadImaged } from './io/dict';
export { EnsureChannelFirst } from './utility/array';
export { EnsureChannelFirstd } from './utility/dict';
export { Orientation, Spacing, type OrientationOptions, type SpacingOptions } from './spatial/array';
export { Orientationd, Spacingd } from './spatial/dict';
export { ScaleIntensityRange, type ScaleIntensityRangeOptions } from './intensity/array';
export { ScaleIntensityRanged } from './intensity/dict';
export { CropForeground, SpatialPad, type CropForegroundOptions, type SpatialPadOptions } from './croppad/array';
export { CropForegroundd, SpatialPadd } from './croppad/dict';
export {
  FINETUNE_PREPROCESS,
  PRETRAIN_PREPROCESS,
  finetuneValPreprocess,
  pretrainPreprocess,
  preprocessPreset,
  type FinetunePreprocessParams,
  type PreprocessPreset,
  type PretrainPreprocessParams,
} from './presets';
export { OneOf } from './core/one_of';
export { Randomizable, DRAWS_KEY, type Draw } from './core/randomizable';
export { applyTransform, type DataOrList } from './core/transform';
export {
  RandSpatialCropSamples,
  RandSpatialCropSamplesd,
  RandCropByPosNegLabel,
  RandCropByPosNegLabeld,
  RandCropByLabelClasses,
  RandCropByLabelClassesd,
} from './croppad/random';
export { RandCoarseDropout, RandCoarseDropoutd, RandCoarseShuffle, RandCoarseShuffled, RandShiftIntensity, RandShiftIntensityd, type Box } from './intensity/random';
export { RandFlip, RandFlipd, RandRotate90, RandRotate90d, flip, rot90 } from './spatial/random';
export { CopyItemsd } from './utility/copy_items';
export { buildPipeline, pipelineParams, TUTORIAL_PARAMS, PIPELINES, type Pipeline, type PipelineName, type PipelineParams } from './pipelines';
