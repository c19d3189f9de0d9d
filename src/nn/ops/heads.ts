/**
 * Attention's moves between token rows and heads. Token rows [B·T, N·H·d] (sample-major, columns N parts of H heads of
 * d values: the qkv projection's einops "b t (qkv h d)") ↔ N parts [B·H, T, d] (one [T, d] matrix per sample and
 * head, what the batched products take). Native TensorFlow with ssl3d's op library (src/backend/native_ops.ts): one
 * copy each way (Ssl3dSplitHeads / Ssl3dMergeHeads, each the other's gradient); elsewhere reshape, transpose,
 * reshape and unstack (stack going back).
 */
import * as tf from '@tensorflow/tfjs';
import { NATIVE_MERGE_HEADS, NATIVE_SPLIT_HEADS } from '../../backend/native_ops';

const fused = () => tf.getKernel(NATIVE_SPLIT_HEADS, tf.getBackend()) !== undefined;

function runSplit(x: tf.Tensor, parts: number, batch: number, heads: number, scale0: number): tf.Tensor3D[] {
  return tf.engine().runKernel(NATIVE_SPLIT_HEADS, { x }, { parts, batch, heads, scale0 }) as tf.Tensor3D[];
}
function runMerge(ps: tf.Tensor[], batch: number, scale0: number): tf.Tensor2D {
  const inputs = Object.fromEntries(ps.map((p, i) => [`part${i}`, p]));
  // parts and heads ride along for the gradient (the kernel reads batch and scale0)
  return tf.engine().runKernel(NATIVE_MERGE_HEADS, inputs, { batch, scale0, parts: ps.length, heads: ps[0].shape[0] / batch }) as tf.Tensor2D;
}

// Each op is the other's gradient (a kernel gradient, since tf.customGrad has one output only). TF.js passes the
// gradients of a multi-output kernel as an array, zeros for outputs off the gradient's path.
tf.registerGradient({
  kernelName: NATIVE_SPLIT_HEADS,
  gradFunc: (dy, _saved, attrs) => {
    const { batch, scale0 } = attrs as unknown as { batch: number; scale0: number };
    return { x: () => runMerge(dy as tf.Tensor[], batch, scale0) };
  },
});
tf.registerGradient({
  kernelName: NATIVE_MERGE_HEADS,
  gradFunc: (dy, _saved, attrs) => {
    const { batch, parts, heads, scale0 } = attrs as unknown as { batch: number; parts: number; heads: number; scale0: number };
    const dparts = runSplit(dy as tf.Tensor, parts, batch, heads, scale0);
    return Object.fromEntries(dparts.map((d, i) => [`part${i}`, () => d]));
  },
});

/**
 * x [B·T, N·H·d] → N tensors [B·H, T, d]; part 0 multiplied by `scale0` (attention's 1/√d on the queries, the
 * same as scaling the scores q·kᵀ).
 */
export function splitHeads(x: tf.Tensor2D, batch: number, heads: number, parts: number, scale0 = 1): tf.Tensor3D[] {
  const [R, W] = x.shape;
  if (R % batch || W % (parts * heads)) throw new Error(`splitHeads: x [${x.shape}] is not [batch·T, parts·heads·d] for batch ${batch}, parts ${parts}, heads ${heads}`);
  const T = R / batch, d = W / (parts * heads);
  if (fused() && x.dtype === 'float32') return runSplit(x, parts, batch, heads, scale0);
  return tf.tidy(() => {
    // a copy of unstack's array: TF.js's tape keeps that very array as the kernel's outputs
    const ps = [...tf.unstack(tf.reshape(tf.transpose(tf.reshape(x, [batch, T, parts, heads, d]), [2, 0, 3, 1, 4]), [parts, batch * heads, T, d]))] as tf.Tensor3D[];
    if (scale0 !== 1) ps[0] = tf.mul(ps[0], scale0);
    return ps;
  });
}

/** The inverse of splitHeads with scale0 = 1: N tensors [B·H, T, d] → token rows [B·T, N·H·d]. */
export function mergeHeads(ps: tf.Tensor3D[], batch: number): tf.Tensor2D {
  const [BH, T, d] = ps[0].shape;
  if (BH % batch || ps.some((p) => !tf.util.arraysEqual(p.shape, ps[0].shape))) throw new Error(`mergeHeads: parts [${ps.map((p) => `[${p.shape}]`)}] are not N × [batch·heads, T, d] for batch ${batch}`);
  const heads = BH / batch;
  if (fused() && ps.every((p) => p.dtype === 'float32')) return runMerge(ps, batch, 1);
  return tf.tidy(() => {
    const stacked = ps.length === 1 ? tf.reshape(ps[0], [1, BH, T, d]) : tf.stack(ps);
    return tf.reshape(tf.transpose(tf.reshape(stacked, [ps.length, batch, heads, T, d]), [1, 3, 0, 2, 4]), [batch * T, ps.length * heads * d]) as tf.Tensor2D;
  });
}
