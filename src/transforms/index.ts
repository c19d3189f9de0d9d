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
