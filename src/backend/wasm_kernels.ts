/**
 * Faster data-movement kernels for TF.js's wasm backend, registered over its own.
 *
 * TF.js 4.22's wasm Slice handles rank ≤ 4 with one `TypedArray.set` per innermost row and anything of rank 5 with
 * a per-element index computation (~1 µs per element); SplitV and Unpack are built on it, so the gradient of a
 * channel concat in the UNETR decoder ([2, 32, 32, 32, 32] split in two) took 4.6 s of a 21 s training step, and its
 * Transpose of rank ≥ 5 (the ViT patch (un)embedding) runs ~40 ns per element. Measured with bench/profile_step.mjs.
 *
 * These kernels do the same copies through one routine (./strided_copy.ts) that merges contiguous dimensions first
 * and copies short rows with plain loops, straight between views of the wasm heap. Results are bit-identical (they
 * only move elements; test/backend/wasm_kernels.test.ts compares them with the cpu backend on many shapes).
 * Strings and complex numbers go to the original kernels.
 *
 * On by default once the wasm backend is loaded through ./select; `SSL3D_WASM_KERNELS=0` keeps TF.js's own.
 */
import * as tf from '@tensorflow/tfjs';
import { rowMajorStrides, simplifyBox, stridedCopy, type NumericArray } from './strided_copy';

type Info = { dataId: object; shape: number[]; dtype: tf.DataType };
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  typedArrayFromHeap(t: Info): NumericArray;
}
type KernelArgs = { inputs: Record<string, Info> | Info[]; attrs: Record<string, unknown>; backend: WasmBackendLike };
type KernelFn = (args: KernelArgs) => Info | Info[];

const COPYABLE = new Set<tf.DataType>(['float32', 'int32', 'bool']);
export const WASM_KERNEL_NAMES = ['Slice', 'SplitV', 'Unpack', 'Concat', 'Pack', 'Transpose'] as const;

const originals = new Map<string, tf.KernelConfig>();
let registered = false;

function original(name: string, args: KernelArgs): Info | Info[] {
  const cfg = originals.get(name);
  if (!cfg) throw new Error(`wasm kernel ${name}: original kernel missing`);
  return (cfg.kernelFunc as unknown as KernelFn)(args);
}

function sliceInto(backend: WasmBackendLike, x: Info, begin: number[], size: number[], out: Info): void {
  const xs = rowMajorStrides(x.shape);
  let off = 0;
  for (let i = 0; i < begin.length; i++) off += begin[i] * xs[i];
  stridedCopy(backend.typedArrayFromHeap(x), off, xs, backend.typedArrayFromHeap(out), 0, rowMajorStrides(size), size);
}

const slice: KernelFn = (args) => {
  const x = (args.inputs as Record<string, Info>).x;
  if (!COPYABLE.has(x.dtype)) return original('Slice', args);
  const [begin, size] = tf.slice_util.parseSliceParams(x as unknown as tf.TensorInfo, args.attrs.begin as number[], args.attrs.size as number[]);
  const out = args.backend.makeOutput(size, x.dtype);
  sliceInto(args.backend, x, begin, size, out);
  return out;
};

/** Splits along `axis` into pieces of `sizes`: outputs allocated first (allocation may grow the heap), then copied. */
function splitAlong(backend: WasmBackendLike, x: Info, axis: number, sizes: number[]): Info[] {
  const outs = sizes.map((s) => {
    const shape = x.shape.slice();
    shape[axis] = s;
    return backend.makeOutput(shape, x.dtype);
  });
  const begin = new Array<number>(x.shape.length).fill(0);
  outs.forEach((o, i) => {
    sliceInto(backend, x, begin, o.shape, o);
    begin[axis] += sizes[i];
  });
  return outs;
}

const splitV: KernelFn = (args) => {
  const x = (args.inputs as Record<string, Info>).x;
  if (!COPYABLE.has(x.dtype)) return original('SplitV', args);
  const axis = tf.util.parseAxisParam(args.attrs.axis as number, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, args.attrs.numOrSizeSplits as number | number[], axis);
  return splitAlong(args.backend, x, axis, sizes);
};

const unpack: KernelFn = (args) => {
  const x = (args.inputs as Record<string, Info>).value;
  if (!COPYABLE.has(x.dtype)) return original('Unpack', args);
  let axis = args.attrs.axis as number;
  if (axis < 0) axis += x.shape.length;
  const outs = splitAlong(args.backend, x, axis, new Array<number>(x.shape[axis]).fill(1));
  const shape = x.shape.filter((_, i) => i !== axis);
  return outs.map((o) => ({ ...o, shape }));
};

/** Copies each input into its place along `axis` of a freshly made output (inputs reshaped to `pieceShapes`). */
function concatInto(backend: WasmBackendLike, inputs: Info[], pieceShapes: number[][], axis: number, outShape: number[], dtype: tf.DataType): Info {
  const out = backend.makeOutput(outShape, dtype);
  const dst = backend.typedArrayFromHeap(out);
  const ds = rowMajorStrides(outShape);
  let at = 0;
  inputs.forEach((t, i) => {
    const shape = pieceShapes[i];
    stridedCopy(backend.typedArrayFromHeap(t), 0, rowMajorStrides(shape), dst, at * ds[axis], ds, shape);
    at += shape[axis];
  });
  return out;
}

const concat: KernelFn = (args) => {
  const inputs = args.inputs as Info[];
  const dtype = inputs[0].dtype;
  const nonEmpty = inputs.filter((t) => tf.util.sizeFromShape(t.shape) > 0);
  if (!COPYABLE.has(dtype) || nonEmpty.length < 2 || inputs.some((t) => t.dtype !== dtype)) return original('Concat', args);
  const axis = tf.util.parseAxisParam(args.attrs.axis as number, inputs[0].shape)[0];
  tf.backend_util.assertParamsConsistent(inputs.map((t) => t.shape), axis);
  const outShape = tf.backend_util.computeOutShape(inputs.map((t) => t.shape), axis);
  return concatInto(args.backend, nonEmpty, nonEmpty.map((t) => t.shape), axis, outShape, dtype);
};

const pack: KernelFn = (args) => {
  const inputs = args.inputs as Info[];
  const dtype = inputs[0].dtype;
  if (!COPYABLE.has(dtype) || inputs.length < 2) return original('Pack', args);
  const shape = inputs[0].shape;
  for (const t of inputs) {
    tf.util.assertShapesMatch(shape, t.shape, 'All tensors passed to stack must have matching shapes');
    tf.util.assert(t.dtype === dtype, () => 'All tensors passed to stack must have matching dtypes');
  }
  let axis = args.attrs.axis as number;
  if (axis < 0) axis += shape.length + 1;
  const piece = [...shape.slice(0, axis), 1, ...shape.slice(axis)];
  const outShape = [...shape.slice(0, axis), inputs.length, ...shape.slice(axis)];
  return concatInto(args.backend, inputs, inputs.map(() => piece), axis, outShape, dtype);
};

const transpose: KernelFn = (args) => {
  const x = (args.inputs as Record<string, Info>).x;
  const perm = args.attrs.perm as number[];
  if (!COPYABLE.has(x.dtype)) return original('Transpose', args);
  const outShape = perm.map((p) => x.shape[p]);
  const xs = rowMajorStrides(x.shape);
  const srcStrides = perm.map((p) => xs[p]);
  const outStrides = rowMajorStrides(outShape);
  const [sh, ss] = simplifyBox(outShape, srcStrides, outStrides);
  if (sh.length === 2 && ss[0] === 1 && ss[1] === sh[0]) {
    // a plain matrix transpose once dims are merged: TF.js's C++ kernel does these ~1.5× faster than a JS loop
    const out = original('Transpose', { ...args, inputs: { x: { ...x, shape: [sh[1], sh[0]] } }, attrs: { perm: [1, 0] } }) as Info;
    return { ...out, shape: outShape };
  }
  const out = args.backend.makeOutput(outShape, x.dtype);
  stridedCopy(args.backend.typedArrayFromHeap(x), 0, srcStrides, args.backend.typedArrayFromHeap(out), 0, outStrides, outShape);
  return out;
};

const KERNELS: Record<(typeof WASM_KERNEL_NAMES)[number], KernelFn> = { Slice: slice, SplitV: splitV, Unpack: unpack, Concat: concat, Pack: pack, Transpose: transpose };

/** Whether `SSL3D_WASM_KERNELS` leaves these kernels on (default on; `0`/`off`/`none` turns them off). */
export function wasmKernelsWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.SSL3D_WASM_KERNELS?.trim().toLowerCase();
  return !(v === '0' || v === 'off' || v === 'none' || v === 'false');
}

/** Registers the kernels over the wasm backend's (idempotent); loads the wasm backend package first. */
export function registerWasmKernels(): boolean {
  if (registered) return true;
  require('@tensorflow/tfjs-backend-wasm');
  for (const name of WASM_KERNEL_NAMES) {
    const cfg = tf.getKernel(name, 'wasm');
    if (!cfg) throw new Error(`wasm backend has no ${name} kernel to replace`);
    originals.set(name, cfg);
    tf.unregisterKernel(name, 'wasm');
    // keep the original's setupFunc (Transpose binds its C++ function there; the fallback for other dtypes needs it)
    tf.registerKernel({ ...cfg, kernelFunc: KERNELS[name] as unknown as tf.KernelFunc });
  }
  registered = true;
  return true;
}

/** Puts TF.js's own kernels back (benchmarks compare both in one process). */
export function unregisterWasmKernels(): void {
  if (!registered) return;
  for (const name of WASM_KERNEL_NAMES) {
    const cfg = originals.get(name);
    if (!cfg) continue;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(cfg);
  }
  registered = false;
}
