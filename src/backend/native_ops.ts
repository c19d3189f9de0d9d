/**
 * ssl3d's own TensorFlow CPU ops for the native backend (family `fused`): LayerNorm and exact GELU, each one kernel
 * forward and one backward instead of TF.js's chains of elementwise ops (a LayerNorm with its affine is 9 ops forward
 * and ~13 backward, a GELU 5 and 11; each a kernel dispatch through tfjs-node and a pass over memory); attention's
 * split into heads and merge back (one copy each instead of reshape/transpose/reshape/unstack and the score scaling);
 * softmax's gradient in one op; instance norm over a whole batch in one op each way (TensorFlow's FusedBatchNormV3
 * normalises per channel over the batch, so each sample needed its own call, with unstack/stack around them); Adam's
 * update of all small parameters in one op; softmax in one pass per row; the MLP's bias add fused into its GELU.
 *
 * The ops live in a small library, `ssl3d_ops.node`, compiled by `npm run backend:native`
 * (scripts/native-backend/build_ops.sh, sources scripts/native-backend/ops/*.cc) against the headers of the
 * TensorFlow wheel whose C library tfjs-node was built on, and placed beside that library in tfjs-node's `deps/lib`.
 * Loading it (a Node addon) registers the ops in TensorFlow's registries; tfjs-node then runs them by name. Its
 * `ssl3d_ops.json` records the TensorFlow library it was built for; a library of another build is not loaded (the
 * JavaScript ops run instead), since a C++ ABI mismatch would crash the process rather than fail.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { nativeFamilyWanted } from './kernel_env';

type Info = { dataId: object; shape: number[]; dtype: tf.DataType };
interface NodeBackendLike {
  binding: { TF_ATTR_FLOAT: number; TF_ATTR_INT: number };
  executeMultipleOutputs(name: string, attrs: unknown[], inputs: Info[], numOutputs: number): Info[];
  executeSingleOutput(name: string, attrs: unknown[], inputs: Info[]): Info;
}
type NativeBackendName = 'tensorflow' | 'tensorflow-gpu';

/** TF.js kernel names of the ops (same as the TensorFlow op names). */
export const NATIVE_LAYER_NORM = 'Ssl3dLayerNorm';
export const NATIVE_LAYER_NORM_GRAD = 'Ssl3dLayerNormGrad';
export const NATIVE_GELU = 'Ssl3dGelu';
export const NATIVE_GELU_GRAD = 'Ssl3dGeluGrad';
export const NATIVE_SPLIT_HEADS = 'Ssl3dSplitHeads';
export const NATIVE_MERGE_HEADS = 'Ssl3dMergeHeads';
export const NATIVE_SOFTMAX_GRAD = 'Ssl3dSoftmaxGrad';
export const NATIVE_INSTANCE_NORM = 'Ssl3dInstanceNorm';
export const NATIVE_INSTANCE_NORM_GRAD = 'Ssl3dInstanceNormGrad';
export const NATIVE_ADAM_GROUP = 'Ssl3dAdamGroup';
export const NATIVE_SOFTMAX = 'Ssl3dSoftmax';
export const NATIVE_BIAS_GELU = 'Ssl3dBiasGelu';
export const NATIVE_BIAS_GELU_GRAD = 'Ssl3dBiasGeluGrad';
/** Every op the library must have (its manifest lists them). */
export const NATIVE_OPS = [
  NATIVE_LAYER_NORM, NATIVE_LAYER_NORM_GRAD, NATIVE_GELU, NATIVE_GELU_GRAD, NATIVE_SPLIT_HEADS, NATIVE_MERGE_HEADS, NATIVE_SOFTMAX_GRAD,
  NATIVE_INSTANCE_NORM, NATIVE_INSTANCE_NORM_GRAD, NATIVE_ADAM_GROUP, NATIVE_SOFTMAX, NATIVE_BIAS_GELU, NATIVE_BIAS_GELU_GRAD,
];

/** Attributes of `NATIVE_ADAM_GROUP`: the update's scalars, each rounded to float32 as the op-by-op update's are. */
export interface AdamGroupAttrs {
  beta1: number;
  beta2: number;
  oneMinusBeta1: number;
  oneMinusBeta2: number;
  eps: number;
  /** lr / (1 − β1ᵗ) */
  stepSize: number;
  /** √(1 − β2ᵗ) */
  bc2Sqrt: number;
  /** AdamW: 1 − lr·wd; else 1 */
  decayFactor: number;
  /** Adam with weight decay: wd; else 0 */
  l2: number;
}

/** What build_ops.sh writes beside the library. */
export interface NativeOpsManifest {
  tfVersion: string;
  /** byte size of the libtensorflow_framework.so.2 it was linked against */
  frameworkBytes: number;
  ops: string[];
}

export type NativeOpsStatus = { loaded: true; library: string } | { loaded: false; reason: string };

const status = new Map<NativeBackendName, NativeOpsStatus>();

/** The library's folder for a backend: the installed tfjs-node(-gpu)'s deps/lib. */
export function nativeOpsDir(backendName: NativeBackendName): string | undefined {
  const pkg = backendName === 'tensorflow' ? '@tensorflow/tfjs-node' : '@tensorflow/tfjs-node-gpu';
  try {
    return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), 'deps', 'lib');
  } catch {
    return undefined;
  }
}

/**
 * Whether the library in `dir` may be loaded into this process's TensorFlow: it and its manifest exist, and the
 * framework library beside it is the one it was linked against. Returns the reason when not.
 */
export function checkNativeOpsLibrary(dir: string): { ok: true; library: string } | { ok: false; reason: string } {
  const library = path.join(dir, 'ssl3d_ops.node');
  const manifestPath = path.join(dir, 'ssl3d_ops.json');
  if (!fs.existsSync(library)) return { ok: false, reason: `no ${library} (npm run backend:native builds it)` };
  let manifest: NativeOpsManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as NativeOpsManifest;
  } catch (e) {
    return { ok: false, reason: `${manifestPath} is missing or unreadable (${(e as Error).message}); rebuild with npm run backend:native -- --force` };
  }
  const missing = NATIVE_OPS.filter((op) => !manifest.ops?.includes(op));
  if (missing.length) return { ok: false, reason: `${library} lacks ${missing.join(', ')} (built from an older source); rebuild with npm run backend:native` };
  const framework = path.join(dir, 'libtensorflow_framework.so.2');
  let bytes = -1;
  try {
    bytes = fs.statSync(framework).size;
  } catch {
    return { ok: false, reason: `no ${framework} beside ${library}` };
  }
  if (bytes !== manifest.frameworkBytes) {
    return { ok: false, reason: `${library} was built for another TensorFlow library (${manifest.tfVersion}, ${manifest.frameworkBytes} bytes; found ${bytes}); rebuild with npm run backend:native -- --force` };
  }
  return { ok: true, library };
}

/** Loads the op library for a native backend once; the status says whether it is loaded, and why not. */
export function loadNativeOps(backendName: NativeBackendName, env: NodeJS.ProcessEnv = process.env): NativeOpsStatus {
  const known = status.get(backendName);
  if (known) return known;
  let s: NativeOpsStatus;
  const dir = nativeOpsDir(backendName);
  if (!nativeFamilyWanted('fused', env)) s = { loaded: false, reason: 'family fused is off (SSL3D_NATIVE_KERNELS)' };
  // CPU kernels: with a GPU, TensorFlow would run them on the CPU and copy every tensor there and back
  else if (backendName === 'tensorflow-gpu') s = { loaded: false, reason: 'its ops are CPU kernels, not used with @tensorflow/tfjs-node-gpu' };
  else if (!dir) s = { loaded: false, reason: 'no native backend package installed' };
  else {
    const check = checkNativeOpsLibrary(dir);
    if (!check.ok) s = { loaded: false, reason: check.reason };
    else {
      try {
        require(check.library);
        s = { loaded: true, library: check.library };
      } catch (e) {
        s = { loaded: false, reason: `loading ${check.library} failed: ${(e as Error).message}` };
      }
    }
  }
  status.set(backendName, s);
  return s;
}

/**
 * Registers the TF.js kernels that run the library's ops, when it loads: `NATIVE_LAYER_NORM` (x, gamma, beta;
 * epsilon) → [y, mean, rstd]; `NATIVE_LAYER_NORM_GRAD` (dy, x, mean, rstd, gamma) → [dx, dgamma, dbeta];
 * `NATIVE_GELU` (x) → y; `NATIVE_GELU_GRAD` (dy, x) → dx; `NATIVE_SPLIT_HEADS` (x; parts, batch, heads, scale0) →
 * parts; `NATIVE_MERGE_HEADS` (part0, part1, ...; batch, scale0) → y; `NATIVE_SOFTMAX_GRAD` (dy, y) → dx;
 * `NATIVE_INSTANCE_NORM` (x [B, ..., C]; epsilon) → [y, mean, rstd]; `NATIVE_INSTANCE_NORM_GRAD` (dy, x, mean, rstd) →
 * dx; `NATIVE_ADAM_GROUP` (p0.., g0.., m, v; AdamGroupAttrs) → [p0'.., m', v']; `NATIVE_SOFTMAX` (x) → y;
 * `NATIVE_BIAS_GELU` (x, b) → GELU(x + b); `NATIVE_BIAS_GELU_GRAD` (dy, x, b) → [dx, db]. src/nn/ops and src/train/optim.ts use
 * them when registered for the active backend.
 */
export function registerNativeFusedOps(backendName: NativeBackendName, env: NodeJS.ProcessEnv = process.env): boolean {
  if (tf.getKernel(NATIVE_LAYER_NORM, backendName)) return true;
  if (!loadNativeOps(backendName, env).loaded) return false;
  const kernel = (kernelName: string, run: (inputs: Record<string, Info>, attrs: Record<string, unknown>, b: NodeBackendLike) => Info | Info[]) =>
    tf.registerKernel({
      kernelName,
      backendName,
      kernelFunc: ((args: { inputs: Record<string, Info>; attrs: Record<string, unknown>; backend: NodeBackendLike }) =>
        run(args.inputs, args.attrs, args.backend)) as unknown as tf.KernelFunc,
    });
  kernel(NATIVE_LAYER_NORM, ({ x, gamma, beta }, attrs, b) =>
    b.executeMultipleOutputs(NATIVE_LAYER_NORM, [{ name: 'epsilon', type: b.binding.TF_ATTR_FLOAT, value: attrs.epsilon as number }], [x, gamma, beta], 3),
  );
  // the ops without attributes: their inputs in order, and how many outputs
  const attributeFree: Array<[string, string[], number]> = [
    [NATIVE_LAYER_NORM_GRAD, ['dy', 'x', 'mean', 'rstd', 'gamma'], 3],
    [NATIVE_GELU, ['x'], 1],
    [NATIVE_GELU_GRAD, ['dy', 'x'], 1],
    [NATIVE_BIAS_GELU, ['x', 'b'], 1],
    [NATIVE_BIAS_GELU_GRAD, ['dy', 'x', 'b'], 2],
    [NATIVE_SOFTMAX, ['x'], 1],
    [NATIVE_SOFTMAX_GRAD, ['dy', 'y'], 1],
    [NATIVE_INSTANCE_NORM_GRAD, ['dy', 'x', 'mean', 'rstd'], 1],
  ];
  for (const [name, inputNames, outputs] of attributeFree) {
    kernel(name, (inputs, _attrs, b) => {
      const xs = inputNames.map((k) => inputs[k]);
      return outputs === 1 ? b.executeSingleOutput(name, [], xs) : b.executeMultipleOutputs(name, [], xs, outputs);
    });
  }
  const int = (b: NodeBackendLike, name: string, value: number) => ({ name, type: b.binding.TF_ATTR_INT, value });
  const float = (b: NodeBackendLike, name: string, value: number) => ({ name, type: b.binding.TF_ATTR_FLOAT, value });
  kernel(NATIVE_SPLIT_HEADS, ({ x }, a, b) =>
    b.executeMultipleOutputs(
      NATIVE_SPLIT_HEADS,
      [int(b, 'N', a.parts as number), int(b, 'batch', a.batch as number), int(b, 'heads', a.heads as number), float(b, 'scale0', a.scale0 as number)],
      [x],
      a.parts as number,
    ),
  );
  kernel(NATIVE_MERGE_HEADS, (inputs, a, b) => {
    const parts = Array.from({ length: Object.keys(inputs).length }, (_, i) => inputs[`part${i}`]);
    return b.executeSingleOutput(NATIVE_MERGE_HEADS, [int(b, 'N', parts.length), int(b, 'batch', a.batch as number), float(b, 'scale0', a.scale0 as number)], parts);
  });
  kernel(NATIVE_INSTANCE_NORM, ({ x }, a, b) => b.executeMultipleOutputs(NATIVE_INSTANCE_NORM, [float(b, 'epsilon', a.epsilon as number)], [x], 3));
  kernel(NATIVE_ADAM_GROUP, (inputs, a, b) => {
    const n = (Object.keys(inputs).length - 2) / 2;
    const h = a as unknown as AdamGroupAttrs;
    const list = (p: string) => Array.from({ length: n }, (_, i) => inputs[`${p}${i}`]);
    const attrs = [
      int(b, 'N', n),
      ...(
        [
          ['beta1', h.beta1], ['beta2', h.beta2], ['one_minus_beta1', h.oneMinusBeta1], ['one_minus_beta2', h.oneMinusBeta2], ['eps', h.eps],
          ['step_size', h.stepSize], ['bc2_sqrt', h.bc2Sqrt], ['decay_factor', h.decayFactor], ['l2', h.l2],
        ] as Array<[string, number]>
      ).map(([k, v]) => float(b, k, v)),
    ];
    return b.executeMultipleOutputs(NATIVE_ADAM_GROUP, attrs, [...list('p'), ...list('g'), inputs.m, inputs.v], n + 2);
  });
  return true;
}
