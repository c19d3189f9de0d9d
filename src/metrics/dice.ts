/**
 * MONAI `DiceMetric(include_background, reduction="mean", ignore_empty=True)` on class-id volumes, and the tutorial's
 * "mean of running means" validation score (spec §4.5).
 *
 * Plain JavaScript over class-id arrays (any flat order, the same for prediction and label), which is what
 * `AsDiscrete(argmax=True, to_onehot=C)` / `AsDiscrete(to_onehot=C)` encode; use {@link argmaxIds} to get ids from
 * NDHWC logits. No tensors are held.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Per-class Dice of one case: `d_c = 2|P_c ∩ G_c| / (|P_c| + |G_c|)` when the label contains class c, else NaN
 * (ignore_empty). Classes 0..numClasses−1, or 1..numClasses−1 without background. Ids outside [0, numClasses) throw.
 */
export function computeDice(
  pred: ArrayLike<number>,
  label: ArrayLike<number>,
  numClasses: number,
  includeBackground = true,
): number[] {
  if (pred.length !== label.length) throw new Error(`computeDice: pred has ${pred.length} voxels, label ${label.length}`);
  const inter = new Float64Array(numClasses);
  const np = new Float64Array(numClasses);
  const ng = new Float64Array(numClasses);
  for (let i = 0; i < pred.length; i++) {
    const p = Math.round(pred[i]);
    const g = Math.round(label[i]);
    if (!(p >= 0 && p < numClasses && g >= 0 && g < numClasses)) {
      throw new Error(`computeDice: class id out of range at voxel ${i} (pred ${pred[i]}, label ${label[i]})`);
    }
    np[p]++;
    ng[g]++;
    if (p === g) inter[p]++;
  }
  const out: number[] = [];
  for (let c = includeBackground ? 0 : 1; c < numClasses; c++) {
    out.push(ng[c] > 0 ? (2 * inter[c]) / (np[c] + ng[c]) : NaN);
  }
  return out;
}

/** Class ids (argmax over the last axis) of NDHWC logits `[..., C]`, flattened in C order; tensor-leak-free. */
export function argmaxIds(logits: tf.Tensor): Int32Array {
  const t = tf.tidy(() => tf.argMax(logits, -1));
  const ids = t.dataSync() as Int32Array;
  t.dispose();
  return ids;
}

/** MONAI 'mean': per case the mean over its non-NaN classes (cases with none dropped), then over cases; 0 if none. */
export function meanDice(perCase: readonly (readonly number[])[]): number {
  let sum = 0;
  let n = 0;
  for (const row of perCase) {
    let s = 0;
    let k = 0;
    for (const v of row) if (!Number.isNaN(v)) (s += v), k++;
    if (k > 0) (sum += s / k), n++;
  }
  return n > 0 ? sum / n : 0;
}

/**
 * The tutorial's reported "Val Mean Dice": after each case it appends `dice_metric.aggregate()` (the running mean
 * over the cases seen so far), then averages those running values, so early cases weigh more. Per-case scores
 * [1.0, 0.333] give running [1.0, 0.667] and 0.833 (the true mean is 0.667). `perCaseScores` are the per-case
 * class-averaged scores (NaN = a case with no valid class, skipped as MONAI does).
 */
export function runningMeanOfMeans(perCaseScores: readonly number[]): number {
  const running: number[] = [];
  let sum = 0;
  let n = 0;
  for (const s of perCaseScores) {
    if (!Number.isNaN(s)) (sum += s), n++;
    running.push(n > 0 ? sum / n : 0);
  }
  return running.length ? running.reduce((a, b) => a + b, 0) / running.length : NaN;
}

export interface DiceMetricOptions {
  /** Keep class 0 (MONAI default true, as the tutorial). */
  includeBackground?: boolean;
}

/** Cumulative `DiceMetric`: `update` appends cases to a buffer until `reset`. */
export class DiceMetric {
  readonly includeBackground: boolean;
  private buffer: number[][] = [];
  constructor(opts: DiceMetricOptions = {}) {
    this.includeBackground = opts.includeBackground ?? true;
  }

  /** Per-class Dice of one case (not buffered); see {@link computeDice}. */
  compute(pred: ArrayLike<number>, label: ArrayLike<number>, numClasses: number): number[] {
    return computeDice(pred, label, numClasses, this.includeBackground);
  }

  /** Computes one case, appends it to the buffer and returns its per-class row. */
  update(pred: ArrayLike<number>, label: ArrayLike<number>, numClasses: number): number[] {
    const row = this.compute(pred, label, numClasses);
    if (this.buffer.length && this.buffer[0].length !== row.length) {
      throw new Error(`DiceMetric.update: ${row.length} classes after ${this.buffer[0].length}`);
    }
    this.buffer.push(row);
    return row;
  }

  /** The buffered per-case per-class matrix (NaN = class absent from that label); a copy. */
  perCase(): number[][] {
    return this.buffer.map((r) => r.slice());
  }

  /** MONAI reduction 'mean' over the buffer (see {@link meanDice}). */
  aggregate(): number {
    return meanDice(this.buffer);
  }

  /** MONAI 'mean_batch': per class the mean over cases where it is not NaN; 0 for a class never valid. */
  aggregatePerClass(): number[] {
    if (!this.buffer.length) return [];
    return this.buffer[0].map((_, c) => {
      let s = 0;
      let k = 0;
      for (const row of this.buffer) if (!Number.isNaN(row[c])) (s += row[c]), k++;
      return k > 0 ? s / k : 0;
    });
  }

  reset(): void {
    this.buffer = [];
  }
}
