import * as tf from '@tensorflow/tfjs';

/** Concatenate NDHWC tensors along channels (UNETR's `cat([upsampled, skip], 1)` in PyTorch's layout). */
export function concatChannels(xs: tf.Tensor5D[]): tf.Tensor5D {
  return tf.concat(xs, 4) as tf.Tensor5D;
}
