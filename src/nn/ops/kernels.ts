/**
 * Which implementation an op family uses on the active backend.
 *
 * The matmul decompositions and custom gradients in this folder exist because TF.js's wasm and cpu kernels are slow
 * or wrong (tfjs_engine_notes.md). TensorFlow's own kernels (the native backend) are correct and fast, and every
 * extra op costs ~50 µs of eager dispatch there, so on native the ops call TensorFlow's kernels directly:
 * - 'conv': 3³ convolutions → Conv3D and its two gradient kernels;
 * - 'matmul': dense and batched products → BatchMatMulV2 with its transpose flags (no materialised transposes, no
 *   per-batch loop).
 * Each is tested against PyTorch on every backend (test/nn/ops*.test.ts run on native too; webgpu by the GPU op check).
 *
 * `SSL3D_NATIVE_KERNELS=0` (or `none`) turns all of them off, `SSL3D_NATIVE_KERNELS=conv` keeps only the listed ones;
 * the older `SSL3D_NATIVE_CONV=0` still turns off the convolutions.
 */
import * as tf from '@tensorflow/tfjs';
import { nativeFamilyWanted } from '../../backend/kernel_env';

export type KernelFamily = 'conv' | 'matmul';

/** Backends whose own Conv3D (+ gradients) and MatMul are correct and fast (webgpu: checked by scripts/gpu/opcheck.mjs). */
const NATIVE_BACKENDS = new Set(['tensorflow', 'tensorflow-gpu', 'webgpu']);

export function nativeKernels(family: KernelFamily, env: NodeJS.ProcessEnv = process.env): boolean {
  if (!NATIVE_BACKENDS.has(tf.getBackend())) return false;
  return nativeFamilyWanted(family, env);
}
