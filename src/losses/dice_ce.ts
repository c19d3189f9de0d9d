/**
 * MONAI `DiceCELoss(to_onehot_y=True, softmax=True)` with all other arguments at their defaults (spec §4.4), for
 * NDHWC logits.
 */
import * as tf from '@tensorflow/tfjs';
import { softmax } from '../nn/ops';

export interface DiceCEOptions {
  /** Keep channel 0 (background) in the Dice term (MONAI default true). The CE term always uses every class. */
  includeBackground?: boolean;
  smoothNr?: number;
  smoothDr?: number;
  lambdaDice?: number;
  lambdaCe?: number;
}

/**
 * `logits` `[B, X, Y, Z, C]` (raw), `labels` `[B, X, Y, Z, 1]` holding class ids as floats.
 *
 *   p = softmax over C, g = one_hot(labels, C)
 *   Dice = mean over b, c of 1 − (2 Σ_v p·g + nr) / (Σ_v p + Σ_v g + dr)   (per sample, per class; batch=False)
 *   CE   = mean over voxels of −log softmax(logits)[label]                   (nn.CrossEntropyLoss)
 *   loss = λ_dice·Dice + λ_ce·CE
 */
export function diceCELoss(logits: tf.Tensor, labels: tf.Tensor, opts: DiceCEOptions = {}): tf.Scalar {
  const { includeBackground = true, smoothNr = 1e-5, smoothDr = 1e-5, lambdaDice = 1, lambdaCe = 1 } = opts;
  if (logits.rank !== 5 || labels.rank !== 5 || labels.shape[4] !== 1) {
    throw new Error(`diceCELoss: expected logits [B,X,Y,Z,C] and labels [B,X,Y,Z,1], got ${JSON.stringify(logits.shape)} and ${JSON.stringify(labels.shape)}`);
  }
  const c = logits.shape[4] as number;
  if (!includeBackground && c === 1) throw new Error('diceCELoss: includeBackground=false needs more than one class');
  return tf.tidy(() => {
    const ids = tf.cast(tf.round(tf.squeeze(labels, [4])), 'int32');
    const g = tf.oneHot(ids, c).toFloat();
    const p = softmax(logits);
    const [pd, gd] = includeBackground
      ? [p, g]
      : [tf.slice(p, [0, 0, 0, 0, 1], [-1, -1, -1, -1, c - 1]), tf.slice(g, [0, 0, 0, 0, 1], [-1, -1, -1, -1, c - 1])];
    const axes = [1, 2, 3];
    const inter = tf.sum(tf.mul(pd, gd), axes);
    const denom = tf.add(tf.sum(pd, axes), tf.sum(gd, axes));
    const dice = tf.mean(tf.sub(1, tf.div(tf.add(tf.mul(inter, 2), smoothNr), tf.add(denom, smoothDr))));
    const ce = tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), g), -1)));
    return tf.add(tf.mul(dice, lambdaDice), tf.mul(ce, lambdaCe)) as tf.Scalar;
  });
}

/** `monai.losses.DiceCELoss(to_onehot_y=True, softmax=True, ...)`. */
export class DiceCELoss {
  constructor(readonly opts: DiceCEOptions = {}) {}
  call(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
    return diceCELoss(logits, labels, this.opts);
  }
}
