import * as tf from '@tensorflow/tfjs';
import { customOp } from './custom';

/** dy summed over the axes that broadcasting added or stretched, in `shape`. */
function reduceTo(dy: tf.Tensor, shape: number[]): tf.Tensor {
  const axes = tf.backend_util.getReductionAxes(shape, dy.shape);
  return tf.reshape(axes.length ? tf.sum(dy, axes) : dy, shape);
}

/**
 * a + b with broadcasting, whose gradient keeps no tensor alive. TF.js's Add gradient saves both inputs only to read
 * their shapes; a residual sum's inputs are otherwise dead after the forward, so at 96³ × 16 channels that held
 * 2 × 113 MB per UNETR residual block (and the conv output under every bias add) until the backward pass.
 */
export function add(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const [sa, sb] = [a.shape.slice(), b.shape.slice()];
  return customOp(() => ({
    value: tf.add(a, b),
    gradFunc: (dy) => tf.tidy(() => [reduceTo(dy, sa), reduceTo(dy, sb)]),
  }))(a, b);
}

/**
 * tf.reshape whose gradient keeps no tensor alive (TF.js's Reshape gradient saves the input for its shape): for
 * reshapes of tensors that are otherwise dead after the forward, such as the transposed convolution's product and
 * interleave (108 MB each at UNETR's 96³ level).
 */
export function reshape(x: tf.Tensor, shape: number[]): tf.Tensor {
  const inShape = x.shape.slice();
  return customOp(() => ({
    value: tf.reshape(x, shape),
    gradFunc: (dy) => tf.reshape(dy, inShape),
  }))(x);
}
