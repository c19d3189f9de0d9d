/**
 * Kernels registered over tfjs-node's (or tfjs-node-gpu's) for the native TensorFlow backend, each a family of
 * `SSL3D_NATIVE_KERNELS` (all on by default; a list without a family keeps tfjs-node's own; same results):
 *
 * - `reshape`: tfjs-node runs every reshape as TensorFlow's Reshape op with the target shape passed as a fresh int32
 *   tensor, created from JavaScript and disposed again each time. A training step of the small presets runs ~600
 *   reshapes, and eager dispatch dominates such steps. Here the shape tensors are made once per distinct shape,
 *   directly in the backend (outside TF.js's tensor accounting, so `tf.memory()` and the leak tests do not see them),
 *   and reused: 40 → 27 µs per reshape measured. A reshape to the tensor's own shape (TF.js's Add/Mul/Sub gradients
 *   end with one per operand: 258 of the 581 reshapes of a ViTAutoEnc small-preset step, 480 of 1,267 for UNETR)
 *   returns the input, as the same-dtype Cast does.
 * - `consts`: reductions, transposes and concats take their axis tensors from the same cache.
 * - `cast`: tfjs-node runs a Cast op for a cast to the tensor's own dtype, and TF.js's Multiply gradient casts both
 *   operands to float32: ~250 such no-op casts per UNETR small-preset step. Here a same-dtype cast returns the input
 *   (as tfjs-node's Identity does: one more reference to the same tensor handle); other casts run as before.
 * - `matmul2d`: tfjs-node runs every product as BatchMatMulV2, also 2-D ones; TensorFlow's own MatMul op is 17–24 %
 *   faster for the ViT-B shapes ([432, 768]·[768, 3072]: 26 → 20 ms). `NATIVE_MATMUL_2D` ('Ssl3dMatMul2D') runs it,
 *   with its transpose flags; src/nn/ops/matmul.ts uses it for dense layers when registered for the active backend.
 * - `bmm`: small batched products through BatchMatMulV3 (below).
 * - `norm`: instance norms through FusedBatchNormV3 and its gradient op (below).
 * - `act`: LeakyReLU's gradient as TensorFlow's LeakyReluGrad (below).
 * - `fused`: ssl3d's own TensorFlow ops (norms, GELU, softmax, attention heads, grouped Adam), when their library is
 *   built (./native_ops.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { nativeFamilyWanted, safeUnderProfiler, type NativeKernelFamily } from './kernel_env';
import { registerNativeFusedOps } from './native_ops';

type Info = { dataId: object; shape: number[]; dtype: tf.DataType };
interface NodeBackendLike {
  incRef(dataId: object): void;
  disposeData(dataId: object): boolean;
  binding: { TF_ATTR_BOOL: number; TF_ATTR_FLOAT: number; TF_ATTR_STRING: number; TF_ATTR_INT: number; TF_ATTR_TYPE: number; TF_INT32: number };
  executeMultipleOutputs(name: string, attrs: unknown[], inputs: Info[], numOutputs: number): Info[];
  write(values: Int32Array | Float32Array, shape: number[], dtype: 'int32' | 'float32'): object;
  executeSingleOutput(name: string, attrs: unknown[], inputs: Info[]): Info;
}
interface NodeBackendModule {
  createTensorsTypeOpAttr(name: string, dtypeOrTensors: tf.DataType | Info[]): unknown;
}

type NativeBackendName = 'tensorflow' | 'tensorflow-gpu';

/** tfjs-node's (or tfjs-node-gpu's) backend module, for its op-attribute helpers. */
function nodeBackendModule(backendName: NativeBackendName): NodeBackendModule {
  const pkg = backendName === 'tensorflow' ? '@tensorflow/tfjs-node' : '@tensorflow/tfjs-node-gpu';
  return require(`${pkg}/dist/nodejs_kernel_backend.js`) as NodeBackendModule;
}

/** Distinct shapes kept (a few hundred in a real run); past this, shapes are made per call as tfjs-node does. */
const MAX_SHAPES = 4096;

/**
 * Small constant tensors (shapes, axes, permutations, the fused norm's scale and offset) written once per backend and
 * key, outside TF.js's tensor accounting, and reused by the kernels below. Bounded caches return undefined once
 * `MAX_SHAPES` are kept (callers then fall back to tfjs-node's kernel, which makes one per call).
 */
const constCaches = new WeakMap<object, Map<string, Info>>();
function cachedConst(backend: NodeBackendLike, key: string, make: () => { values: Int32Array | Float32Array; shape: number[] }, bounded = true): Info | undefined {
  let cache = constCaches.get(backend);
  if (!cache) constCaches.set(backend, (cache = new Map()));
  let t = cache.get(key);
  if (!t && (!bounded || cache.size < MAX_SHAPES)) {
    const { values, shape } = make();
    const dtype = values instanceof Int32Array ? 'int32' : 'float32';
    t = { dataId: backend.write(values, shape, dtype), shape, dtype };
    cache.set(key, t);
  }
  return t;
}

function int32Const(backend: NodeBackendLike, values: number[], scalar = false): Info | undefined {
  return cachedConst(backend, (scalar ? 's' : 'v') + values.join(','), () => ({ values: Int32Array.from(values), shape: scalar ? [] : [values.length] }));
}

type KernelArgs = { inputs: Record<string, Info> & Info[]; attrs: Record<string, unknown>; backend: NodeBackendLike };

/** Replaces `kernelName`'s kernel: `run` returns the result, or undefined to let tfjs-node's kernel run instead. */
function overrideKernel(backendName: NativeBackendName, kernelName: string, run: (args: KernelArgs) => Info | undefined): boolean {
  const original = tf.getKernel(kernelName, backendName);
  if (!original) return false;
  const kernelFunc = (args: KernelArgs): Info => run(args) ?? (original.kernelFunc as unknown as (a: KernelArgs) => Info)(args);
  tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel({ ...original, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  return true;
}

/** Families already registered, as `family/backend` (each registration is idempotent). */
const registered = new Set<string>();
function registerOnce(family: NativeKernelFamily, backendName: NativeBackendName, env: NodeJS.ProcessEnv, register: () => boolean): boolean {
  const key = `${family}/${backendName}`;
  if (registered.has(key)) return true;
  if (!nativeFamilyWanted(family, env) || !register()) return false;
  registered.add(key);
  return true;
}

/** Same-dtype casts return the input (one more reference); idempotent. */
export function registerNativeCast(backendName: NativeBackendName, env: NodeJS.ProcessEnv = process.env): boolean {
  return registerOnce('cast', backendName, env, () =>
    overrideKernel(backendName, 'Cast', ({ inputs: { x }, attrs, backend }) => {
      if (x.dtype !== attrs.dtype) return undefined;
      backend.incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    }),
  );
}

export function registerNativeReshape(backendName: NativeBackendName, env: NodeJS.ProcessEnv = process.env): boolean {
  return registerOnce('reshape', backendName, env, () => {
    const nb = nodeBackendModule(backendName);
    return overrideKernel(backendName, 'Reshape', ({ inputs: { x }, attrs, backend }) => {
      const shape = tf.util.inferFromImplicitShape(attrs.shape as number[], tf.util.sizeFromShape(x.shape));
      if (tf.util.arraysEqual(shape, x.shape)) {
        // TF.js's broadcasting gradients reshape every result to its operand's shape, mostly a no-op
        backend.incRef(x.dataId);
        return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
      }
      const st = int32Const(backend, shape);
      if (!st) return undefined;
      const opAttrs = [nb.createTensorsTypeOpAttr('T', x.dtype), nb.createTensorsTypeOpAttr('Tshape', 'int32')];
      return backend.executeSingleOutput('Reshape', opAttrs, [x, st]);
    });
  });
}

/**
 * Sum, Mean, Max, Min, Prod, Transpose and Concat with their axis/permutation tensors from `int32Const` instead of
 * a fresh TF.js tensor per call (tfjs-node makes one with tf.tensor1d/tf.scalar and disposes it: two extra trips
 * through TF.js's engine and TensorFlow per op; its Mean also casts float32 to float32 first). Same TensorFlow ops,
 * same attributes. Family `consts`.
 */
export function registerNativeConstInputs(backendName: NativeBackendName, env: NodeJS.ProcessEnv = process.env): boolean {
  return registerOnce('consts', backendName, env, () => {
    const nb = nodeBackendModule(backendName);
    const reduction = (kernelName: string, axisAttr: 'axis' | 'reductionIndices') =>
      overrideKernel(backendName, kernelName, ({ inputs: { x }, attrs, backend }) => {
        if (kernelName === 'Mean' && x.dtype !== 'float32') return undefined; // tfjs-node casts those first
        const axes = int32Const(backend, tf.util.parseAxisParam(attrs[axisAttr] as number | number[], x.shape));
        if (!axes) return undefined;
        const opAttrs = [
          { name: 'keep_dims', type: backend.binding.TF_ATTR_BOOL, value: Boolean(attrs.keepDims) },
          nb.createTensorsTypeOpAttr('T', x.dtype),
          nb.createTensorsTypeOpAttr('Tidx', 'int32'),
        ];
        return backend.executeSingleOutput(kernelName, opAttrs, [x, axes]);
      });
    reduction('Sum', 'axis');
    reduction('Mean', 'axis');
    reduction('Prod', 'axis');
    reduction('Max', 'reductionIndices');
    reduction('Min', 'axis');
    overrideKernel(backendName, 'Transpose', ({ inputs: { x }, attrs, backend }) => {
      const perm = int32Const(backend, attrs.perm as number[]);
      if (!perm) return undefined;
      const opAttrs = [nb.createTensorsTypeOpAttr('T', x.dtype), nb.createTensorsTypeOpAttr('Tperm', 'int32')];
      return backend.executeSingleOutput('Transpose', opAttrs, [x, perm]);
    });
    overrideKernel(backendName, 'Concat', ({ inputs, attrs, backend }) => {
      const tensors = Array.from(inputs as ArrayLike<Info>);
      const axis = int32Const(backend, [attrs.axis as number], true);
      if (!axis) return undefined;
      const opAttrs = [
        { name: 'N', type: backend.binding.TF_ATTR_INT, value: tensors.length },
        { name: 'Tidx', type: backend.binding.TF_ATTR_TYPE, value: backend.binding.TF_INT32 },
        nb.createTensorsTypeOpAttr('T', tensors),
      ];
      return backend.executeSingleOutput('ConcatV2', opAttrs, [...tensors, axis]);
    });
    return true;
  });
}

/** Kernel name of TensorFlow's 2-D MatMul (inputs a, b; attrs transposeA, transposeB). */
export const NATIVE_MATMUL_2D = 'Ssl3dMatMul2D';

export function registerNativeMatMul2D(backendName: NativeBackendName, env: NodeJS.ProcessEnv = process.env, execArgv: string[] = process.execArgv): boolean {
  if (tf.getKernel(NATIVE_MATMUL_2D, backendName)) return true;
  if (!nativeFamilyWanted('matmul', env) || !nativeFamilyWanted('matmul2d', env)) return false;
  if (!safeUnderProfiler('matmul2d', 'dense layers use tfjs-node\'s BatchMatMulV2 instead of TensorFlow\'s MatMul', env, execArgv)) return false;
  const nb = nodeBackendModule(backendName);
  const kernelFunc = (args: { inputs: { a: Info; b: Info }; attrs: { transposeA: boolean; transposeB: boolean }; backend: NodeBackendLike }): Info => {
    const { a, b } = args.inputs;
    if (a.shape.length !== 2 || b.shape.length !== 2) throw new Error(`${NATIVE_MATMUL_2D}: needs 2-D operands, got [${a.shape}] and [${b.shape}]`);
    const { transposeA, transposeB } = args.attrs;
    const BOOL = args.backend.binding.TF_ATTR_BOOL;
    const attrs = [nb.createTensorsTypeOpAttr('T', a.dtype), { name: 'transpose_a', type: BOOL, value: transposeA }, { name: 'transpose_b', type: BOOL, value: transposeB }];
    return args.backend.executeSingleOutput('MatMul', attrs, [a, b]);
  };
  tf.registerKernel({ kernelName: NATIVE_MATMUL_2D, backendName, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  return true;
}

/**
 * Batched products of at most `SMALL_BMM_FLOPS` multiply-adds (B·m·k·n) run as TensorFlow's BatchMatMulV3 (Eigen)
 * instead of tfjs-node's BatchMatMulV2 (which oneDNN takes over, with a fixed cost of ~60 µs alone and 130–280 µs
 * inside a training step): the small presets' attention products [8, 8, 24]·[8, 24, 8] 186–245 → 40–52 µs per call in
 * a ViTAutoEnc step. Above that size oneDNN wins ([24, 64, 64]·[24, 64, 64]: V2 0.12–0.16 ms, V3 0.51–0.63; ViT-B
 * attention [24, 216, 64]·[24, 64, 216]: 0.95 vs 2.3 ms), so those keep tfjs-node's kernel. Family `bmm`; off under
 * V8's profiler like `matmul2d` (BatchMatMulV3 corrupts the heap there too).
 */
export const SMALL_BMM_FLOPS = 1 << 18;

export function registerNativeSmallBatchMatMul(backendName: NativeBackendName, env: NodeJS.ProcessEnv = process.env, execArgv: string[] = process.execArgv): boolean {
  return registerOnce('bmm', backendName, env, () => {
    if (!safeUnderProfiler('bmm', 'small batched products use tfjs-node\'s BatchMatMulV2 instead of BatchMatMulV3', env, execArgv)) return false;
    const nb = nodeBackendModule(backendName);
    return overrideKernel(backendName, 'BatchMatMul', ({ inputs: { a, b }, attrs, backend }) => {
      const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
      const small =
        a.shape.length === 3 && b.shape.length === 3 && a.shape[0] === b.shape[0] && a.dtype === 'float32' && b.dtype === 'float32' &&
        a.shape[0] * a.shape[1] * a.shape[2] * (transposeB ? b.shape[1] : b.shape[2]) <= SMALL_BMM_FLOPS;
      if (!small) return undefined;
      const BOOL = backend.binding.TF_ATTR_BOOL;
      const opAttrs = [
        nb.createTensorsTypeOpAttr('Ta', 'float32'),
        nb.createTensorsTypeOpAttr('Tb', 'float32'),
        nb.createTensorsTypeOpAttr('Tout', 'float32'),
        { name: 'adj_x', type: BOOL, value: transposeA },
        { name: 'adj_y', type: BOOL, value: transposeB },
      ];
      return backend.executeSingleOutput('BatchMatMulV3', opAttrs, [a, b]);
    });
  });
}

/**
 * TensorFlow's FusedBatchNormV3 / FusedBatchNormGradV3 in training mode on one NHWC tensor [1, H, W, C] without
 * scale or offset: per-channel statistics over H·W, i.e. an instance norm of one sample (src/nn/ops/norm.ts). One
 * kernel forward and one backward instead of ~6 and ~7 elementwise passes: [2, 96, 96, 96, 16] forward + backward
 * 695 → 165 ms. `NATIVE_FUSED_NORM` → [y, r1, r2, r3] (r = the op's reserve spaces, inputs of the gradient);
 * `NATIVE_FUSED_NORM_GRAD` (dy, x, r1, r2, r3) → dx. Family `norm`.
 */
export const NATIVE_FUSED_NORM = 'Ssl3dFusedNorm';
export const NATIVE_FUSED_NORM_GRAD = 'Ssl3dFusedNormGrad';

export function registerNativeFusedNorm(backendName: NativeBackendName, env: NodeJS.ProcessEnv = process.env): boolean {
  if (tf.getKernel(NATIVE_FUSED_NORM, backendName)) return true;
  if (!nativeFamilyWanted('norm', env)) return false;
  const nb = nodeBackendModule(backendName);
  // scale = 1 and offset = 0 per channel count, and the empty mean/variance inputs: made once, kept in the backend
  const constant = (backend: NodeBackendLike, key: string, shape: number[], value: number): Info =>
    cachedConst(backend, `norm:${key}`, () => ({ values: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(value), shape }), false)!;
  const attrs = (backend: NodeBackendLike, eps: number, withFactor: boolean) => [
    nb.createTensorsTypeOpAttr('T', 'float32'),
    nb.createTensorsTypeOpAttr('U', 'float32'),
    { name: 'epsilon', type: backend.binding.TF_ATTR_FLOAT, value: eps },
    ...(withFactor ? [{ name: 'exponential_avg_factor', type: backend.binding.TF_ATTR_FLOAT, value: 1 }] : []),
    { name: 'data_format', type: backend.binding.TF_ATTR_STRING, value: 'NHWC' },
    { name: 'is_training', type: backend.binding.TF_ATTR_BOOL, value: true },
  ];
  const check = (x: Info, who: string) => {
    if (x.shape.length !== 4 || x.shape[0] !== 1 || x.dtype !== 'float32') throw new Error(`${who}: needs a float32 [1, H, W, C] tensor, got ${x.dtype} [${x.shape}]`);
  };
  const forward = (args: { inputs: { x: Info }; attrs: { epsilon: number }; backend: NodeBackendLike }): Info[] => {
    const { x } = args.inputs;
    check(x, NATIVE_FUSED_NORM);
    const C = x.shape[3];
    const b = args.backend;
    const ins = [x, constant(b, `1x${C}`, [C], 1), constant(b, `0x${C}`, [C], 0), constant(b, 'empty', [0], 0), constant(b, 'empty', [0], 0)];
    const [y, mean, variance, r1, r2, r3] = b.executeMultipleOutputs('FusedBatchNormV3', attrs(b, args.attrs.epsilon, true), ins, 6);
    b.disposeData(mean.dataId);
    b.disposeData(variance.dataId);
    return [y, r1, r2, r3];
  };
  const backward = (args: { inputs: { dy: Info; x: Info; r1: Info; r2: Info; r3: Info }; attrs: { epsilon: number }; backend: NodeBackendLike }): Info => {
    const { dy, x, r1, r2, r3 } = args.inputs;
    check(x, NATIVE_FUSED_NORM_GRAD);
    const b = args.backend;
    const C = x.shape[3];
    const outs = b.executeMultipleOutputs('FusedBatchNormGradV3', attrs(b, args.attrs.epsilon, false), [dy, x, constant(b, `1x${C}`, [C], 1), r1, r2, r3], 5);
    outs.slice(1).forEach((o) => b.disposeData(o.dataId));
    return outs[0];
  };
  tf.registerKernel({ kernelName: NATIVE_FUSED_NORM, backendName, kernelFunc: forward as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: NATIVE_FUSED_NORM_GRAD, backendName, kernelFunc: backward as unknown as tf.KernelFunc });
  return true;
}

/**
 * LeakyReLU's gradient as TensorFlow's one LeakyReluGrad op (dy where x > 0, α·dy elsewhere) instead of the Greater,
 * Mul and Select (and two scalar constants) of the op-by-op form: UNETR's 16 activations per step. `NATIVE_LEAKY_RELU_GRAD`
 * (dy, x; alpha) → dx. Family `act`.
 */
export const NATIVE_LEAKY_RELU_GRAD = 'Ssl3dLeakyReluGrad';

export function registerNativeLeakyReluGrad(backendName: NativeBackendName, env: NodeJS.ProcessEnv = process.env): boolean {
  return registerOnce('act', backendName, env, () => {
    const nb = nodeBackendModule(backendName);
    const kernelFunc = (args: { inputs: { dy: Info; x: Info }; attrs: { alpha: number }; backend: NodeBackendLike }): Info => {
      const { dy, x } = args.inputs;
      const b = args.backend;
      const attrs = [nb.createTensorsTypeOpAttr('T', 'float32'), { name: 'alpha', type: b.binding.TF_ATTR_FLOAT, value: args.attrs.alpha }];
      return b.executeSingleOutput('LeakyReluGrad', attrs, [dy, x]);
    };
    tf.registerKernel({ kernelName: NATIVE_LEAKY_RELU_GRAD, backendName, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
    return true;
  });
}

/** All of the above for one native backend (what src/backend/select.ts does when it loads tfjs-node). */
export function registerNativeKernels(backendName: NativeBackendName, env: NodeJS.ProcessEnv = process.env): void {
  registerNativeReshape(backendName, env);
  registerNativeCast(backendName, env);
  registerNativeConstInputs(backendName, env);
  registerNativeMatMul2D(backendName, env);
  registerNativeSmallBatchMatMul(backendName, env);
  registerNativeFusedNorm(backendName, env);
  registerNativeLeakyReluGrad(backendName, env);
  registerNativeFusedOps(backendName, env);
}
