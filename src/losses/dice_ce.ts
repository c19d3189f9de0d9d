/**
 * MONAI `DiceCELoss(to_onehot_y=True, softmax=True)` with all other arguments at their defaults (spec §4.4), for
 * NDHWC logits.
 */
import * as tf from '@tensorflow/tfjs';
import { customOp } from '../nn/ops/custom';

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
  return fusedDiceCE({ includeBackground, smoothNr, smoothDr, lambdaDice, lambdaCe })(logits, labels) as tf.Scalar;
}

/** One-hot of `labels` [B,X,Y,Z,1] (class ids as floats) with `c` classes. */
function oneHot(labels: tf.Tensor, c: number): tf.Tensor {
  return tf.tidy(() => tf.oneHot(tf.cast(tf.round(tf.squeeze(labels, [4])), 'int32'), c).toFloat());
}

/**
 * The loss as one op with its analytic gradient (autodiff through softmax, log-softmax, one-hot and the sums takes
 * about twice the passes over the [B, X, Y, Z, C] logits). With p = softmax(z), g = one_hot, per sample b and
 * class c: I = Σ_v p·g, S = Σ_v p + Σ_v g, Dice = mean_{b,c} 1 − (2I + nr)/(S + dr); CE = mean_v (lse − z[label]).
 *   ∂Dice/∂p = λd/(B·C′) · (−2g/(S + dr) + (2I + nr)/(S + dr)²)  =: u·g + w   (u, w per b, c; 0 for a dropped background)
 *   ∂CE/∂z = λce/N · (p − g)                                       (N = B·X·Y·Z)
 *   ∂loss/∂z = p ⊙ (u·g + w − Σ_c p·(u·g + w)) + λce/N · (p − g)   (the softmax Jacobian applied to ∂Dice/∂p)
 */
function fusedDiceCE(o: Required<DiceCEOptions>): (logits: tf.Tensor, labels: tf.Tensor) => tf.Tensor {
  return customOp(([z, labels], save) => {
    const [B, X, Y, Z, C] = z.shape as number[];
    const n = B * X * Y * Z;
    const kept = o.includeBackground ? C : C - 1;
    const mask = tf.tidy(() => (o.includeBackground ? tf.ones([1, C]) : tf.concat([tf.zeros([1, 1]), tf.ones([1, C - 1])], 1)));
    const axes = [1, 2, 3];
    const { value, p, a, q } = tf.tidy(() => {
      const g = oneHot(labels, C);
      const m = tf.max(z, -1, true);
      const e = tf.exp(tf.sub(z, m));
      const se = tf.sum(e, -1, true);
      const p = tf.div(e, se);
      const lse = tf.add(tf.log(se), m); // [B,X,Y,Z,1]
      const ce = tf.div(tf.sub(tf.sum(lse), tf.sum(tf.mul(z, g))), n);
      const inter = tf.sum(tf.mul(p, g), axes); // [B, C]
      const a = tf.reciprocal(tf.add(tf.add(tf.sum(p, axes), tf.sum(g, axes)), o.smoothDr)); // 1/(S + dr)
      const q = tf.mul(tf.add(tf.mul(inter, 2), o.smoothNr), a); // (2I + nr)/(S + dr)
      const dice = tf.div(tf.sum(tf.mul(tf.sub(1, q), mask)), B * kept);
      const value = tf.add(tf.mul(dice, o.lambdaDice), tf.mul(ce, o.lambdaCe));
      return { value, p, a, q };
    });
    save([p, labels, a, q, mask]);
    return {
      value: value as tf.Scalar,
      gradFunc: (dy, [sp, sl, sa, sq, smask]) =>
        tf.tidy(() => {
          const g = oneHot(sl, C);
          const scale = tf.mul(dy, o.lambdaDice / (B * kept));
          const u = tf.reshape(tf.mul(tf.mul(tf.mul(sa, -2), smask), scale), [B, 1, 1, 1, C]);
          const w = tf.reshape(tf.mul(tf.mul(tf.mul(sq, sa), smask), scale), [B, 1, 1, 1, C]);
          const k = tf.mul(dy, o.lambdaCe / n);
          const dp = tf.add(tf.mul(g, u), w); // ∂Dice/∂p
          const t = tf.sub(dp, tf.sum(tf.mul(sp, dp), -1, true));
          const dz = tf.sub(tf.mul(sp, tf.add(t, k)), tf.mul(g, k));
          return [dz, tf.zerosLike(sl)];
        }),
    };
  });
}

/** `monai.losses.DiceCELoss(to_onehot_y=True, softmax=True, ...)`. */
export class DiceCELoss {
  constructor(readonly opts: DiceCEOptions = {}) {}
  call(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
    return diceCELoss(logits, labels, this.opts);
  }
}
