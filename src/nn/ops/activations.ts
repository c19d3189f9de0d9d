import * as tf from '@tensorflow/tfjs';
import { NATIVE_LEAKY_RELU_GRAD } from '../../backend/native_kernels';
import { NATIVE_BIAS_GELU, NATIVE_BIAS_GELU_GRAD, NATIVE_GELU, NATIVE_GELU_GRAD, NATIVE_SOFTMAX, NATIVE_SOFTMAX_GRAD } from '../../backend/native_ops';
import { customOp } from './custom';

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * Exact GELU, x·Φ(x) = 0.5·x·(1 + erf(x/√2)) (PyTorch `approximate='none'`), with an analytic gradient. On the native
 * backend with ssl3d's op library (src/backend/native_ops.ts): one op forward, one backward.
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  return x.dtype === 'float32' && tf.getKernel(NATIVE_GELU, tf.getBackend()) ? fusedGelu(x) : opByOpGelu(x);
}

const fusedGelu: (x: tf.Tensor) => tf.Tensor = customOp(([x], save) => {
  save([x]);
  return {
    value: tf.engine().runKernel(NATIVE_GELU, { x }) as tf.Tensor,
    gradFunc: (dy, [sx]) => tf.engine().runKernel(NATIVE_GELU_GRAD, { dy, x: sx }) as tf.Tensor,
  };
});

/**
 * GELU(x + b) for x [.., D] and a bias b [D] (a linear layer's bias and the activation after it). Native backend with
 * ssl3d's op library: one op forward and one backward (dx and db together) instead of the bias add's pass and its
 * gradient's column sum; elsewhere gelu(x + b).
 */
export function biasGelu(x: tf.Tensor, b: tf.Tensor1D): tf.Tensor {
  if (x.dtype === 'float32' && b.dtype === 'float32' && tf.getKernel(NATIVE_BIAS_GELU, tf.getBackend())) return fusedBiasGelu(x, b);
  return tf.tidy(() => gelu(tf.add(x, b)));
}

const fusedBiasGelu: (x: tf.Tensor, b: tf.Tensor) => tf.Tensor = customOp(([x, b], save) => {
  save([x, b]);
  return {
    value: tf.engine().runKernel(NATIVE_BIAS_GELU, { x, b }) as tf.Tensor,
    gradFunc: (dy, [sx, sb]) => tf.engine().runKernel(NATIVE_BIAS_GELU_GRAD, { dy, x: sx, b: sb }) as tf.Tensor[],
  };
});

const opByOpGelu: (x: tf.Tensor) => tf.Tensor = customOp(([x], save) => {
  save([x]);
  return {
    value: tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, SQRT1_2))))),
    gradFunc: (dy, [sx]) =>
      tf.tidy(() => {
        const cdf = tf.mul(0.5, tf.add(1, tf.erf(tf.mul(sx, SQRT1_2))));
        const pdf = tf.mul(INV_SQRT_2PI, tf.exp(tf.mul(tf.square(sx), -0.5)));
        return tf.mul(dy, tf.add(cdf, tf.mul(sx, pdf)));
      }),
  };
});

/**
 * LeakyReLU with PyTorch's default slope 0.01 (MONAI's UNETR blocks); a custom op so that its saved input and dy are
 * freed as soon as its gradient is computed (./custom.ts). Gradient dy where x > 0, α·dy elsewhere (TF.js's; native
 * TensorFlow: its LeakyReluGrad op, src/backend/native_kernels.ts).
 */
export function leakyRelu(x: tf.Tensor, alpha = 0.01): tf.Tensor {
  return customOp(([t], save) => {
    save([t]);
    return {
      value: tf.leakyRelu(t, alpha),
      gradFunc: (dy, [st]) =>
        st.dtype === 'float32' && tf.getKernel(NATIVE_LEAKY_RELU_GRAD, tf.getBackend())
          ? (tf.engine().runKernel(NATIVE_LEAKY_RELU_GRAD, { dy, x: st }, { alpha }) as tf.Tensor)
          : tf.tidy(() => tf.where(tf.greater(st, 0), dy, tf.mul(dy, alpha))),
    };
  })(x);
}

/**
 * Softmax over the last axis with the analytic gradient dx = y·(dy − Σ dy·y) (native backend with ssl3d's op library:
 * one op each way, src/backend/native_ops.ts).
 */
export const softmax: (x: tf.Tensor) => tf.Tensor = customOp(([x], save) => {
  const y = x.dtype === 'float32' && tf.getKernel(NATIVE_SOFTMAX, tf.getBackend()) ? (tf.engine().runKernel(NATIVE_SOFTMAX, { x }) as tf.Tensor) : tf.softmax(x);
  save([y]);
  return {
    value: y,
    gradFunc: (dy, [sy]) =>
      sy.dtype === 'float32' && tf.getKernel(NATIVE_SOFTMAX_GRAD, tf.getBackend())
        ? (tf.engine().runKernel(NATIVE_SOFTMAX_GRAD, { dy, y: sy }) as tf.Tensor)
        : tf.tidy(() => tf.mul(sy, tf.sub(dy, tf.sum(tf.mul(dy, sy), -1, true)))),
  };
});
