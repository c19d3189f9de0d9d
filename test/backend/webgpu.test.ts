/**
 * The optional `webgpu` backend (src/backend/webgpu.ts): forced only, never automatic; its packages are not
 * dependencies. Without them, forcing it is a clear error; with them (and no usable GPU), either it initialises
 * (a Vulkan driver such as lavapipe ≥ 23 is present) and the rank-5 workarounds match cpu, or it fails with a
 * BackendError that says Dawn found no adapter. The full check on a GPU is scripts/gpu/opcheck.mjs.
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { availableBackends, BACKEND_ORDER, initBackend, requestedBackend } from '../../src/backend/select';
import { collapseBroadcast, wideTranspose } from '../../src/backend/webgpu';
import { BackendError } from '../../src/errors';

const installed = availableBackends().includes('webgpu');

describe('webgpu backend selection', () => {
  it('is a valid SSL3D_BACKEND value but never in the automatic order', () => {
    expect(requestedBackend({ SSL3D_BACKEND: 'webgpu' })).toBe('webgpu');
    expect(BACKEND_ORDER).not.toContain('webgpu');
  });

  it.skipIf(installed)('forcing it without its packages is a BackendError naming the package', async () => {
    await expect(initBackend('webgpu')).rejects.toThrow(BackendError);
    await expect(initBackend('webgpu')).rejects.toThrow(/(tfjs-backend-webgpu|webgpu) is not installed/);
  });
});

describe('collapseBroadcast (rank-5 binary ops on webgpu)', () => {
  it('merges neighbours with the same broadcast pattern and drops size-1 output dimensions', () => {
    expect(collapseBroadcast(tf, [2, 4, 5, 6, 7], [7])).toEqual({ a: [240, 7], b: [1, 7], out: [240, 7], full: [2, 4, 5, 6, 7] });
    expect(collapseBroadcast(tf, [2, 4, 5, 6, 7], [2, 1, 1, 1, 7])).toEqual({ a: [2, 120, 7], b: [2, 1, 7], out: [2, 120, 7], full: [2, 4, 5, 6, 7] });
    expect(collapseBroadcast(tf, [1, 4, 5, 6, 7], [])).toEqual({ a: [840], b: [1], out: [840], full: [1, 4, 5, 6, 7] });
    expect(collapseBroadcast(tf, [1, 1], [1])).toEqual({ a: [1], b: [1], out: [1], full: [1, 1] });
  });
});

describe('wideTranspose (2-D transposes beyond the tiled program\'s dispatch limit)', () => {
  it('leaves what the stock kernel can dispatch alone and sends longer sides through the 3-D program', () => {
    expect(wideTranspose([1_048_560, 16], [1, 0], 65535)).toBeNull();
    expect(wideTranspose([1_048_561, 16], [1, 0], 65535)).toEqual({ shape: [1, 1_048_561, 16], perm: [0, 2, 1] });
    expect(wideTranspose([3, 3_538_944], [1, 0], 65535)).toEqual({ shape: [1, 3, 3_538_944], perm: [0, 2, 1] });
    expect(wideTranspose([2_000_000, 4, 3], [1, 0, 2], 65535)).toBeNull();
    expect(wideTranspose([2_000_000, 4], [0, 1], 65535)).toBeNull();
  });
});

describe.skipIf(!installed)('webgpu backend with its packages installed', () => {
  it('initialises, or says that Dawn found no adapter', async () => {
    let ok = false;
    try {
      const { info } = await initBackend('webgpu');
      ok = info.tfBackend === 'webgpu';
    } catch (e) {
      expect(e).toBeInstanceOf(BackendError);
      expect((e as Error).message).toMatch(/no WebGPU adapter|could not start/);
      return;
    }
    expect(ok).toBe(true);
    // The rank-5 kernels that need the workarounds, against cpu.
    const make = () => {
      const x = tf.randomUniform([2, 4, 5, 6, 7], -1, 1, 'float32', 1);
      return [
        tf.add(x, tf.randomUniform([7], -1, 1, 'float32', 2)),
        tf.pad(x, [[0, 0], [1, 1], [1, 1], [1, 1], [0, 0]]),
        tf.where(tf.greater(x, 0), x, tf.mul(x, 0.01)),
        tf.reverse(x, [1, 2, 3]),
        tf.cast(tf.sum(tf.cast(tf.greater(x, 0), 'int32'), [1, 2, 3]), 'float32'),
      ];
    };
    const gpu = await Promise.all(tf.tidy(make).map((t) => t.data()));
    await tf.setBackend('cpu');
    const cpu = tf.tidy(make).map((t) => t.dataSync());
    await tf.setBackend('webgpu');
    gpu.forEach((g, i) => expect(Array.from(g)).toEqual(Array.from(cpu[i])));
  }, 120_000);
});
