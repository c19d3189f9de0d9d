/**
 * Dense products with gradients that stay on plain (non-transposed, non-batched) 2-D matmuls. TF.js's stock matMul
 * gradient uses transposeA/transposeB, which the wasm backend runs in a scalar loop (~2 GFLOP/s instead of ~30);
 * here the transposes are materialised first, so forward and backward both use the fast path.
 */
import * as tf from '@tensorflow/tfjs';
import { customOp } from './custom';
import { NATIVE_MATMUL_2D } from '../../backend/native_kernels';
import { nativeKernels } from './kernels';

/**
 * a [m, k] · b [k, n] → [m, n]. Native TensorFlow: its 2-D MatMul op (faster than the BatchMatMulV2 that tf.matMul
 * runs there) forward and backward where registered (src/backend/native_kernels.ts), else tf.matMul; other backends:
 * gradients as plain matmuls.
 */
export function matmul2d(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (!nativeKernels('matmul')) return matmul2dPlain(a, b);
  return tf.getKernel(NATIVE_MATMUL_2D, tf.getBackend()) ? matmul2dTf(a, b) : tf.matMul(a, b);
}

/** TensorFlow's MatMul with transpose flags (the kernel registered by src/backend/native_kernels.ts). */
function tfMatMul(a: tf.Tensor2D, b: tf.Tensor2D, transposeA: boolean, transposeB: boolean): tf.Tensor2D {
  return tf.engine().runKernel(NATIVE_MATMUL_2D, { a, b }, { transposeA, transposeB }) as tf.Tensor2D;
}

const matmul2dTf: (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D = customOp<tf.Tensor2D>(([a, b], save) => {
  save([a, b]);
  return {
    value: tfMatMul(a as tf.Tensor2D, b as tf.Tensor2D, false, false),
    gradFunc: (d, [sa, sb]) => [tfMatMul(d, sb as tf.Tensor2D, false, true), tfMatMul(sa as tf.Tensor2D, d, true, false)],
  };
});

const matmul2dPlain: (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D = customOp<tf.Tensor2D>(
  ([a, b], save) => {
    save([a, b]);
    return {
      value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
      gradFunc: (d, saved) => {
        const [sa, sb] = saved as tf.Tensor2D[];
        return [tf.matMul(d, tf.transpose(sb)), tf.matMul(tf.transpose(sa), d)];
      },
    };
  },
);

/**
 * Fully connected layer on the last axis: x [..., in] · w [in, out] (+ b [out]) → [..., out].
 * The weight layout is [in, out] (PyTorch's Linear.weight transposed; converted in io/checkpoint).
 */
export function linear(x: tf.Tensor, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor {
  return tf.tidy(() => {
    const inDim = x.shape[x.rank - 1];
    if (w.shape[0] !== inDim) throw new Error(`linear: input has ${inDim} features but the weight is [${w.shape}]`);
    const lead = x.shape.slice(0, -1);
    // rows in, rows out (the ViT's [B·n, hidden]): no reshapes (each is a kernel call and a tape node)
    let y: tf.Tensor = matmul2d((x.rank === 2 ? x : tf.reshape(x, [-1, inDim])) as tf.Tensor2D, w);
    if (b) y = tf.add(y, b);
    return lead.length === 1 ? y : tf.reshape(y, [...lead, w.shape[1]]);
  });
}

/** Batched a [B, m, k] · b [B, k, n] → [B, m, n]: one BatchMatMul on native, else B plain matmuls (gradients likewise). */
export function bmm(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  return nativeKernels('matmul') ? tf.matMul(a, b) : bmmPlain(a, b);
}

/** Batched a [B, m, k] · b [B, n, k]ᵀ → [B, m, n] (attention scores q·kᵀ); native: the transpose is a kernel flag. */
export function bmmNT(a: tf.Tensor3D, b: tf.Tensor3D): tf.Tensor3D {
  return nativeKernels('matmul') ? tf.matMul(a, b, false, true) : bmmPlain(a, tf.transpose(b, [0, 2, 1]) as tf.Tensor3D);
}

const bmmPlain: (a: tf.Tensor3D, b: tf.Tensor3D) => tf.Tensor3D = customOp<tf.Tensor3D>(
  ([a, b], save) => {
    save([a, b]);
    const value = batched(a as tf.Tensor3D, b as tf.Tensor3D, false, false);
    return {
      value,
      gradFunc: (d, saved) => {
        const [sa, sb] = saved as tf.Tensor3D[];
        return [batched(d, sb, false, true), batched(sa, d, true, false)];
      },
    };
  },
);

/** Per-batch plain matmuls, with the operands' transposes materialised (never transposeA/B flags). */
function batched(a: tf.Tensor3D, b: tf.Tensor3D, ta: boolean, tb: boolean): tf.Tensor3D {
  return tf.tidy(() => {
    const A = ta ? tf.transpose(a, [0, 2, 1]) : a;
    const B = tb ? tf.transpose(b, [0, 2, 1]) : b;
    const n = A.shape[0];
    const as = tf.unstack(A) as tf.Tensor2D[];
    const bs = tf.unstack(B) as tf.Tensor2D[];
    const outs: tf.Tensor2D[] = [];
    for (let i = 0; i < n; i++) outs.push(tf.matMul(as[i], bs[i]));
    return tf.stack(outs) as tf.Tensor3D;
  });
}
