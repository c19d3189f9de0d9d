/**
 * The tutorial's two training pipelines and the validation pipeline, as named presets (spec §1.1, §2.1, §2.2).
 * Each is split into the deterministic prefix (cacheable per volume) and the random part (run per sample):
 *
 * - `pretrain`: Load → EnsureChannelFirst → Spacing 2 mm → HU window −57..164 → CropForeground → SpatialPad(96³)
 *   | RandSpatialCropSamples(96³, 2) → CopyItems(image → gt_image, image_2) → for each view independently:
 *   OneOf(in-painting dropout (6 holes, 5→32), out-painting dropout (6 holes, 20→64)) → RandCoarseShuffle(p 0.8,
 *   10 boxes of 8³). Output per crop: `image` (view 1), `image_2` (view 2), `gt_image` (the clean crop).
 * - `finetune`: Load → EnsureChannelFirst → Orientation RAS → Spacing 1.5×1.5×2 → HU −175..250 → CropForeground
 *   | RandCropByPosNegLabel(96³, pos 1, neg 1, 4 samples) → RandFlip ×3 (p 0.1) → RandRotate90 (p 0.1, k ≤ 3)
 *   → RandShiftIntensity(±0.1, p 0.5).
 * - `finetune-val`: the deterministic part only (whole volumes go to sliding-window inference).
 *
 * Sizes scale with the patch: `pipelineParams('pretrain', { patch: 32 })` keeps the tutorial's proportions.
 */
import { Compose } from './core/transform';
import { OneOf } from './core/one_of';
import { RandCropByLabelClassesd, RandCropByPosNegLabeld, RandSpatialCropSamplesd } from './croppad/random';
import { RandCoarseDropoutd, RandCoarseShuffled, RandShiftIntensityd } from './intensity/random';
import { finetuneValPreprocess, pretrainPreprocess } from './presets';
import { RandFlipd, RandRotate90d } from './spatial/random';
import { CopyItemsd } from './utility/copy_items';
import { SpatialPadd } from './croppad/dict';
import { ArgumentError } from '../errors';

export type PipelineName = 'pretrain' | 'finetune' | 'finetune-val';
export const PIPELINES: PipelineName[] = ['pretrain', 'finetune', 'finetune-val'];

export interface HoleParams {
  holes: number;
  spatialSize: number;
  maxSpatialSize: number;
}

/** Every number of the pipelines; JSON-serialisable (it keys the cache and travels to worker threads). */
export interface PipelineParams {
  patch: [number, number, number];
  /** Pretraining */
  pretrainPixdim: [number, number, number];
  pretrainWindow: [number, number];
  cropsPerVolume: number;
  inpaint: HoleParams;
  outpaint: HoleParams;
  shuffle: { prob: number; holes: number; spatialSize: number };
  /** Fine-tuning */
  axcodes: string;
  finetunePixdim: [number, number, number];
  finetuneWindow: [number, number];
  samplesPerVolume: number;
  /** Pad fine-tuning volumes smaller than the patch (zeros) instead of MONAI's error; default false (MONAI). */
  finetunePadToPatch: boolean;
  /** How training crops are centred: MONAI RandCropByPosNegLabeld (the tutorial) or RandCropByLabelClassesd. */
  cropSampler: 'pos_neg' | 'label_classes';
  pos: number;
  neg: number;
  /** RandCropByLabelClasses: number of classes and their ratios (null = equal, background included). */
  numClasses: number;
  classRatios: number[] | null;
  flipProb: number;
  rot90Prob: number;
  rot90MaxK: number;
  shiftOffset: number;
  shiftProb: number;
}

export const TUTORIAL_PARAMS: PipelineParams = {
  patch: [96, 96, 96],
  pretrainPixdim: [2, 2, 2],
  pretrainWindow: [-57, 164],
  cropsPerVolume: 2,
  inpaint: { holes: 6, spatialSize: 5, maxSpatialSize: 32 },
  outpaint: { holes: 6, spatialSize: 20, maxSpatialSize: 64 },
  shuffle: { prob: 0.8, holes: 10, spatialSize: 8 },
  axcodes: 'RAS',
  finetunePixdim: [1.5, 1.5, 2.0],
  finetuneWindow: [-175, 250],
  samplesPerVolume: 4,
  finetunePadToPatch: false,
  cropSampler: 'pos_neg',
  pos: 1,
  neg: 1,
  numClasses: 14,
  classRatios: null,
  flipProb: 0.1,
  rot90Prob: 0.1,
  rot90MaxK: 3,
  shiftOffset: 0.1,
  shiftProb: 0.5,
};

/**
 * The tutorial's parameters for another cubic patch size: hole and box sizes scale with patch/96 (at least 1 voxel),
 * so a 32³ or 48³ CPU preset keeps the tutorial's proportions. `overrides` replace any field afterwards.
 */
export function pipelineParams(patch = 96, overrides: Partial<PipelineParams> = {}): PipelineParams {
  if (!Number.isInteger(patch) || patch < 8) throw new ArgumentError(`patch size must be an integer ≥ 8, got ${patch}`);
  const f = patch / 96;
  const s = (x: number) => Math.max(1, Math.round(x * f));
  const t = TUTORIAL_PARAMS;
  return {
    ...t,
    patch: [patch, patch, patch],
    inpaint: { holes: t.inpaint.holes, spatialSize: s(t.inpaint.spatialSize), maxSpatialSize: s(t.inpaint.maxSpatialSize) },
    outpaint: { holes: t.outpaint.holes, spatialSize: s(t.outpaint.spatialSize), maxSpatialSize: s(t.outpaint.maxSpatialSize) },
    shuffle: { ...t.shuffle, spatialSize: s(t.shuffle.spatialSize) },
    ...overrides,
  };
}

export interface Pipeline {
  name: PipelineName;
  params: PipelineParams;
  /** Deterministic prefix: datalist item (file paths) → preprocessed volumes. Cacheable. */
  deterministic: Compose;
  /** Random part: preprocessed volumes → list of samples; null for validation. Seed it with setRandomState. */
  random: Compose | null;
}

function views(key: string, p: PipelineParams): [OneOf, RandCoarseShuffled] {
  return [
    new OneOf([
      new RandCoarseDropoutd({ keys: [key], prob: 1, dropoutHoles: true, ...p.inpaint }),
      new RandCoarseDropoutd({ keys: [key], prob: 1, dropoutHoles: false, ...p.outpaint }),
    ]),
    new RandCoarseShuffled({ keys: [key], ...p.shuffle }),
  ];
}

export function buildPipeline(name: PipelineName, params: PipelineParams = TUTORIAL_PARAMS): Pipeline {
  const p = params;
  if (name === 'pretrain') {
    return {
      name,
      params: p,
      deterministic: pretrainPreprocess({ pixdim: p.pretrainPixdim, aMin: p.pretrainWindow[0], aMax: p.pretrainWindow[1], patchSize: p.patch }),
      random: new Compose([
        new RandSpatialCropSamplesd({ keys: ['image'], roiSize: p.patch, numSamples: p.cropsPerVolume }),
        new CopyItemsd({ keys: ['image'], times: 2, names: ['gt_image', 'image_2'] }),
        // two separate calls, so the views get independent holes (the tutorial's fix of 2021-12-03)
        ...views('image', p),
        ...views('image_2', p),
      ]),
    };
  }
  const deterministic = finetuneValPreprocess({ axcodes: p.axcodes, pixdim: p.finetunePixdim, aMin: p.finetuneWindow[0], aMax: p.finetuneWindow[1] });
  if (name === 'finetune-val') return { name, params: p, deterministic, random: null };
  if (p.finetunePadToPatch) {
    deterministic.transforms.push(new SpatialPadd({ keys: ['image', 'label'], allowMissingKeys: true, spatialSize: p.patch }));
  }
  if (name !== 'finetune') throw new ArgumentError(`unknown pipeline '${name}'; use one of ${PIPELINES.join(', ')}`);
  const keys = ['image', 'label'];
  return {
    name,
    params: p,
    deterministic,
    random: new Compose([
      p.cropSampler === 'label_classes'
        ? new RandCropByLabelClassesd({
            keys,
            labelKey: 'label',
            imageKey: 'image',
            spatialSize: p.patch,
            numClasses: p.numClasses,
            ratios: p.classRatios,
            numSamples: p.samplesPerVolume,
            imageThreshold: 0,
          })
        : new RandCropByPosNegLabeld({
            keys,
            labelKey: 'label',
            imageKey: 'image',
            spatialSize: p.patch,
            pos: p.pos,
            neg: p.neg,
            numSamples: p.samplesPerVolume,
            imageThreshold: 0,
          }),
      new RandFlipd({ keys, spatialAxis: [0], prob: p.flipProb }),
      new RandFlipd({ keys, spatialAxis: [1], prob: p.flipProb }),
      new RandFlipd({ keys, spatialAxis: [2], prob: p.flipProb }),
      new RandRotate90d({ keys, prob: p.rot90Prob, maxK: p.rot90MaxK }),
      new RandShiftIntensityd({ keys: ['image'], offsets: p.shiftOffset, prob: p.shiftProb }),
    ]),
  };
}
