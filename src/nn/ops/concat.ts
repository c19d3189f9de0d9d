import * as tf from '@tensorflow/tfjs';
import { customOp } from './custom';

/**
 * Concatenate NDHWC tensors along channels (UNETR's `cat([upsampled, skip], 1)` in PyTorch's layout). The gradient
 * splits dy by the known channel counts; TF.js's Concat gradient saves every input just to read their shapes, which
 * kept UNETR's 96³ skip and upsampled tensors alive until the backward pass.
 */
export function concatChannels(xs: tf.Tensor5D[]): tf.Tensor5D {
  const sizes = xs.map((x) => x.shape[4]);
  return customOp<tf.Tensor5D>(() => ({
    value: tf.concat(xs, 4) as tf.Tensor5D,
    gradFunc: (dy) => tf.split(dy, sizes, 4),
  }))(...xs);
}
