/**
 * The tutorial's deterministic preprocessing chains (spec §1.1 steps 1–6 without the random crop; §2.2), with the
 * tutorial's values as defaults. Small CPU presets are the same chains with other numbers.
 */
import { Compose } from './core/transform';
import { CropForegroundd, SpatialPadd } from './croppad/dict';
import { ScaleIntensityRanged } from './intensity/dict';
import { LoadImaged } from './io/dict';
import { Orientationd, Spacingd } from './spatial/dict';
import { EnsureChannelFirstd } from './utility/dict';

export interface PretrainPreprocessParams {
  /** Output voxel size, mm (tutorial: 2 mm isotropic). */
  pixdim: [number, number, number];
  /** HU window mapped to [0, 1] (tutorial: −57..164). */
  aMin: number;
  aMax: number;
  /** Volumes are padded to at least this size so that crops of it fit (tutorial: 96³). */
  patchSize: [number, number, number];
}

export const PRETRAIN_PREPROCESS: PretrainPreprocessParams = {
  pixdim: [2, 2, 2],
  aMin: -57,
  aMax: 164,
  patchSize: [96, 96, 96],
};

/** LoadImaged → EnsureChannelFirstd → Spacingd(bilinear) → ScaleIntensityRanged(clip) → CropForegroundd → SpatialPadd. */
export function pretrainPreprocess(p: Partial<PretrainPreprocessParams> = {}): Compose {
  const q = { ...PRETRAIN_PREPROCESS, ...p };
  const keys = ['image'];
  return new Compose([
    new LoadImaged({ keys }),
    new EnsureChannelFirstd({ keys }),
    new Spacingd({ keys, pixdim: q.pixdim, mode: 'bilinear' }),
    new ScaleIntensityRanged({ keys, aMin: q.aMin, aMax: q.aMax, bMin: 0, bMax: 1, clip: true }),
    new CropForegroundd({ keys, sourceKey: 'image', allowSmaller: true }),
    new SpatialPadd({ keys, spatialSize: q.patchSize }),
  ]);
}

export interface FinetunePreprocessParams {
  axcodes: string;
  /** Output voxel size, mm (tutorial: 1.5 × 1.5 × 2). */
  pixdim: [number, number, number];
  /** HU window mapped to [0, 1] (tutorial: −175..250). */
  aMin: number;
  aMax: number;
}

export const FINETUNE_PREPROCESS: FinetunePreprocessParams = {
  axcodes: 'RAS',
  pixdim: [1.5, 1.5, 2.0],
  aMin: -175,
  aMax: 250,
};

/**
 * The fine-tuning validation chain, which is also the deterministic prefix of the training chain:
 * LoadImaged → EnsureChannelFirstd → Orientationd(RAS) → Spacingd(bilinear | nearest) → ScaleIntensityRanged →
 * CropForegroundd(source image). The label key is optional.
 */
export function finetuneValPreprocess(p: Partial<FinetunePreprocessParams> = {}): Compose {
  const q = { ...FINETUNE_PREPROCESS, ...p };
  const keys = ['image', 'label'];
  const opt = { keys, allowMissingKeys: true };
  return new Compose([
    new LoadImaged(opt),
    new EnsureChannelFirstd(opt),
    new Orientationd({ ...opt, axcodes: q.axcodes }),
    new Spacingd({ ...opt, pixdim: q.pixdim, mode: ['bilinear', 'nearest'] }),
    new ScaleIntensityRanged({ keys: ['image'], aMin: q.aMin, aMax: q.aMax, bMin: 0, bMax: 1, clip: true }),
    new CropForegroundd({ ...opt, sourceKey: 'image', allowSmaller: true }),
  ]);
}

export type PreprocessPreset = 'pretrain' | 'finetune-val';
export const PREPROCESS_PRESETS: PreprocessPreset[] = ['pretrain', 'finetune-val'];

export function preprocessPreset(name: PreprocessPreset): Compose {
  return name === 'pretrain' ? pretrainPreprocess() : finetuneValPreprocess();
}
