/**
 * 3-D convolutions in NDHWC ([B, X, Y, Z, C]) built from plain 2-D matmuls, with gradients that are correct on
 * every backend (TF.js's wasm Conv3DBackpropInputV2 is wrong, and its conv3d is a naive loop at < 1 GFLOP/s).
 *
 * Supported, which is what MONAI's ViT/UNETR use:
 * - 1×1×1, stride 1 (UNETR output and residual projections): a dense layer over channels;
 * - kernel = stride, no padding (ViT patch embedding, e.g. 16³): patches → one matmul;
 * - 3×3×3, stride 1, padding 1 ('same') (UnetResBlock): the input is flattened over the padded grid so every
 *   shift is a contiguous row range, the three z-shifts are stacked into columns (3× the input), then 9 matmuls
 *   with K = 3·Cin. The input gradient is the same convolution of dy with the flipped, transposed kernel; the weight
 *   gradient is 9 matmuls. Work is split into slabs along X so that no intermediate exceeds `maxChunkElements`
 *   (the wasm heap is 4 GiB).
 *
 * Filter layout: [kd, kh, kw, in, out] (TF.js's conv3d layout; PyTorch's [out, in, kd, kh, kw] is converted in
 * io/checkpoint).
 */
import * as tf from '@tensorflow/tfjs';
import { customOp } from './custom';
import { nativeKernels } from './kernels';
import { linear, matmul2d } from './matmul';
import { add } from './add';

export interface Conv3dOptions {
  stride?: number;
  /** 'same' (k=3 → padding 1) or 'valid' (no padding). */
  padding?: 'same' | 'valid';
}

/** Largest number of float32 elements an intermediate of the 3×3×3 path may hold (default 2^25 = 128 MiB). */
export let maxChunkElements = 2 ** 25;
export function setMaxChunkElements(n: number): void {
  maxChunkElements = n;
}

/** Whether 3³ convolutions go to the backend's own kernel (native TensorFlow only; see ./kernels). */
export function useNativeConv(): boolean {
  return nativeKernels('conv');
}

export function conv3d(x: tf.Tensor5D, w: tf.Tensor5D, b?: tf.Tensor1D, opts: Conv3dOptions = {}): tf.Tensor5D {
  const [kd, kh, kw, cin, cout] = w.shape;
  const stride = opts.stride ?? 1;
  const padding = opts.padding ?? 'valid';
  if (x.shape[4] !== cin) throw new Error(`conv3d: input has ${x.shape[4]} channels but the filter expects ${cin} ([${w.shape}])`);
  let y: tf.Tensor5D;
  if (kd === 1 && kh === 1 && kw === 1 && stride === 1) {
    y = linear(x, tf.reshape(w, [cin, cout]) as tf.Tensor2D) as tf.Tensor5D;
  } else if (kd === kh && kh === kw && stride === kd && padding === 'valid') {
    y = patchConv(x, w);
  } else if (kd === 3 && kh === 3 && kw === 3 && stride === 1 && padding === 'same') {
    // The native TensorFlow backend's own Conv3D and its gradients are correct (tested against PyTorch like every
    // path here) and faster than the matmul decomposition; wasm/cpu take the decomposition.
    y = useNativeConv() ? backendConv3x3x3(x, w) : conv3x3x3(x, w);
  } else {
    throw new Error(`conv3d: kernel [${kd},${kh},${kw}] stride ${stride} padding '${padding}' is not supported (supported: 1³, k=s patches, 3³ same)`);
  }
  return b ? (add(y, b) as tf.Tensor5D) : y;
}

/**
 * How the webgpu backend computes a 3³ convolution's filter gradient (`SSL3D_WEBGPU_CONV_DW`):
 * - 'batched' (default): the rows of the volume in chunks of 2,048, one batched matmul over the chunks and a sum;
 * - 'splitk': one matmul per tap with K = every voxel (TF.js picks its split-K program, which adds partial sums with
 *   atomics);
 * - 'stock': TF.js's Conv3DBackpropFilterV2 shader, one GPU thread per filter element looping over the whole batch
 *   and volume (27·Cin·Cout threads: a few hundred workgroups at UNETR's 96³ level).
 * Forward and input gradient stay TF.js's (one thread per output element).
 */
export type WebGpuFilterGrad = 'batched' | 'splitk' | 'stock';
export const WEBGPU_CONV_DW_ENV = 'SSL3D_WEBGPU_CONV_DW';
export function webgpuFilterGrad(env: NodeJS.ProcessEnv = process.env): WebGpuFilterGrad {
  const v = (env[WEBGPU_CONV_DW_ENV] ?? '').trim().toLowerCase();
  if (v === '') return 'batched';
  if (v === 'batched' || v === 'splitk' || v === 'stock') return v;
  throw new Error(`${WEBGPU_CONV_DW_ENV}=${v}: expected batched, splitk or stock`);
}

function backendFilterGrad(x: tf.Tensor5D, dy: tf.Tensor5D, filterShape: number[]): tf.Tensor {
  const mode = tf.getBackend() === 'webgpu' ? webgpuFilterGrad() : 'stock';
  if (mode === 'splitk') return conv3x3x3FilterGrad(x, dy);
  if (mode === 'batched') return conv3x3x3FilterGradBatched(x, dy);
  const strides: [number, number, number] = [1, 1, 1];
  return tf.engine().runKernel('Conv3DBackpropFilterV2', { x, dy }, { pad: 'same', strides, filterShape }) as tf.Tensor;
}

/**
 * The backend's own Conv3D ('same', stride 1) with its own gradient kernels (Conv3DBackpropInputV2 /
 * Conv3DBackpropFilterV2, as TF.js's gradient runs them; on webgpu the filter gradient is a matmul, see
 * webgpuFilterGrad), as a custom op so that its saved input and its dy are freed as soon as its gradient is computed
 * (./custom.ts) instead of at the end of the backward pass.
 */
const backendConv3x3x3 = customOp<tf.Tensor5D>(([x, w], save) => {
  save([x, w]);
  const strides: [number, number, number] = [1, 1, 1];
  return {
    value: tf.conv3d(x as tf.Tensor5D, w as tf.Tensor5D, strides, 'same'),
    gradFunc: (dy, [sx, sw]) => [
      tf.engine().runKernel('Conv3DBackpropInputV2', { dy, filter: sw }, { pad: 'same', strides, inputShape: sx.shape }) as tf.Tensor,
      backendFilterGrad(sx as tf.Tensor5D, dy, sw.shape),
    ],
  };
});

/** kernel = stride = p, no padding: non-overlapping p³ patches, flattened and multiplied by the [p³·Cin, Cout] filter. */
function patchConv(x: tf.Tensor5D, w: tf.Tensor5D): tf.Tensor5D {
  return tf.tidy(() => {
    const [B, X, Y, Z, C] = x.shape;
    const p = w.shape[0];
    const cout = w.shape[4];
    if (X % p || Y % p || Z % p) throw new Error(`conv3d: spatial size [${X},${Y},${Z}] is not divisible by the patch size ${p}`);
    const [gx, gy, gz] = [X / p, Y / p, Z / p];
    const patches = tf.reshape(
      tf.transpose(tf.reshape(x, [B * gx, p, gy, p, gz, p * C]), [0, 2, 4, 1, 3, 5]),
      [B * gx * gy * gz, p * p * p * C],
    ) as tf.Tensor2D;
    const y = matmul2d(patches, tf.reshape(w, [p * p * p * C, cout]) as tf.Tensor2D);
    return tf.reshape(y, [B, gx, gy, gz, cout]) as tf.Tensor5D;
  });
}

/**
 * The "flat shift" layout: a slab of the zero-padded input, flattened to rows of the padded grid (X₂·Y₂·Z₂ rows,
 * C columns). Shifting by (a, b, c) voxels is then an offset of a·Y₂Z₂ + b·Z₂ + c rows, so every tap is a
 * contiguous row range (a plain copy on every backend; strided 4-/5-D slices are 30–100× slower on cpu/wasm).
 * Output rows are computed for every position of the padded grid and the junk ones (x ≥ nx, y ≥ Y, z ≥ Z) are
 * dropped at the end. The three z taps are stacked into columns (K = 3·C), leaving 9 matmuls per slab.
 */
interface Slab {
  /** [Rc, 3C] z-stacked rows of the padded slab. */
  cols: tf.Tensor2D;
  /** Output rows (= padded-grid positions) of the slab. */
  rows: number;
  Y2: number;
  Z2: number;
}

/** The padded slab flattened to [rc + 2, C] rows (rc = output rows + the largest tap offset). */
function slabFlat(x: tf.Tensor5D, x0: number, nx: number): { flat: tf.Tensor2D; rows: number; rc: number; Y2: number; Z2: number } {
  return tf.tidy(() => {
    const [B, X, Y, Z, C] = x.shape;
    const Y2 = Y + 2,
      Z2 = Z + 2;
    const lo = Math.max(x0 - 1, 0);
    const hi = Math.min(x0 + nx + 1, X);
    const part = lo === 0 && hi === X ? x : tf.slice(x, [0, lo, 0, 0, 0], [B, hi - lo, Y, Z, C]);
    const xp = tf.pad(part, [
      [0, 0],
      [lo === x0 - 1 ? 0 : 1, hi === x0 + nx + 1 ? 0 : 1],
      [1, 1],
      [1, 1],
      [0, 0],
    ]);
    const rows = B * (nx + 2) * Y2 * Z2;
    const reach = 2 * Y2 * Z2 + 2 * Z2; // largest (a, b) offset
    const flat = tf.pad(tf.reshape(xp, [rows, C]), [
      [0, reach + 2],
      [0, 0],
    ]) as tf.Tensor2D;
    return { flat, rows, rc: rows + reach, Y2, Z2 };
  });
}

function slabColumns(x: tf.Tensor5D, x0: number, nx: number): Slab {
  return tf.tidy(() => {
    const { flat, rows, rc, Y2, Z2 } = slabFlat(x, x0, nx);
    const C = flat.shape[1];
    const cols = tf.concat([0, 1, 2].map((c) => tf.slice(flat, [c, 0], [rc, C])), 1) as tf.Tensor2D;
    return { cols, rows, Y2, Z2 };
  });
}

/** The slab's z-stacked columns transposed, [3C, rc], built from the transposed flat slab (3× less to transpose). */
function slabColumnsT(x: tf.Tensor5D, x0: number, nx: number): Slab {
  return tf.tidy(() => {
    const { flat, rows, rc, Y2, Z2 } = slabFlat(x, x0, nx);
    const flatT = tf.transpose(flat) as tf.Tensor2D; // [C, rc + 2]
    const C = flatT.shape[0];
    const cols = tf.concat([0, 1, 2].map((c) => tf.slice(flatT, [0, c], [C, rc])), 0) as tf.Tensor2D;
    return { cols, rows, Y2, Z2 };
  });
}

function tapRows(s: Slab, a: number, bb: number): tf.Tensor2D {
  return tf.slice(s.cols, [a * s.Y2 * s.Z2 + bb * s.Z2, 0], [s.rows, s.cols.shape[1]]);
}

/** Weight of the 3³ kernel at (a, b) with the z taps stacked: [3·Cin, Cout]. */
function tap(w: tf.Tensor5D, a: number, bb: number): tf.Tensor2D {
  const [, , , cin, cout] = w.shape;
  return tf.reshape(tf.slice(w, [a, bb, 0, 0, 0], [1, 1, 3, cin, cout]), [3 * cin, cout]) as tf.Tensor2D;
}

/** How many output X-planes to process at once so that a slab's z-stacked rows stay under maxChunkElements. */
function slabSize(B: number, X: number, Y: number, Z: number, C: number): number {
  const perPlane = B * (Y + 2) * (Z + 2) * 3 * C;
  return Math.max(1, Math.min(X, Math.floor(maxChunkElements / Math.max(perPlane, 1)) - 2));
}

/** Forward 3³ 'same' convolution (no gradient bookkeeping): used for y and, with the flipped kernel, for dx. */
function conv3x3x3Raw(x: tf.Tensor5D, w: tf.Tensor5D): tf.Tensor5D {
  const [B, X, Y, Z, C] = x.shape;
  const cout = w.shape[4];
  const step = slabSize(B, X, Y, Z, C);
  const slabs: tf.Tensor5D[] = [];
  for (let x0 = 0; x0 < X; x0 += step) {
    const nx = Math.min(step, X - x0);
    slabs.push(
      tf.tidy(() => {
        const s = slabColumns(x, x0, nx);
        let acc: tf.Tensor | undefined;
        for (let a = 0; a < 3; a++) {
          for (let bb = 0; bb < 3; bb++) {
            const t = tf.matMul(tapRows(s, a, bb), tap(w, a, bb));
            acc = acc ? tf.add(acc, t) : t;
          }
        }
        // keep x < nx, y < Y, z < Z of the padded grid (a 4-D slice; the z cut is a prefix of the last axis)
        const grid = tf.reshape(acc!, [B, nx + 2, s.Y2, s.Z2 * cout]);
        return tf.reshape(tf.slice(grid, [0, 0, 0, 0], [B, nx, Y, Z * cout]), [B, nx, Y, Z, cout]) as tf.Tensor5D;
      }),
    );
  }
  if (slabs.length === 1) return slabs[0];
  const y = tf.concat(slabs, 1) as tf.Tensor5D;
  slabs.forEach((s) => s.dispose());
  return y;
}

/** The kernel for the input gradient: flipped in all three axes, in/out swapped. */
function flipTranspose(w: tf.Tensor5D): tf.Tensor5D {
  return tf.tidy(() => tf.transpose(tf.reverse(w, [0, 1, 2]), [0, 1, 2, 4, 3]) as tf.Tensor5D);
}

/**
 * dW[a, b, ·] = Σ_rows cols(a, b)ᵀ · dy, with dy laid out on the padded grid (zeros at the junk positions).
 *
 * Computed as colsᵀ(a, b) [3C, rows] · dy [rows, Cout]: dy is the matmul's right-hand side in all 9 products, so the
 * wasm backend (XNNPACK) packs it once and reuses it (it caches the packed right-hand side by tensor); the transposed
 * column block is built once per slab and each tap is a contiguous column window of it. (Packing a fresh
 * [rows, 3C] right-hand side per tap cost ~4× the multiplication itself: 125 vs 30 ms for 78,608 × 96.)
 */
function conv3x3x3FilterGrad(x: tf.Tensor5D, dy: tf.Tensor5D): tf.Tensor5D {
  return filterGradOverSlabs(x, dy, (x0, nx, dFlat) => {
    const s = slabColumnsT(x, x0, nx); // cols [3C, rc]
    const C3 = s.cols.shape[0];
    return (a, bb) => tf.matMul(tf.slice(s.cols, [0, a * s.Y2 * s.Z2 + bb * s.Z2], [C3, s.rows]), dFlat);
  });
}

/**
 * The filter gradient as batched products, for GPUs: each tap's window of the slab's rows [rows, 3C] and dy
 * [rows, Cout] are cut into chunks of `chunk` rows (zero rows pad the last one), dW(a, b) = Σ_chunks windowᵀ · dy as
 * one batched matmul [n, 3C, chunk]·[n, chunk, Cout] and a sum over n: many small products in parallel instead of one
 * product with a 10⁶-long inner dimension.
 */
function conv3x3x3FilterGradBatched(x: tf.Tensor5D, dy: tf.Tensor5D, chunk = 2048): tf.Tensor5D {
  return filterGradOverSlabs(x, dy, (x0, nx, dFlat) => {
    const s = slabColumns(x, x0, nx); // cols [rc, 3C]
    const C3 = s.cols.shape[1];
    const n = Math.ceil(s.rows / chunk);
    const extra = n * chunk - s.rows;
    const cols = extra ? tf.pad(s.cols, [[0, extra], [0, 0]]) : s.cols;
    const dChunks = tf.reshape(extra ? tf.pad(dFlat, [[0, extra], [0, 0]]) : dFlat, [n, chunk, dFlat.shape[1]]) as tf.Tensor3D;
    return (a, bb) => {
      const win = tf.reshape(tf.slice(cols, [a * s.Y2 * s.Z2 + bb * s.Z2, 0], [n * chunk, C3]), [n, chunk, C3]) as tf.Tensor3D;
      return tf.sum(tf.matMul(win, dChunks, true, false), 0);
    };
  });
}

/**
 * The slab loop both filter gradients share: for each X-slab, dy on the slab's padded grid flattened to
 * [rows, Cout] (zeros at the junk positions), `perSlab` returns the product for tap (a, b), [3C, Cout] with the z taps
 * stacked; the taps are assembled into [3, 3, 3, C, Cout] and summed over the slabs.
 */
function filterGradOverSlabs(
  x: tf.Tensor5D,
  dy: tf.Tensor5D,
  perSlab: (x0: number, nx: number, dFlat: tf.Tensor2D) => (a: number, bb: number) => tf.Tensor,
): tf.Tensor5D {
  const [B, X, Y, Z, C] = x.shape;
  const cout = dy.shape[4];
  const step = slabSize(B, X, Y, Z, C);
  let total: tf.Tensor | undefined;
  for (let x0 = 0; x0 < X; x0 += step) {
    const nx = Math.min(step, X - x0);
    const g = tf.tidy(() => {
      const d = nx === X ? dy : tf.slice(dy, [0, x0, 0, 0, 0], [B, nx, Y, Z, cout]);
      const dPad = tf.pad(d, [
        [0, 0],
        [0, 2],
        [0, 2],
        [0, 2],
        [0, 0],
      ]);
      const dFlat = tf.reshape(dPad, [B * (nx + 2) * (Y + 2) * (Z + 2), cout]) as tf.Tensor2D;
      const tapProduct = perSlab(x0, nx, dFlat);
      const rows = [0, 1, 2].map((a) => tf.concat([0, 1, 2].map((bb) => tf.reshape(tapProduct(a, bb), [1, 1, 3, C, cout])), 1));
      return tf.concat(rows, 0);
    });
    if (total) {
      const t = tf.add(total, g);
      total.dispose();
      g.dispose();
      total = t;
    } else total = g;
  }
  return total as tf.Tensor5D;
}

/** The matmul filter gradients by name (webgpuFilterGrad), for tests: [kd, kh, kw, Cin, Cout] from x and dy. */
export const filterGrad3x3x3 = { splitk: conv3x3x3FilterGrad, batched: conv3x3x3FilterGradBatched };

/** 3³ 'same' convolution with custom gradients (input gradient = same conv with the flipped, transposed kernel). */
const conv3x3x3: (x: tf.Tensor5D, w: tf.Tensor5D) => tf.Tensor5D = customOp<tf.Tensor5D>(
  ([x, w], save) => {
    save([x, w]);
    return {
      value: conv3x3x3Raw(x as tf.Tensor5D, w as tf.Tensor5D),
      gradFunc: (dy, [sx, sw]) => {
        const wf = flipTranspose(sw as tf.Tensor5D);
        const dx = conv3x3x3Raw(dy, wf);
        wf.dispose();
        return [dx, conv3x3x3FilterGrad(sx as tf.Tensor5D, dy)];
      },
    };
  },
);
