import * as tf from '@tensorflow/tfjs';
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

/** LayerNorm over the last axis (PyTorch eps 1e-5) with elementwise affine weight/bias. */
export function layerNorm(x: tf.Tensor, weight: tf.Tensor1D, bias: tf.Tensor1D, eps = 1e-5): tf.Tensor {
  return tf.tidy(() => tf.add(tf.mul(normalize([x.rank - 1], eps)(x), weight), bias));
}

/**
 * InstanceNorm3d without affine parameters (MONAI's `norm_name='instance'`): per sample and channel over the spatial
 * axes of an NDHWC tensor [B, X, Y, Z, C].
 */
export function instanceNorm(x: tf.Tensor5D, eps = 1e-5): tf.Tensor5D {
  return normalize([1, 2, 3], eps)(x) as tf.Tensor5D;
}
