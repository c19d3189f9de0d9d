import { afterEach, describe, expect, it } from 'vitest';
import { availableBackends, BACKEND_ENV, describeBackend, initBackend, requestedBackend } from '../../src/backend/select';
import { BackendError } from '../../src/errors';

const saved = process.env[BACKEND_ENV];
afterEach(() => {
  if (saved === undefined) delete process.env[BACKEND_ENV];
  else process.env[BACKEND_ENV] = saved;
});

describe('backend selection', () => {
  it('picks the best installed backend (native when installed, else wasm)', async () => {
    delete process.env[BACKEND_ENV];
    const avail = availableBackends();
    const { info, tf } = await initBackend();
    const expected = avail.includes('native-gpu') ? 'native-gpu' : avail.includes('native') ? 'native' : 'wasm';
    expect(info.name).toBe(expected);
    expect(tf.getBackend()).toBe(info.tfBackend);
    expect(describeBackend(info)).toMatch(new RegExp(`^backend: ${expected} `));
    // native: the line says whether ssl3d's own TensorFlow ops are in use (CI builds them)
    if (expected === 'native') {
      expect(describeBackend(info)).toMatch(/ssl3d's TensorFlow ops (loaded|\(slower\): .+)\)$/);
      if (process.env.SSL3D_REQUIRE_NATIVE_OPS === '1') expect(info.ops).toBe("ssl3d's TensorFlow ops loaded");
    } else expect(info.ops).toBeUndefined();
    // it computes
    const y = tf.tidy(() => tf.tensor([1, 2, 3]).square().sum().dataSync()[0]);
    expect(y).toBe(14);
  });

  it('honours SSL3D_BACKEND=cpu', async () => {
    process.env[BACKEND_ENV] = 'cpu';
    const { info, tf } = await initBackend();
    expect(info.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(info.reason).toMatch(BACKEND_ENV);
  });

  it('a forced backend that is not installed is a clear BackendError', async () => {
    const missing = (['native', 'native-gpu'] as const).find((b) => !availableBackends().includes(b));
    if (!missing) return; // both native packages installed: nothing to test here
    process.env[BACKEND_ENV] = missing;
    await expect(initBackend()).rejects.toThrow(BackendError);
    await expect(initBackend()).rejects.toThrow(/not installed/);
  });

  it('an unknown SSL3D_BACKEND value is rejected with the list of names', () => {
    expect(() => requestedBackend({ [BACKEND_ENV]: 'tpu' })).toThrow(/native-gpu, native, wasm, cpu/);
    expect(requestedBackend({ [BACKEND_ENV]: 'auto' })).toBeUndefined();
    expect(requestedBackend({ [BACKEND_ENV]: 'tensorflow' })).toBe('native');
  });
});
