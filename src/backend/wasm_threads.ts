/**
 * Multi-threaded `wasm` backend in Node.js.
 *
 * `@tensorflow/tfjs-backend-wasm` 4.22 ships a threaded SIMD build (`tfjs-backend-wasm-threaded-simd.wasm`: XNNPACK
 * on a pthreadpool), but in Node it never uses it, for three reasons this module works around at run time (nothing in
 * node_modules is changed):
 *
 * 1. The flag `WASM_HAS_MULTITHREAD_SUPPORT` is hard-wired to false under Node. We set it to true.
 * 2. The emscripten glue creates its pthread workers with `new Worker(<blob: URL>)` and tells each worker to
 *    `importScripts(<Blob>)`; Node's `worker_threads.Worker` accepts neither. While the backend initialises, we swap
 *    `require('worker_threads').Worker` for a subclass that starts such a worker from the package's own worker source
 *    (`wasm-out/tfjs-backend-wasm-threaded-simd.worker.js`, run with `eval: true`) and rewrites the Blob in its `load`
 *    message to the path of the package's standalone glue (`wasm-out/tfjs-backend-wasm-threaded-simd.js`). Those
 *    workers are never ref'd, so they never keep the process alive (Node ends them at exit).
 * 3. The C++ side caps the thread count at half of `os.cpus().length` (it assumes 2 hyper-threads per core), so on
 *    a 2-core machine it would get 1 thread. While the backend initialises, `os.cpus()` reports twice the wanted
 *    thread count, and `setThreadsCount(n)` asks for n.
 *
 * Those swaps last only while the wasm backend factory runs (they are undone when it settles). XNNPACK allows at most
 * 8 threads; emscripten starts 8 workers in any case (PTHREAD_POOL_SIZE), which costs about 0.5–1 s at start-up.
 *
 * Threads: `SSL3D_WASM_THREADS=N` (N ≥ 2: N threads; 1: the stock single-threaded backend; unset, 0 or `auto`:
 * `os.availableParallelism()`). If the threaded start fails, the backend starts single-threaded and one line on
 * stderr says why: never a silent switch to the `cpu` backend.
 *
 * The results are bit-identical to the single-threaded build (XNNPACK splits the output across threads; each output
 * element is still summed in the same order).
 *
 * Importing this module installs the hook (`enableWasmThreads`), without loading the wasm package: if the package
 * registers its backend later, the hook wraps it then. It must run before the wasm backend initialises
 * (`tf.setBackend('wasm')`), which `src/backend/select.ts` guarantees for `initBackend`, and which any code that
 * imports `select.ts` (or this module) before its first `setBackend('wasm')` gets too.
 */
import type * as tfTypes from '@tensorflow/tfjs';

type Tf = typeof tfTypes;
type WasmPkg = typeof import('@tensorflow/tfjs-backend-wasm');
type Factory = () => tfTypes.KernelBackend | Promise<tfTypes.KernelBackend>;
type NodeWorkerClass = typeof import('node:worker_threads').Worker;

export const WASM_THREADS_ENV = 'SSL3D_WASM_THREADS';
const WASM_PKG = '@tensorflow/tfjs-backend-wasm';
/** XNNPACK's own limit in tfjs-backend-wasm (its `max_num_threads`, equal to the pre-started worker pool). */
const MAX_THREADS = 8;
/** A threaded start that takes longer than this is abandoned for the single-threaded one. */
const INIT_TIMEOUT_MS = 60_000;

export interface WasmThreadInfo {
  /** Threads the wasm backend computes with (1: single-threaded); null until it has initialised. */
  threads: number | null;
  /** Whether it runs a SIMD build; null until it has initialised. */
  simd: boolean | null;
  /** Threads asked for (from SSL3D_WASM_THREADS or the CPU count). */
  requested: number;
  /** Why `threads` is what it is. */
  reason: string;
}

/** Threads wanted, from `SSL3D_WASM_THREADS` (or the CPU count), and why. */
export function requestedWasmThreads(env: NodeJS.ProcessEnv = process.env): { threads: number; reason: string; warning?: string } {
  const os = require('node:os') as typeof import('node:os');
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  const auto = { threads: Math.max(1, Math.min(cores, MAX_THREADS)), reason: `${WASM_THREADS_ENV}=auto: ${cores} CPU core(s)` };
  // Single-threaded unless asked: threads only pay off for large matmuls, and a busy core makes every threaded kernel
  // wait (a UNETR wasm test went from 29 s to 93 s with one other busy process on 2 cores).
  const single = { threads: 1, reason: `single-threaded by default (${WASM_THREADS_ENV}=auto or N for threads)` };
  const raw = env[WASM_THREADS_ENV]?.trim().toLowerCase();
  if (!raw) return single;
  if (raw === 'auto' || raw === '0') return auto;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    return { ...single, warning: `${WASM_THREADS_ENV}=${raw} is not a thread count (a whole number, or auto); using 1` };
  }
  return { threads: Math.min(n, MAX_THREADS), reason: `${WASM_THREADS_ENV}=${raw}` };
}

let info: WasmThreadInfo = { threads: null, simd: null, requested: 0, reason: 'wasm backend not initialised yet' };

/** How the wasm backend is (or will be) threaded in this process. */
export function wasmThreadInfo(): WasmThreadInfo {
  if (info.threads === null) {
    // Not initialised through our hook: maybe initialised before it was installed, maybe not at all.
    try {
      const tf = require('@tensorflow/tfjs') as Tf;
      if (tf.findBackend('wasm')) {
        const wasm = require(WASM_PKG) as WasmPkg;
        return { ...info, threads: wasm.getThreadsCount(), reason: 'wasm backend initialised before ssl3d could enable threads' };
      }
    } catch {
      /* not loadable: keep the default */
    }
    return { ...info, requested: requestedWasmThreads().threads };
  }
  return { ...info };
}

const WRAPPED = Symbol.for('ssl3d.wasmThreads.wrapped');
const HOOKED = Symbol.for('ssl3d.wasmThreads.registerHook');

/**
 * Make the wasm backend start multi-threaded when it initialises (idempotent). Wraps the registered `wasm` backend
 * factory, or, when `@tensorflow/tfjs-backend-wasm` has not been loaded yet, wraps it as it registers.
 */
export function enableWasmThreads(): void {
  let tf: Tf;
  try {
    tf = require('@tensorflow/tfjs') as Tf;
  } catch {
    return;
  }
  const engine = tf.engine();
  const entry = engine.registryFactory['wasm'];
  if (entry) {
    entry.factory = wrapFactory(tf, entry.factory);
    return;
  }
  const e = engine as typeof engine & { [HOOKED]?: true };
  if (e[HOOKED]) return;
  e[HOOKED] = true;
  const register = engine.registerBackend;
  engine.registerBackend = function (this: typeof engine, name, factory, priority) {
    return register.call(this, name, name === 'wasm' ? wrapFactory(tf, factory) : factory, priority);
  };
}

function wrapFactory(tf: Tf, original: Factory): Factory {
  if ((original as Factory & { [WRAPPED]?: true })[WRAPPED]) return original;
  const wrapped = () => initWasm(tf, original);
  (wrapped as Factory & { [WRAPPED]?: true })[WRAPPED] = true;
  return wrapped;
}

async function initWasm(tf: Tf, original: Factory): Promise<tfTypes.KernelBackend> {
  const want = requestedWasmThreads();
  if (want.warning) console.warn(`ssl3d: ${want.warning}`);
  const wasm = require(WASM_PKG) as WasmPkg;
  const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
  const single = async (reason: string): Promise<tfTypes.KernelBackend> => {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    wasm.setThreadsCount(-1);
    const backend = await original();
    info = { threads: wasm.getThreadsCount(), simd, requested: want.threads, reason };
    return backend;
  };
  if (want.threads <= 1) return single(`single-threaded (${want.reason})`);
  if (!simd) return single('single-threaded (this runtime has no wasm SIMD, which the threaded build needs)');
  try {
    const backend = await threadedInit(tf, wasm, original, want.threads);
    const got = wasm.getThreadsCount();
    info = {
      threads: got,
      simd,
      requested: want.threads,
      reason: got === want.threads ? `${got} threads (${want.reason})` : `${got} thread(s) of ${want.threads} asked (${want.reason})`,
    };
    return backend;
  } catch (e) {
    const why = (e instanceof Error ? e.message : String((e as { message?: unknown })?.message ?? e)).split('\n')[0];
    console.warn(`ssl3d: wasm threads unavailable (${why}); using the single-threaded wasm backend (${WASM_THREADS_ENV}=1 skips the attempt)`);
    return single(`single-threaded: the threaded start failed (${why})`);
  }
}

/** Start the threaded build with `n` threads, with the Node shims in place only for the duration. */
async function threadedInit(tf: Tf, wasm: WasmPkg, original: Factory, n: number): Promise<tfTypes.KernelBackend> {
  const path = require('node:path') as typeof import('node:path');
  const os = require('node:os') as typeof import('node:os');
  // The glue does `require("worker_threads")`; patch that very object.
  const wt = require('worker_threads') as typeof import('node:worker_threads');
  const pkgDir = path.dirname(require.resolve(`${WASM_PKG}/package.json`));
  const gluePath = path.join(pkgDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
  const workerModule = path.join(pkgDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js');
  const contents = (require(workerModule) as { wasmWorkerContents?: unknown }).wasmWorkerContents;
  if (typeof contents !== 'string') throw new Error(`no wasmWorkerContents in ${workerModule}`);
  require('node:fs').accessSync(gluePath);
  // Same escaping as the package does for its Blob: the source holds "\n" escapes that its template literal unescaped.
  const workerSource = contents.replace(/\n/g, '\\n');

  let failWith: (e: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => (failWith = reject));
  failed.catch(() => {});
  // Errors of this attempt's workers: before and after a failed start they are ours to handle; after a good start
  // they go to the glue as usual.
  let started = false;
  const ours: import('node:worker_threads').Worker[] = [];
  const PthreadWorker = makeWorkerClass(wt.Worker, workerSource, gluePath, ours, (e) => {
    if (started) return false;
    failWith(new Error(`a pthread worker failed: ${(e as Error)?.message ?? e}`));
    return true;
  });

  const realWorker = wt.Worker;
  const realCpus = os.cpus;
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasm.setThreadsCount(n);
  wt.Worker = PthreadWorker;
  os.cpus = () => {
    const cpus = realCpus.call(os);
    return Array.from({ length: 2 * n }, (_, i) => cpus[i % Math.max(1, cpus.length)]);
  };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no start within ${INIT_TIMEOUT_MS / 1000} s`)), INIT_TIMEOUT_MS);
    timer.unref();
  });
  try {
    const backend = await Promise.race([Promise.resolve(original()), failed, timeout]);
    if (wasm.getThreadsCount() < 1) throw new Error('the threaded build started without a thread pool');
    started = true;
    return backend;
  } catch (e) {
    for (const w of ours) void w.terminate();
    throw e;
  } finally {
    clearTimeout(timer);
    wt.Worker = realWorker;
    os.cpus = realCpus;
  }
}

/**
 * A `worker_threads.Worker` that can start the emscripten pthread workers of the threaded wasm build. Any other
 * worker passes through unchanged.
 */
function makeWorkerClass(
  Base: NodeWorkerClass,
  workerSource: string,
  gluePath: string,
  ours: import('node:worker_threads').Worker[],
  onInitError: (e: unknown) => boolean,
): NodeWorkerClass {
  const isPthreadScript = (file: unknown) => typeof file === 'string' && file.startsWith('blob:');
  class PthreadWorker extends Base {
    private readonly pthread: boolean;
    constructor(file: string | URL, options?: import('node:worker_threads').WorkerOptions) {
      const pthread = isPthreadScript(file);
      super(pthread ? workerSource : file, pthread ? { ...options, eval: true } : options);
      this.pthread = pthread;
      if (pthread) {
        URL.revokeObjectURL(file as string);
        super.unref();
        ours.push(this);
      }
    }
    override postMessage(value: unknown, transferList?: readonly import('node:worker_threads').TransferListItem[]): void {
      const msg = value as { cmd?: unknown; urlOrBlob?: unknown } | null;
      if (this.pthread && msg && msg.cmd === 'load' && typeof msg.urlOrBlob !== 'string') {
        value = { ...msg, urlOrBlob: gluePath };
      }
      super.postMessage(value, transferList);
    }
    /** The glue refs a worker while it runs a thread; XNNPACK's threads run for good, so never. */
    override ref(): void {
      if (!this.pthread) super.ref();
    }
    /** An error while the backend starts rejects the start (the glue would rethrow it as an uncaught exception). */
    override on(event: string | symbol, listener: (...args: any[]) => void): this {
      if (this.pthread && event === 'error') {
        return super.on(event, (e: unknown) => {
          if (!onInitError(e)) listener(e);
        });
      }
      return super.on(event, listener);
    }
  }
  return PthreadWorker as unknown as NodeWorkerClass;
}

enableWasmThreads();
