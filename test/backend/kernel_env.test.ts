/** SSL3D_NATIVE_KERNELS parsing and the profiler check that keeps TensorFlow's MatMul off under V8's profiler. */
import { describe, expect, it } from 'vitest';
import { nativeFamilyWanted, profilerMayRun, safeUnderProfiler } from '../../src/backend/kernel_env';

describe('nativeFamilyWanted', () => {
  it('reads SSL3D_NATIVE_KERNELS', () => {
    expect(nativeFamilyWanted('matmul2d', {})).toBe(true);
    expect(nativeFamilyWanted('matmul2d', { SSL3D_NATIVE_KERNELS: 'all' })).toBe(true);
    expect(nativeFamilyWanted('matmul2d', { SSL3D_NATIVE_KERNELS: '0' })).toBe(false);
    expect(nativeFamilyWanted('matmul2d', { SSL3D_NATIVE_KERNELS: 'conv, matmul' })).toBe(false);
    expect(nativeFamilyWanted('matmul', { SSL3D_NATIVE_KERNELS: 'conv, matmul' })).toBe(true);
    expect(nativeFamilyWanted('conv', { SSL3D_NATIVE_CONV: '0' })).toBe(false);
  });
});

describe('profilerMayRun', () => {
  it('sees the profiler flags on the command line and in NODE_OPTIONS', () => {
    expect(profilerMayRun([], {})).toBe(false);
    expect(profilerMayRun(['--max-old-space-size=8000'], { NODE_OPTIONS: '--enable-source-maps' })).toBe(false);
    expect(profilerMayRun(['--cpu-prof'], {})).toBe(true);
    expect(profilerMayRun(['--cpu-prof-dir=/tmp/p'], {})).toBe(true);
    expect(profilerMayRun(['--prof'], {})).toBe(true);
    expect(profilerMayRun([], { NODE_OPTIONS: '--inspect=0.0.0.0:9229' })).toBe(true);
    expect(profilerMayRun(['--inspect-brk'], {})).toBe(true);
    expect(profilerMayRun(['--profile-something-else'], {})).toBe(false);
  });
});

describe('safeUnderProfiler', () => {
  it('keeps a crashing family off under the profiler unless SSL3D_NATIVE_KERNELS names it', () => {
    expect(safeUnderProfiler('bmm', 'x', {}, [])).toBe(true);
    expect(safeUnderProfiler('bmm', 'x', {}, ['--cpu-prof'])).toBe(false);
    expect(safeUnderProfiler('bmm', 'x', { SSL3D_NATIVE_KERNELS: 'all' }, ['--prof'])).toBe(false);
    expect(safeUnderProfiler('bmm', 'x', { SSL3D_NATIVE_KERNELS: 'matmul, bmm' }, ['--cpu-prof'])).toBe(true);
    expect(safeUnderProfiler('matmul2d', 'x', { SSL3D_NATIVE_KERNELS: 'bmm' }, ['--cpu-prof'])).toBe(false);
  });
});
