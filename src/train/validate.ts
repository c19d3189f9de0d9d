/**
 * Validation as the tutorial does it (spec §4.5, §4.6, §5): pretraining = mean L1 of the reconstruction of view 1
 * against the clean crop over the validation batches; fine-tuning = sliding-window inference over each whole
 * preprocessed validation volume, argmax, per-class Dice (background included, NaN for absent classes), reported as
 * the true mean and as the tutorial's "mean of running means".
 */
import * as tf from '@tensorflow/tfjs';
import { batchTensor } from '../data/collate';
import type { DataLoader } from '../data/loader';
import type { SslDataset } from '../data/dataset';
import type { Volume } from '../core/volume';
import { argmaxLabels } from '../inference/segment';
import { slidingWindowInference } from '../inference/sliding_window';
import { l1Loss } from '../losses/l1';
import { DiceMetric, runningMeanOfMeans } from '../metrics/dice';
import type { UNETR } from '../nn/nets/unetr';
import type { ViTAutoEnc } from '../nn/nets/vit';
import { toNDHWC } from './session';

/** Mean L1 over (at most `maxBatches`) validation batches of `epoch`; the model is put in eval mode and back. */
export async function validateReconstruction(model: ViTAutoEnc, loader: DataLoader, epoch: number, maxBatches: number | null): Promise<number> {
  model.eval();
  let sum = 0;
  let n = 0;
  try {
    for await (const b of loader.epoch(epoch)) {
      const x = toNDHWC(batchTensor(b, 'image'));
      const gt = toNDHWC(batchTensor(b, 'gt_image'));
      const v = tf.tidy(() => l1Loss(model.forward(x).out, gt));
      sum += (await v.data())[0];
      n++;
      tf.dispose([x, gt, v]);
      if (maxBatches && n >= maxBatches) break;
    }
  } finally {
    model.train();
  }
  return n ? sum / n : NaN;
}

export interface SegmentationScores {
  /** MONAI DiceMetric 'mean' over the cases. */
  meanDice: number;
  /** The tutorial's reported value (mean of running means). */
  runningMeanDice: number;
  /** Per class 0..K−1: the mean over the cases where the class is present ('mean_batch'). */
  perClass: number[];
  /** Per case: the per-class rows (NaN = absent) and the case mean. */
  perCase: Array<{ index: number; file: string; dice: number[]; mean: number }>;
}

export interface SegmentationValidationOptions {
  roi: number;
  swBatchSize: number;
  overlap: number;
  numClasses: number;
  onCase?: (done: number, total: number) => void;
}

/** Sliding-window Dice of `model` on every item of `dataset` (a 'finetune-val' data set). */
export async function validateSegmentation(model: UNETR, dataset: SslDataset, o: SegmentationValidationOptions): Promise<SegmentationScores> {
  model.eval();
  const metric = new DiceMetric({ includeBackground: true });
  const perCase: SegmentationScores['perCase'] = [];
  try {
    for (let i = 0; i < dataset.length; i++) {
      const [d] = await dataset.get(i, 0);
      const image = d.image as Volume;
      const label = d.label as Volume;
      const logits = await slidingWindowInference({ data: image.data, shape: image.shape as [number, number, number, number] }, o.roi, o.swBatchSize, (b) => tf.tidy(() => model.forward(b)), {
        overlap: o.overlap,
      });
      const pred = argmaxLabels(logits);
      const row = metric.update(pred, label.data, o.numClasses);
      const present = row.filter((v) => !Number.isNaN(v));
      perCase.push({ index: i, file: dataset.describe(i), dice: row, mean: present.length ? present.reduce((a, b) => a + b, 0) / present.length : NaN });
      o.onCase?.(i + 1, dataset.length);
    }
  } finally {
    model.train();
  }
  return {
    meanDice: metric.aggregate(),
    runningMeanDice: runningMeanOfMeans(perCase.map((c) => c.mean)),
    perClass: metric.aggregatePerClass(),
    perCase,
  };
}

/**
 * The score of a model that predicts background everywhere, on the same validation data and metric: the "chance"
 * line a fine-tuned Dice should be read against (with background included, it is not 0).
 */
export async function backgroundOnlyDice(dataset: SslDataset, numClasses: number): Promise<number> {
  const metric = new DiceMetric({ includeBackground: true });
  for (let i = 0; i < dataset.length; i++) {
    const [d] = await dataset.get(i, 0);
    const label = d.label as Volume;
    metric.update(new Uint8Array(label.data.length), label.data, numClasses);
  }
  return metric.aggregate();
}
