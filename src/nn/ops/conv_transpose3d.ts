/**
 * 3-D transposed convolution with kernel = stride (k = s = 2 in UNETR, 4 in ViTAutoEnc), no padding, NDHWC.
 * Each input voxel writes one k³ block, so it is one matmul [N, Cin]·[Cin, k³·Cout] plus a reshape/transpose that
 * interleaves the blocks; gradients follow from the matmul's (plain-matmul) gradient. TF.js's own conv3dTranspose is
 * wrong on wasm and has no gradient on any backend.
 *
 * Filter layout: [in, kd, kh, kw, out] (PyTorch ConvTranspose3d's [in, out, kd, kh, kw] is converted in io/checkpoint).
 */
import * as tf from '@tensorflow/tfjs';
import { matmul2d } from './matmul';
import { add, reshape } from './add';

export function convTranspose3d(x: tf.Tensor5D, w: tf.Tensor5D, b?: tf.Tensor1D, stride?: number): tf.Tensor5D {
  return tf.tidy(() => {
    const [B, X, Y, Z, C] = x.shape;
    const [cin, kd, kh, kw, cout] = w.shape;
    if (cin !== C) throw new Error(`convTranspose3d: input has ${C} channels but the filter expects ${cin} ([${w.shape}])`);
    const k = kd;
    if (kh !== k || kw !== k || (stride !== undefined && stride !== k)) {
      throw new Error(`convTranspose3d: only kernel = stride (cubic) is supported, got kernel [${kd},${kh},${kw}] stride ${stride}`);
    }
    let y: tf.Tensor = matmul2d(tf.reshape(x, [B * X * Y * Z, C]) as tf.Tensor2D, tf.reshape(w, [C, k * k * k * cout]) as tf.Tensor2D);
    // the bias on rows of Cout before the interleave: its gradient is then a column sum of a 2-D tensor (a fast
    // reduction on every backend) instead of a sum over four axes of the 5-D output
    // (reshapes whose gradients keep nothing alive: the product and the interleaved copy are dead after this)
    if (b) y = add(reshape(y, [-1, cout]), b);
    // [B, X, Y, Z, k, k, k, Cout] → [B, X, k, Y, k, Z, k, Cout]; merge (Z, k, k, Cout) pairs to stay ≤ rank 6
    const blocks = reshape(y, [B * X, Y, Z, k, k, k * cout]);
    const inter = tf.transpose(blocks, [0, 3, 1, 4, 2, 5]); // [B·X, k, Y, k, Z, k·Cout]
    return reshape(inter, [B, X * k, Y * k, Z * k, cout]) as tf.Tensor5D;
  });
}
