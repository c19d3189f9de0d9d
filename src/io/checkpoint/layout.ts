/**
 * The one place that converts between PyTorch layouts (what MONAI checkpoints and fixtures hold) and the layouts
 * ssl3d's op layer uses:
 *
 * | tensor | PyTorch | ssl3d |
 * |---|---|---|
 * | activations | NCDHW [B, C, X, Y, Z] | NDHWC [B, X, Y, Z, C] |
 * | Conv3d weight | [out, in, kd, kh, kw] | [kd, kh, kw, in, out] |
 * | ConvTranspose3d weight | [in, out, kd, kh, kw] | [in, kd, kh, kw, out] |
 * | Linear weight | [out, in] | [in, out] |
 */
import * as tf from '@tensorflow/tfjs';

export type TorchKind = 'activation' | 'conv' | 'conv_transpose' | 'linear' | 'plain';

const TO_OURS: Record<TorchKind, number[] | null> = {
  activation: [0, 2, 3, 4, 1],
  conv: [2, 3, 4, 1, 0],
  conv_transpose: [0, 2, 3, 4, 1],
  linear: [1, 0],
  plain: null,
};

function inverse(perm: number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

/** PyTorch layout → ssl3d layout. */
export function fromTorch(t: tf.Tensor, kind: TorchKind): tf.Tensor {
  const perm = TO_OURS[kind];
  if (!perm) return tf.clone(t);
  if (t.rank !== perm.length) throw new Error(`fromTorch(${kind}): expected rank ${perm.length}, got shape [${t.shape}]`);
  return tf.transpose(t, perm);
}

/** ssl3d layout → PyTorch layout. */
export function toTorch(t: tf.Tensor, kind: TorchKind): tf.Tensor {
  const perm = TO_OURS[kind];
  if (!perm) return tf.clone(t);
  if (t.rank !== perm.length) throw new Error(`toTorch(${kind}): expected rank ${perm.length}, got shape [${t.shape}]`);
  return tf.transpose(t, inverse(perm));
}
