/**
 * `SSL3D_NATIVE_KERNELS`: which of ssl3d's native-backend kernel routes are on. Unset/`all`/`1`: all; `0`/`none`:
 * none; a list such as `conv,matmul`: those. Families: `conv`, `matmul` (src/nn/ops/kernels.ts), `matmul2d` (also
 * needs `matmul`), `bmm`, `reshape`, `consts`, `cast`, `norm`, `act` (./native_kernels.ts), `fused` (./native_ops.ts), `adam` (./native_adam.ts). The
 * older `SSL3D_NATIVE_CONV=0` still turns off `conv`.
 */
import inspector from 'node:inspector';

export type NativeKernelFamily = 'conv' | 'matmul' | 'matmul2d' | 'bmm' | 'reshape' | 'consts' | 'cast' | 'norm' | 'adam' | 'act' | 'fused';

export function nativeFamilyWanted(family: NativeKernelFamily, env: NodeJS.ProcessEnv = process.env): boolean {
  if (family === 'conv' && env.SSL3D_NATIVE_CONV === '0') return false;
  const v = env.SSL3D_NATIVE_KERNELS?.trim().toLowerCase();
  if (!v || v === 'all' || v === '1') return true;
  if (v === '0' || v === 'none') return false;
  return v.split(',').map((s) => s.trim()).includes(family);
}

/**
 * Whether V8's sampling profiler may run in this process: `--cpu-prof`/`--prof` on the command line or in
 * NODE_OPTIONS, or an inspector (`--inspect`, DevTools). TensorFlow's MatMul/BatchMatMulV3 ops (families `matmul2d`, `bmm`)
 * corrupt the C heap under it ("corrupted size vs. prev_size", reproduced with a bare loop of MatMul ops under
 * `node --cpu-prof` and `node --prof`, oneDNN on or off; BatchMatMulV2 and plain runs, also with other signals, are fine).
 */
export function profilerMayRun(execArgv: string[] = process.execArgv, env: NodeJS.ProcessEnv = process.env): boolean {
  const flags = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (flags.some((f) => /^--(cpu-prof|prof|inspect)(\b|=|-)/.test(f))) return true;
  return inspector.url() !== undefined;
}

const warned = new Set<string>();

/**
 * Whether a family whose TensorFlow op crashes under V8's profiler (`matmul2d`, `bmm`; see profilerMayRun) may be
 * registered: yes when no profiler may run, or when SSL3D_NATIVE_KERNELS names the family; otherwise no, with one
 * warning per family saying what runs instead.
 */
export function safeUnderProfiler(family: NativeKernelFamily, instead: string, env: NodeJS.ProcessEnv = process.env, execArgv: string[] = process.execArgv): boolean {
  if (!profilerMayRun(execArgv, env)) return true;
  const listed = (env.SSL3D_NATIVE_KERNELS ?? '').split(',').map((f) => f.trim().toLowerCase());
  if (listed.includes(family)) return true;
  if (!warned.has(family)) {
    warned.add(family);
    process.emitWarning(`ssl3d: V8 profiler or inspector active; ${instead} (TensorFlow's op corrupts memory under the profiler). Listing ${family} in SSL3D_NATIVE_KERNELS forces it.`);
  }
  return false;
}
