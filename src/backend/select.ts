/**
 * The one place that chooses the TensorFlow.js backend.
 *
 * Order of preference: native GPU (`@tensorflow/tfjs-node-gpu`) > native CPU (`@tensorflow/tfjs-node`) > `wasm`
 * (`@tensorflow/tfjs-backend-wasm`, always installed) > `cpu` (pure JS). The native packages are optional: they are
 * used when installed and loadable. `SSL3D_BACKEND=native-gpu|native|wasm|cpu|webgpu` forces a choice; forcing one
 * that is not installed is an error that says how to install it.
 *
 * `webgpu` (`@tensorflow/tfjs-backend-webgpu` on Dawn through the `webgpu` package, neither a dependency) is never
 * chosen automatically, only when forced; loading, its Vulkan needs and its rank-5 kernel workarounds are in
 * ./webgpu.ts. It cannot read tensors synchronously in Node (`dataSync` needs a canvas): use `await data()`.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { BackendError } from '../errors';
import { registerNativeKernels } from './native_kernels';
import { loadNativeOps } from './native_ops';
import { registerWasmKernels, wasmKernelsWanted } from './wasm_kernels';
import { enableWasmThreads } from './wasm_threads';
import { loadWebGpu } from './webgpu';

/** TensorFlow's C library logs info lines at load; keep warnings and errors only unless the user chose a level. */
function quietTensorFlow(): void {
  process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
}

export type BackendName = 'native-gpu' | 'native' | 'wasm' | 'cpu' | 'webgpu';
/** The automatic order (first that loads wins). */
export const BACKEND_ORDER: BackendName[] = ['native-gpu', 'native', 'wasm', 'cpu'];
/** Backends used only when asked for by name (SSL3D_BACKEND or initBackend(name)). */
export const FORCED_ONLY_BACKENDS: BackendName[] = ['webgpu'];
export const BACKEND_ENV = 'SSL3D_BACKEND';

export interface BackendInfo {
  name: BackendName;
  /** The TF.js backend id (`tensorflow`, `wasm`, `cpu`). */
  tfBackend: string;
  /** The package that provides it. */
  package: string;
  /** Why this one was chosen. */
  reason: string;
  /** native: whether ssl3d's own TensorFlow ops are loaded, and why not (src/backend/native_ops.ts). */
  ops?: string;
}

type Tf = typeof tfTypes;

interface Candidate {
  name: BackendName;
  pkg: string;
  tfBackend: string;
  /** Loads the package; returns the tfjs namespace to use, or throws. */
  load: () => Tf | Promise<Tf>;
  hint: string;
  /** Only when forced by name, never in the automatic order. */
  forcedOnly?: boolean;
  /** Other packages it needs (for availableBackends). */
  needs?: string[];
}

const CANDIDATES: Candidate[] = [
  {
    name: 'native-gpu',
    pkg: '@tensorflow/tfjs-node-gpu',
    tfBackend: 'tensorflow',
    load: () => {
      quietTensorFlow();
      const tf = require('@tensorflow/tfjs-node-gpu') as Tf;
      registerNativeKernels('tensorflow-gpu'); // ./native_kernels.ts (SSL3D_NATIVE_KERNELS picks the families)
      return tf;
    },
    hint: 'install @tensorflow/tfjs-node-gpu (needs a CUDA machine; see README "Backends")',
  },
  {
    name: 'native',
    pkg: '@tensorflow/tfjs-node',
    tfBackend: 'tensorflow',
    load: () => {
      quietTensorFlow();
      const tf = require('@tensorflow/tfjs-node') as Tf;
      registerNativeKernels('tensorflow'); // ./native_kernels.ts (SSL3D_NATIVE_KERNELS picks the families)
      return tf;
    },
    hint: 'install @tensorflow/tfjs-node (see README "Backends" for the offline route)',
  },
  {
    name: 'wasm',
    pkg: '@tensorflow/tfjs-backend-wasm',
    tfBackend: 'wasm',
    load: () => {
      require('@tensorflow/tfjs-backend-wasm');
      enableWasmThreads(); // multi-threaded XNNPACK in Node when SSL3D_WASM_THREADS asks (default single-threaded)
      if (wasmKernelsWanted()) registerWasmKernels(); // faster slice/split/concat/transpose (SSL3D_WASM_KERNELS=0: TF.js's own)
      return require('@tensorflow/tfjs') as Tf;
    },
    hint: 'reinstall the project dependencies (npm install)',
  },
  {
    name: 'cpu',
    pkg: '@tensorflow/tfjs',
    tfBackend: 'cpu',
    load: () => require('@tensorflow/tfjs') as Tf,
    hint: 'reinstall the project dependencies (npm install)',
  },
  {
    name: 'webgpu',
    pkg: '@tensorflow/tfjs-backend-webgpu',
    tfBackend: 'webgpu',
    load: loadWebGpu,
    hint: 'install @tensorflow/tfjs-backend-webgpu@4.22.0 and webgpu (Dawn for Node; see README "Backends")',
    forcedOnly: true,
    needs: ['webgpu'],
  },
];

let active: { info: BackendInfo; tf: Tf } | undefined;

/** Parse the environment override; throws on an unknown name. */
export function requestedBackend(env: NodeJS.ProcessEnv = process.env): BackendName | undefined {
  const v = env[BACKEND_ENV]?.trim().toLowerCase();
  if (!v || v === 'auto') return undefined;
  const aliases: Record<string, BackendName> = { tensorflow: 'native', node: 'native', gpu: 'native-gpu', 'node-gpu': 'native-gpu' };
  const name = (aliases[v] ?? v) as BackendName;
  if (!BACKEND_ORDER.includes(name) && !FORCED_ONLY_BACKENDS.includes(name)) {
    throw new BackendError(`${BACKEND_ENV}=${v} is not a backend; use one of ${[...BACKEND_ORDER, ...FORCED_ONLY_BACKENDS].join(', ')} or auto`);
  }
  return name;
}

/** Which backends could be loaded here (does not switch the active backend). */
export function availableBackends(): BackendName[] {
  return CANDIDATES.filter((c) => {
    try {
      for (const p of [c.pkg, ...(c.needs ?? [])]) require.resolve(p);
      return true;
    } catch {
      return false;
    }
  }).map((c) => c.name);
}

/**
 * Initialise the backend (once per process) and return the tfjs namespace bound to it.
 * `force` (or SSL3D_BACKEND) picks one (any of BACKEND_ORDER or FORCED_ONLY_BACKENDS); otherwise the first that
 * loads in BACKEND_ORDER.
 */
export async function initBackend(force?: BackendName): Promise<{ info: BackendInfo; tf: Tf }> {
  const wanted = force ?? requestedBackend();
  if (active && (!wanted || active.info.name === wanted)) return active;
  const list = wanted ? CANDIDATES.filter((c) => c.name === wanted) : CANDIDATES.filter((c) => !c.forcedOnly);
  const failures: string[] = [];
  for (const c of list) {
    let tf: Tf;
    try {
      tf = await c.load();
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (wanted && err instanceof BackendError) throw new BackendError(`backend '${c.name}': ${err.message}`);
      // Which package is missing (the candidate's own, or one it needs such as `webgpu`).
      const missing = err.code === 'MODULE_NOT_FOUND' ? (/Cannot find module '([^']+)'/.exec(err.message)?.[1] ?? c.pkg) : c.pkg;
      const pkg = [c.pkg, ...(c.needs ?? [])].find((p) => missing === p || missing.startsWith(`${p}/`)) ?? c.pkg;
      const why = err.code === 'MODULE_NOT_FOUND' ? 'not installed' : `failed to load: ${err.message.split('\n')[0]}`;
      failures.push(`${c.name} (${pkg}): ${why}`);
      if (wanted) throw new BackendError(`backend '${c.name}' requested via ${BACKEND_ENV} but ${pkg} is ${why}; ${c.hint}`);
      continue;
    }
    let ok = false;
    let initError = '';
    try {
      ok = await tf.setBackend(c.tfBackend);
      await tf.ready();
    } catch (e) {
      initError = (e as Error).message;
      failures.push(`${c.name}: failed to initialise: ${initError}`);
    }
    if (!ok || tf.getBackend() !== c.tfBackend) {
      if (wanted) throw new BackendError(`backend '${c.name}' requested via ${BACKEND_ENV} failed to initialise${initError ? `: ${initError}` : ''}`);
      continue;
    }
    const reason = wanted
      ? `forced by ${force ? 'caller' : BACKEND_ENV}`
      : failures.length
        ? `best available (${failures.join('; ')})`
        : 'best available';
    const info: BackendInfo = { name: c.name, tfBackend: c.tfBackend, package: c.pkg, reason };
    if (c.name === 'native' || c.name === 'native-gpu') {
      const st = loadNativeOps(c.name === 'native' ? 'tensorflow' : 'tensorflow-gpu');
      info.ops = st.loaded ? "ssl3d's TensorFlow ops loaded" : `without ssl3d's TensorFlow ops (slower): ${st.reason}`;
    }
    active = { info, tf };
    return active;
  }
  throw new BackendError(`no TensorFlow.js backend could be initialised:\n  ${failures.join('\n  ')}`);
}

/** One line for logs: `backend: wasm (@tensorflow/tfjs-backend-wasm; best available ...)`. */
export function describeBackend(info: BackendInfo): string {
  return `backend: ${info.name} (${info.package}; ${info.reason}${info.ops ? `; ${info.ops}` : ''})`;
}
