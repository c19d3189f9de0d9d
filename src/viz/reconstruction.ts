/**
 * What a pretrained ViTAutoEnc makes of its inputs, for figures: `reconstruct(model, views)` runs the autoencoder
 * (eval mode) on MONAI-layout volumes `(C, X, Y, Z)` and returns the reconstructions in the same layout, so they can
 * sit beside the inputs in `buildFigure` rows (original patch / augmented view / reconstruction).
 */
import * as tf from '@tensorflow/tfjs';
import type { Volume } from '../core/volume';
import { ArgumentError } from '../errors';
import { fromTorch, toTorch } from '../io/checkpoint/layout';
import type { ViTAutoEnc } from '../nn/nets/vit';

/** Reconstructions of `volumes` (each `(C, X, Y, Z)` of the model's `img_size`), one forward pass per volume. */
export function reconstruct(model: ViTAutoEnc, volumes: readonly Volume[]): Volume[] {
  const wasTraining = model.training;
  model.eval();
  try {
    return volumes.map((v) => {
      if (v.shape.length !== 4) throw new ArgumentError(`reconstruct: expected a (C, X, Y, Z) volume, got shape [${v.shape.join(', ')}]`);
      const out = tf.tidy(() => {
        const x = fromTorch(tf.tensor(v.data, [1, ...v.shape]), 'activation') as tf.Tensor5D;
        return toTorch(model.forward(x).out, 'activation');
      });
      const data = out.dataSync() as Float32Array;
      const shape = out.shape.slice(1) as [number, number, number, number];
      out.dispose();
      return { data: Float32Array.from(data), shape, affine: v.affine.map((r) => r.slice()) };
    });
  } finally {
    model.train(wasTraining);
  }
}
