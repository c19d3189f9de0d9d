/**
 * The `webgpu` backend: `@tensorflow/tfjs-backend-webgpu` on Dawn (the `webgpu` package, Dawn's Node addon). Neither
 * package is a dependency; `src/backend/select.ts` uses this only when `webgpu` is forced by name.
 *
 * Loading installs `navigator.gpu` and the WebGPU globals (GPUBufferUsage, …) that the TF.js backend expects, and
 * checks that Dawn finds an adapter before TF.js asks for one (TF.js would fail with "Cannot read properties of
 * null"). Dawn needs a Vulkan driver on Linux: libvulkan.so.1 and an ICD (NVIDIA's nvidia_icd.json, or Mesa's
 * lavapipe ≥ 23 on a CPU; lavapipe 22.x lacks a feature Dawn requires). `SSL3D_DAWN_OPTIONS` passes options to
 * Dawn's `create()`, `;`-separated (e.g. `backend=vulkan;adapter=NVIDIA H200`).
 *
 * Rank-5 workarounds. TF.js 4.22's webgpu kernels are incomplete for the 5-D (NDHWC) tensors ssl3d uses; on a
 * failing shader the GPU silently skips the work (a validation error in the log, garbage in the output):
 * - binary ops with a 1-D operand (`x + bias`): "cannot index type 'vec5'" → the operands are collapsed to the
 *   fewest dimensions that keep the broadcast (e.g. [B·X·Y·Z, C] + [C]) and the result reshaped back;
 * - PadV2 at rank 5: same error → adjacent dimensions are merged where the inner one is not padded
 *   ([B,X,Y,Z,C] with C unpadded → [B,X,Y,Z·C]);
 * - Select (`where`) at rank 5: "not yet supported" → run on flattened operands;
 * - Reverse at rank 5 (ssl3d flips 3³ filters): a wrong reshape throws → adjacent dimensions with the same
 *   reversed/kept status are merged (reversing both of two neighbours = reversing their product);
 * - Cast int32/bool → float32: the stock kernel relabels the int buffer as float32 without converting it; kernels
 *   that copy raw values (Transpose, also inside Sum/Max/… over non-trailing axes) then fail to compile ("expected
 *   'f32', got 'i32'") → the cast multiplies by a float32 1, which converts on the GPU;
 * - int32 Transpose (also inside Sum/Max/Min/Prod/ArgMax/ArgMin over non-trailing axes) does not compile either →
 *   run on float32 (exact below 2^24) and cast back.
 * - 2-D transposes with a side over ~10⁶ (sums over the first axis of a tall matrix transpose first): the tiled
 *   program's dispatch exceeds the per-dimension limit → run as a 3-D transpose (wideTranspose).
 * Each wrapper calls the stock kernels on reshaped operands, so numerics are the stock kernels'.
 * scripts/gpu/opcheck.mjs compares the backend against `cpu` and the PyTorch op fixtures.
 *
 * Reads: the webgpu backend cannot read synchronously in Node (`dataSync` needs a canvas): use `await data()`.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import * as path from 'node:path';
import { BackendError } from '../errors';

type Tf = typeof tfTypes;
type TensorInfo = tfTypes.TensorInfo;
interface KernelArgs {
  inputs: Record<string, TensorInfo>;
  backend: { disposeData(id: object): boolean };
  attrs?: Record<string, unknown>;
}
type KernelFn = (args: KernelArgs) => TensorInfo | TensorInfo[];

export const DAWN_OPTIONS_ENV = 'SSL3D_DAWN_OPTIONS';

interface GpuLike {
  requestAdapter(opts?: { powerPreference?: string }): Promise<unknown>;
}

/** Installs navigator.gpu (Dawn), checks for an adapter, registers TF.js's webgpu backend and the rank-5 wrappers. */
export async function loadWebGpu(): Promise<Tf> {
  const tf = require('@tensorflow/tfjs') as Tf;
  require.resolve('@tensorflow/tfjs-backend-webgpu'); // a missing package is reported before any GPU question
  const g = globalThis as Record<string, unknown>;
  let gpu = (g.navigator as { gpu?: GpuLike } | undefined)?.gpu;
  if (!gpu) {
    let dawn: { create: (opts: string[]) => GpuLike; globals: Record<string, unknown> };
    try {
      dawn = require('webgpu');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ERR_REQUIRE_ESM') throw e;
      // A Node without require(esm) (< 20.19 / 22.12): load the addon directly, as the package's index.js does.
      const dir = path.dirname(require.resolve('webgpu/package.json'));
      const arch = process.platform === 'darwin' ? 'universal' : process.arch;
      dawn = require(path.join(dir, 'dist', `${process.platform}-${arch}`, 'dawn.node'));
    }
    Object.assign(globalThis, dawn.globals);
    const opts = (process.env[DAWN_OPTIONS_ENV] ?? '')
      .split(';')
      .map((o) => o.trim())
      .filter(Boolean);
    try {
      gpu = dawn.create(opts);
    } catch (e) {
      throw new BackendError(`Dawn (webgpu) could not start: ${(e as Error).message.split('\n')[0]}`);
    }
    Object.defineProperty(globalThis, 'navigator', {
      value: { ...((g.navigator as object | undefined) ?? {}), gpu },
      configurable: true,
      writable: true,
    });
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new BackendError(
      "Dawn found no WebGPU adapter: it needs a Vulkan driver (libvulkan.so.1 and an ICD such as NVIDIA's " +
        "nvidia_icd.json or Mesa's lavapipe >= 23; VK_DRIVER_FILES=<path to the ICD json> picks one). Dawn's " +
        'warnings above say why it skipped a device',
    );
  }
  require('@tensorflow/tfjs-backend-webgpu');
  if (!tf.findBackendFactory('webgpu')) {
    throw new BackendError('@tensorflow/tfjs-backend-webgpu did not register (a second copy of @tensorflow/tfjs-core?)');
  }
  installRank5Workarounds(tf);
  return tf;
}

const BINARY_KERNELS = [
  'Add', 'Sub', 'Multiply', 'RealDiv', 'FloorDiv', 'Maximum', 'Minimum', 'Pow', 'SquaredDifference', 'Mod', 'Atan2',
  'Equal', 'NotEqual', 'Greater', 'GreaterEqual', 'Less', 'LessEqual', 'LogicalAnd', 'LogicalOr',
];
const REDUCE_KERNELS = ['Sum', 'Mean', 'Max', 'Min', 'Prod', 'Any', 'All', 'ArgMax', 'ArgMin'];
const installedOn = new Set<string>();

export interface WorkaroundOptions {
  /** The backend whose kernels are wrapped (tests run the wrappers on 'cpu' to check they change no result). */
  backend?: string;
  /** Workgroups per dispatch dimension (default: the device's limit, else WebGPU's 65,535). */
  maxWorkgroups?: number;
}

/** Wraps the webgpu kernels listed in the file comment (once per process and backend). */
export function installRank5Workarounds(tf: Tf, opts: WorkaroundOptions = {}): void {
  const backendName = opts.backend ?? 'webgpu';
  if (installedOn.has(backendName)) return;
  installedOn.add(backendName);
  const kernel = (name: string) => tf.getKernel(name, backendName) as { kernelFunc: KernelFn } | undefined;
  const reshapeK = kernel('Reshape')!.kernelFunc;
  const multiplyK = kernel('Multiply')!.kernelFunc;
  const reshape = (backend: KernelArgs['backend'], x: TensorInfo, shape: number[]) =>
    reshapeK({ inputs: { x }, backend, attrs: { shape } }) as TensorInfo;
  const release = (backend: KernelArgs['backend'], ...ts: TensorInfo[]) => ts.forEach((t) => backend.disposeData(t.dataId));
  const wrap = (name: string, f: (orig: KernelFn, args: KernelArgs) => TensorInfo | TensorInfo[]) => {
    const k = tf.getKernel(name, backendName);
    if (!k) return;
    tf.unregisterKernel(name, backendName);
    tf.registerKernel({ ...k, kernelFunc: ((args: KernelArgs) => f(k.kernelFunc as unknown as KernelFn, args)) as never });
  };

  for (const name of BINARY_KERNELS) {
    wrap(name, (orig, args) => {
      const { a, b } = args.inputs;
      if (!a || !b || Math.max(a.shape.length, b.shape.length) < 5 || a.dtype === 'complex64') return orig(args);
      const c = collapseBroadcast(tf, a.shape, b.shape);
      if (c.out.length >= 5) return orig(args);
      const ra = reshape(args.backend, a, c.a);
      const rb = reshape(args.backend, b, c.b);
      const r = orig({ ...args, inputs: { a: ra, b: rb } }) as TensorInfo;
      const y = reshape(args.backend, r, c.full);
      release(args.backend, ra, rb, r);
      return y;
    });
  }

  wrap('PadV2', (orig, args) => {
    const { x } = args.inputs;
    if (x.shape.length < 5) return orig(args);
    const paddings = args.attrs!.paddings as [number, number][];
    const groups: [number, number, number][] = []; // [size, before, after], innermost first
    for (let i = x.shape.length - 1; i >= 0; i--) {
      const inner = groups[groups.length - 1];
      if (inner && inner[1] === 0 && inner[2] === 0) {
        groups[groups.length - 1] = [x.shape[i] * inner[0], paddings[i][0] * inner[0], paddings[i][1] * inner[0]];
      } else groups.push([x.shape[i], paddings[i][0], paddings[i][1]]);
    }
    if (groups.length >= 5) return orig(args);
    groups.reverse();
    const rx = reshape(args.backend, x, groups.map((g) => g[0]));
    const r = orig({ ...args, inputs: { x: rx }, attrs: { ...args.attrs, paddings: groups.map((g) => [g[1], g[2]]) } }) as TensorInfo;
    const y = reshape(args.backend, r, x.shape.map((s, i) => s + paddings[i][0] + paddings[i][1]));
    release(args.backend, rx, r);
    return y;
  });

  wrap('Select', (orig, args) => {
    const { condition, t, e } = args.inputs;
    if (t.shape.length < 5) return orig(args);
    const size = t.shape.reduce((p, s) => p * s, 1);
    const flat = condition.shape.length === t.shape.length ? [size] : [t.shape[0], size / t.shape[0]];
    const rc = reshape(args.backend, condition, condition.shape.length === t.shape.length ? [size] : condition.shape);
    const rt = reshape(args.backend, t, flat);
    const re = reshape(args.backend, e, flat);
    const r = orig({ ...args, inputs: { condition: rc, t: rt, e: re } }) as TensorInfo;
    const y = reshape(args.backend, r, t.shape);
    release(args.backend, rc, rt, re, r);
    return y;
  });

  wrap('Reverse', (orig, args) => {
    const { x } = args.inputs;
    if (x.shape.length < 5) return orig(args);
    const axes = tf.util.parseAxisParam(args.attrs!.dims as number[], x.shape);
    const shape: number[] = [];
    const rev: number[] = [];
    let prev: boolean | undefined;
    x.shape.forEach((d, i) => {
      if (d === 1) return;
      const r = axes.includes(i);
      if (r === prev) shape[shape.length - 1] *= d;
      else {
        if (r) rev.push(shape.length);
        shape.push(d);
        prev = r;
      }
    });
    if (shape.length >= 5) return orig(args);
    if (!shape.length) shape.push(1);
    const rx = reshape(args.backend, x, shape);
    const r = orig({ ...args, inputs: { x: rx }, attrs: { ...args.attrs, dims: rev } }) as TensorInfo;
    const y = reshape(args.backend, r, x.shape);
    release(args.backend, rx, r);
    return y;
  });

  const toFloat = (backend: KernelArgs['backend'], x: TensorInfo) => {
    const b = backend as KernelArgs['backend'] & { makeTensorInfo(s: number[], d: string, v: Float32Array): TensorInfo };
    const one = b.makeTensorInfo([], 'float32', new Float32Array([1]));
    const y = multiplyK({ inputs: { a: x, b: one }, backend }) as TensorInfo;
    release(backend, one);
    return y;
  };

  const transposeK = kernel('Transpose')!.kernelFunc;
  const maxWorkgroups = (backend: KernelArgs['backend']) =>
    opts.maxWorkgroups ?? (backend as unknown as { device?: { limits?: { maxComputeWorkgroupsPerDimension?: number } } }).device?.limits?.maxComputeWorkgroupsPerDimension ?? 65535;
  /** A wide 2-D transpose as a 3-D one (see wideTranspose); null when the stock kernel can run it. */
  const transposeWide = (backend: KernelArgs['backend'], x: TensorInfo, perm: number[]): TensorInfo | null => {
    const as3d = wideTranspose(x.shape, perm, maxWorkgroups(backend));
    if (!as3d) return null;
    const rx = reshape(backend, x, as3d.shape);
    const r = transposeK({ inputs: { x: rx }, backend, attrs: { perm: as3d.perm } }) as TensorInfo;
    const y = reshape(backend, r, [x.shape[1], x.shape[0]]);
    release(backend, rx, r);
    return y;
  };
  wrap('Transpose', (orig, args) => transposeWide(args.backend, args.inputs.x, args.attrs!.perm as number[]) ?? orig(args));
  // The reductions transpose reduced axes to the end with the stock transpose (not through the kernel registry), so a
  // reduction over the rows of a tall matrix would hit the same limit: transpose here, then reduce the last axis.
  for (const name of REDUCE_KERNELS) {
    wrap(name, (orig, args) => {
      const { x } = args.inputs;
      const axes = tf.util.parseAxisParam(args.attrs!.axis as number | number[], x.shape);
      const perm = tf.backend_util.getAxesPermutation(axes, x.shape.length);
      const xt = perm ? transposeWide(args.backend, x, perm) : null;
      if (!xt) return orig(args);
      const inner = tf.backend_util.getInnerMostAxes(axes.length, x.shape.length);
      const r = orig({ ...args, inputs: { x: xt }, attrs: { ...args.attrs, axis: name.startsWith('Arg') ? inner[0] : inner } }) as TensorInfo;
      release(args.backend, xt);
      if (!args.attrs!.keepDims) return r;
      const y = reshape(args.backend, r, tf.backend_util.expandShapeToKeepDim(x.shape.filter((_, i) => !axes.includes(i)), axes));
      release(args.backend, r);
      return y;
    });
  }

  // The int casts (webgpu only: they rely on webgpu's Multiply giving float32 for int × float; cpu's gives the first
  // operand's dtype), wrapped last so that the int32 wrappers run before the wide-transpose ones.
  if (backendName === 'webgpu') {
    wrap('Cast', (orig, args) => {
      const { x } = args.inputs;
      if (args.attrs!.dtype !== 'float32' || (x.dtype !== 'int32' && x.dtype !== 'bool')) return orig(args);
      return toFloat(args.backend, x);
    });

    const castK = kernel('Cast')!.kernelFunc; // the wrapped one
    for (const name of ['Transpose', 'Sum', 'Max', 'Min', 'Prod', 'ArgMax', 'ArgMin']) {
      wrap(name, (orig, args) => {
        const { x } = args.inputs;
        if (x.dtype !== 'int32') return orig(args);
        const fx = toFloat(args.backend, x);
        const r = orig({ ...args, inputs: { x: fx } }) as TensorInfo;
        release(args.backend, fx);
        if (r.dtype === 'int32') return r;
        const y = castK({ inputs: { x: r }, backend: args.backend, attrs: { dtype: 'int32' } }) as TensorInfo;
        release(args.backend, r);
        return y;
      });
    }
  }
}

/**
 * A 2-D transpose that TF.js's tiled program (16×16 tiles, one workgroup per tile in x and y) cannot dispatch: a side
 * longer than 16 × the per-dimension workgroup limit (65,535 → 1,048,560; e.g. sums over the first axis of [N, C]
 * with N ≥ 2²⁰ transpose first) fails with "Dispatch size exceeds WebGPU limits in Y or Z dimension". Such a
 * transpose runs as [1, a, b] with perm [0, 2, 1], which takes the flat program (one dispatch dimension, which
 * TF.js folds into two or three). Null when the stock kernel can run it.
 */
export function wideTranspose(shape: readonly number[], perm: readonly number[], maxWorkgroups: number): { shape: number[]; perm: number[] } | null {
  if (shape.length !== 2 || perm[0] !== 1 || perm[1] !== 0) return null;
  if (Math.max(shape[0], shape[1]) <= 16 * maxWorkgroups) return null;
  return { shape: [1, shape[0], shape[1]], perm: [0, 2, 1] };
}

/**
 * The fewest dimensions that keep a broadcast: dimensions of size 1 in the output are dropped, and neighbours are
 * merged when each operand either has both in full or broadcasts both. `full` is the broadcast output shape.
 */
export function collapseBroadcast(tf: Tf, as: readonly number[], bs: readonly number[]): { a: number[]; b: number[]; out: number[]; full: number[] } {
  const full = tf.backend_util.assertAndGetBroadcastShape(as as number[], bs as number[]);
  const n = full.length;
  const pa = [...new Array(n - as.length).fill(1), ...as];
  const pb = [...new Array(n - bs.length).fill(1), ...bs];
  const a: number[] = [];
  const b: number[] = [];
  const out: number[] = [];
  let prev = '';
  for (let i = 0; i < n; i++) {
    if (full[i] === 1) continue;
    const cls = `${pa[i] === 1 ? 1 : 0}${pb[i] === 1 ? 1 : 0}`;
    if (cls === prev) {
      a[a.length - 1] *= pa[i];
      b[b.length - 1] *= pb[i];
      out[out.length - 1] *= full[i];
    } else {
      a.push(pa[i]);
      b.push(pb[i]);
      out.push(full[i]);
      prev = cls;
    }
  }
  if (!out.length) return { a: [1], b: [1], out: [1], full };
  return { a, b, out, full };
}
