/** Reconstruction loss: `torch.nn.L1Loss()` (reduction "mean"), spec §4.1. */
import * as tf from '@tensorflow/tfjs';

/** mean(|pred − target|) over all elements; a scalar. */
export function l1Loss(pred: tf.Tensor, target: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.abs(tf.sub(pred, target))) as tf.Scalar);
}

/** MONAI/PyTorch-named wrapper of {@link l1Loss}. */
export class L1Loss {
  call(pred: tf.Tensor, target: tf.Tensor): tf.Scalar {
    return l1Loss(pred, target);
  }
}
