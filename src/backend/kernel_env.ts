/**
 * `SSL3D_NATIVE_KERNELS`: which of ssl3d's native-backend kernel routes are on. Unset/`all`/`1`: all; `0`/`none`:
 * none; a list such as `conv,matmul`: those. Families: `conv`, `matmul` (src/nn/ops/kernels.ts), `matmul2d`,
 * `reshape`, `cast`, `norm` (./native_kernels.ts; `matmul2d` also needs `matmul`). The older `SSL3D_NATIVE_CONV=0` still turns off `conv`.
 */
export type NativeKernelFamily = 'conv' | 'matmul' | 'matmul2d' | 'reshape' | 'cast' | 'norm';

export function nativeFamilyWanted(family: NativeKernelFamily, env: NodeJS.ProcessEnv = process.env): boolean {
  if (family === 'conv' && env.SSL3D_NATIVE_CONV === '0') return false;
  const v = env.SSL3D_NATIVE_KERNELS?.trim().toLowerCase();
  if (!v || v === 'all' || v === '1') return true;
  if (v === '0' || v === 'none') return false;
  return v.split(',').map((s) => s.trim()).includes(family);
}
