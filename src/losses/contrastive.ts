/**
 * MONAI `ContrastiveLoss` (SimCLR NT-Xent, MONAI ≥ 1.0 semantics) and the tutorial's "regularized" SSL total, spec
 * §4.2–4.3.
 */
import * as tf from '@tensorflow/tfjs';
import { l1Loss } from './l1';

/** The temperature the tutorial actually uses (every script and notebook). The README's 0.005 is a typo. */
export const SSL_TEMPERATURE = 0.05;

/** Per-row L2 normalisation as in `F.cosine_similarity` (norms clamped below at eps = 1e-8). */
function normalizeRows(z: tf.Tensor2D, eps = 1e-8): tf.Tensor2D {
  const norm = tf.maximum(tf.sqrt(tf.sum(tf.square(z), 1, true)), eps);
  return tf.div(z, norm);
}

/**
 * NT-Xent between `input` and `target`, each `[B, ...]` (flattened per sample to `[B, F]`; any feature order works,
 * since cosine similarity is invariant to a common permutation of features, so NDHWC and NCDHW flattenings agree).
 *
 * z = cat(input, target) (2B rows); S = cosine similarity (eps 1e-8); positive of row i is row (i + B) mod 2B;
 * l_i = −S[i,pos]/τ + log Σ_{k≠i} exp(S[i,k]/τ) (the denominator includes the positive); loss = Σ l_i / 2B.
 * Computed in log-sum-exp form (MONAI exponentiates directly; identical in exact arithmetic).
 */
export function contrastiveLoss(input: tf.Tensor, target: tf.Tensor, temperature = SSL_TEMPERATURE): tf.Scalar {
  if (input.shape[0] !== target.shape[0] || input.size !== target.size) {
    throw new Error(`contrastiveLoss: input ${JSON.stringify(input.shape)} and target ${JSON.stringify(target.shape)} differ`);
  }
  return tf.tidy(() => {
    const b = input.shape[0];
    const n = 2 * b;
    const z = tf.concat([tf.reshape(input, [b, -1]), tf.reshape(target, [b, -1])], 0) as tf.Tensor2D;
    const zn = normalizeRows(z);
    const logits = tf.div(tf.matMul(zn, zn, false, true), temperature);
    const eye = tf.eye(n);
    // Exclude k = i from the denominator (exp(−1e9) underflows to exactly 0; its gradient is 0).
    const lse = tf.logSumExp(tf.sub(logits, tf.mul(eye, 1e9)), 1);
    const posIdx = Array.from({ length: n }, (_, i) => (i + b) % n);
    const posMask = tf.oneHot(tf.tensor1d(posIdx, 'int32'), n).toFloat();
    const pos = tf.sum(tf.mul(logits, posMask), 1);
    return tf.div(tf.sum(tf.sub(lse, pos)), n) as tf.Scalar;
  });
}

/**
 * `monai.losses.ContrastiveLoss`. MONAI's constructor default is temperature 0.5; the tutorial passes 0.05 (the
 * README's "0.005" is a typo, see spec §4.2). The batch size is inferred from the input (MONAI ≥ 1.0); the old
 * `batch_size` argument is not supported.
 */
export class ContrastiveLoss {
  readonly temperature: number;
  constructor(opts: { temperature?: number } = {}) {
    this.temperature = opts.temperature ?? 0.5;
  }
  call(input: tf.Tensor, target: tf.Tensor): tf.Scalar {
    return contrastiveLoss(input, target, this.temperature);
  }
}

export interface RegularizedSslLoss {
  /** r + cl·r, gradients through both factors (nothing detached). */
  total: tf.Scalar;
  /** r = L1(out1, gt). */
  l1: tf.Scalar;
  /** cl = ContrastiveLoss(τ)(flatten(out1), flatten(out2)). */
  contrastive: tf.Scalar;
}

/**
 * The tutorial's total loss (spec §4.3): only view 1 is reconstructed against the clean crop `gt`; the contrastive
 * term compares the two reconstructed volumes; `total = r + cl·r`. The caller disposes the three scalars.
 */
export function regularizedSslLoss(
  out1: tf.Tensor,
  out2: tf.Tensor,
  gt: tf.Tensor,
  temperature = SSL_TEMPERATURE,
): RegularizedSslLoss {
  return tf.tidy(() => {
    const l1 = l1Loss(out1, gt);
    const contrastive = contrastiveLoss(out1, out2, temperature);
    const total = tf.add(l1, tf.mul(contrastive, l1)) as tf.Scalar;
    return { total, l1, contrastive };
  });
}
