import * as tf from '@tensorflow/tfjs';
import { NATIVE_FUSED_NORM, NATIVE_FUSED_NORM_GRAD } from '../../backend/native_kernels';
import { NATIVE_INSTANCE_NORM, NATIVE_INSTANCE_NORM_GRAD, NATIVE_LAYER_NORM, NATIVE_LAYER_NORM_GRAD } from '../../backend/native_ops';
import { customOp } from './custom';

/**
 * Normalise over `axes` with biased variance: (x − μ)/√(σ² + eps), with the closed-form gradient
 * dx = (dy − mean(dy) − x̂·mean(dy·x̂)) / √(σ² + eps).
 */
function normalize(axes: number[], eps: number) {
  return customOp(([x], save) => {
    const { xhat, rstd } = tf.tidy(() => {
      // not tf.moments: it adds a Cast, an Identity and a second subtraction (each a kernel dispatch on native)
      const d = tf.sub(x, tf.mean(x, axes, true));
      const r = tf.rsqrt(tf.add(tf.mean(tf.square(d), axes, true), eps));
      return { xhat: tf.mul(d, r), rstd: r };
    });
    save([xhat, rstd]);
    return {
      value: xhat,
      gradFunc: (dy, [sxhat, srstd]) =>
        tf.tidy(() => {
          const mdy = tf.mean(dy, axes, true);
          const mdyx = tf.mean(tf.mul(dy, sxhat), axes, true);
          return tf.mul(tf.sub(tf.sub(dy, mdy), tf.mul(sxhat, mdyx)), srstd);
        }),
    };
  });
}

/**
 * LayerNorm over the last axis (PyTorch eps 1e-5) with elementwise affine weight/bias. On the native backend with
 * ssl3d's op library (src/backend/native_ops.ts): one op forward, one backward (dx, dweight, dbias together).
 */
export function layerNorm(x: tf.Tensor, weight: tf.Tensor1D, bias: tf.Tensor1D, eps = 1e-5): tf.Tensor {
  if (x.dtype === 'float32' && tf.getKernel(NATIVE_LAYER_NORM, tf.getBackend())) return fusedLayerNorm(eps)(x, weight, bias);
  return tf.tidy(() => tf.add(tf.mul(normalize([x.rank - 1], eps)(x), weight), bias));
}

function fusedLayerNorm(eps: number) {
  return customOp(([x, weight, bias], save) => {
    const [y, mean, rstd] = tf.engine().runKernel(NATIVE_LAYER_NORM, { x, gamma: weight, beta: bias }, { epsilon: eps }) as tf.Tensor[];
    save([x, mean, rstd, weight]);
    return {
      value: y,
      gradFunc: (dy, [sx, smean, srstd, sweight]) =>
        tf.engine().runKernel(NATIVE_LAYER_NORM_GRAD, { dy, x: sx, mean: smean, rstd: srstd, gamma: sweight }) as tf.Tensor[],
    };
  });
}

/**
 * InstanceNorm3d without affine parameters (MONAI's `norm_name='instance'`): per sample and channel over the spatial
 * axes of an NDHWC tensor [B, X, Y, Z, C].
 */
export function instanceNorm(x: tf.Tensor5D, eps = 1e-5): tf.Tensor5D {
  if (x.dtype === 'float32' && tf.getKernel(NATIVE_INSTANCE_NORM, tf.getBackend())) return ssl3dInstanceNorm(eps)(x) as tf.Tensor5D;
  if (x.dtype === 'float32' && tf.getKernel(NATIVE_FUSED_NORM, tf.getBackend())) return fusedInstanceNorm(eps)(x) as tf.Tensor5D;
  return normalize([1, 2, 3], eps)(x) as tf.Tensor5D;
}

/** Native TensorFlow with ssl3d's op library (src/backend/native_ops.ts): the whole batch in one op each way. */
function ssl3dInstanceNorm(eps: number) {
  return customOp(([x], save) => {
    const [y, mean, rstd] = tf.engine().runKernel(NATIVE_INSTANCE_NORM, { x }, { epsilon: eps }) as tf.Tensor[];
    save([x, mean, rstd]);
    return {
      value: y,
      gradFunc: (dy, [sx, smean, srstd]) => tf.engine().runKernel(NATIVE_INSTANCE_NORM_GRAD, { dy, x: sx, mean: smean, rstd: srstd }) as tf.Tensor,
    };
  });
}

/**
 * Native TensorFlow without ssl3d's op library: FusedBatchNormV3 normalises per channel over N·H·W, so one sample's instance norm is one
 * FusedBatchNormV3 on its [1, X·Y, Z, C] view; backward through FusedBatchNormGradV3 (src/backend/native_kernels.ts).
 * A batch of one is that view of the tensor itself (no copies); larger batches are unstacked and stacked again
 * (moving the samples next to the channels instead, [1, S, 1, B·C], needs a transpose each way: equal at UNETR's
 * small preset, 8.29 vs 7.59 s per full-size training step, measured alternating).
 */
function fusedInstanceNorm(eps: number) {
  return customOp(([x], save) => {
    const [B, X, Y, Z, C] = x.shape;
    const view = (t: tf.Tensor) => tf.reshape(t, [1, X * Y, Z, C]);
    /** [B, X, Y, Z, C] → one [1, X·Y, Z, C] view per sample, and back */
    const split = (t: tf.Tensor) => (B === 1 ? [view(t)] : tf.unstack(t).map(view));
    const join = (ts: tf.Tensor[]) => tf.reshape(B === 1 ? ts[0] : tf.stack(ts), [B, X, Y, Z, C]) as tf.Tensor5D;
    const { y, keep } = tf.tidy(() => {
      const parts = split(x);
      const outs = parts.map((p) => tf.engine().runKernel(NATIVE_FUSED_NORM, { x: p }, { epsilon: eps }) as tf.Tensor[]);
      return { y: join(outs.map((o) => o[0])), keep: parts.flatMap((p, i) => [p, outs[i][1], outs[i][2], outs[i][3]]) };
    });
    save(keep);
    return {
      value: y,
      gradFunc: (dy, saved) =>
        tf.tidy(() => {
          const dxs = split(dy).map((d, b) => {
            const [xp, r1, r2, r3] = saved.slice(4 * b, 4 * b + 4);
            return tf.engine().runKernel(NATIVE_FUSED_NORM_GRAD, { dy: d, x: xp, r1, r2, r3 }, { epsilon: eps }) as tf.Tensor;
          });
          return join(dxs);
        }),
    };
  });
}
