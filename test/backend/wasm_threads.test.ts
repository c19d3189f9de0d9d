/**
 * The multi-threaded wasm backend (src/backend/wasm_threads.ts): it gets the threads it asks for, its matmuls are
 * bit-identical to the stock single-threaded backend's, and a process that used it still exits by itself.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { requestedWasmThreads, wasmThreadInfo } from '../../src/backend/wasm_threads';
import { ROOT } from '../helpers/paths';

/** Deterministic float32 inputs, written the same way here and in the child process below. */
const FILL = 'const fill = (n, k) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + k) * Math.cos(i * 0.011 * k));';
const fill = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + k) * Math.cos(i * 0.011 * k));
// Odd sizes, so that edge tiles are split between threads too.
const [M, K, N] = [257, 301, 190];

/** What the cases compute, as JS source for the child (`tf` in scope) and as a function here. */
const CASES = `[
  tf.matMul(tf.tensor2d(fill(${M * K}, 1), [${M}, ${K}]), tf.tensor2d(fill(${K * N}, 2), [${K}, ${N}])),
  tf.fused.matMul({ a: tf.tensor2d(fill(${M * K}, 3), [${M}, ${K}]), b: tf.tensor2d(fill(${K * N}, 4), [${K}, ${N}]),
                    bias: tf.tensor1d(fill(${N}, 5)), activation: 'relu' }),
]`;
function cases(): tf.Tensor[] {
  return [
    tf.matMul(tf.tensor2d(fill(M * K, 1), [M, K]), tf.tensor2d(fill(K * N, 2), [K, N])),
    tf.fused.matMul({
      a: tf.tensor2d(fill(M * K, 3), [M, K]),
      b: tf.tensor2d(fill(K * N, 4), [K, N]),
      bias: tf.tensor1d(fill(N, 5)),
      activation: 'relu',
    }),
  ];
}
const hex = (t: tf.Tensor) => Buffer.from((t.dataSync() as Float32Array).buffer).toString('hex');

// Threads are opt-in; this file tests the threaded backend (read when the backend starts, in beforeAll).
process.env.SSL3D_WASM_THREADS ??= '2';

beforeAll(async () => {
  expect(await tf.setBackend('wasm')).toBe(true);
});

describe('multi-threaded wasm backend', () => {
  it('runs with the threads it asked for (SSL3D_WASM_THREADS; single-threaded when unset)', () => {
    expect(requestedWasmThreads({}).threads).toBe(1);
    expect(requestedWasmThreads({ SSL3D_WASM_THREADS: '3' }).threads).toBe(3);
    expect(requestedWasmThreads({ SSL3D_WASM_THREADS: 'x' }).warning).toMatch(/not a thread count/);
    const info = wasmThreadInfo();
    expect(info.requested).toBe(requestedWasmThreads().threads);
    expect(info.threads, info.reason).toBe(info.requested);
    expect(info.simd).toBe(true);
    expect(info.reason).toMatch(info.threads! > 1 ? /threads/ : /single-threaded/);
  });

  it('matmul results are bit-identical to the stock single-threaded wasm backend', () => {
    const child = execFileSync(
      process.execPath,
      [
        '-e',
        `const tf = require('@tensorflow/tfjs'); const wasm = require('@tensorflow/tfjs-backend-wasm'); ${FILL}
         tf.setBackend('wasm').then(() => {
           const out = ${CASES};
           console.log(JSON.stringify({ threads: wasm.getThreadsCount(),
             hex: out.map((t) => Buffer.from(t.dataSync().buffer).toString('hex')) }));
         });`,
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    const ref = JSON.parse(child) as { threads: number; hex: string[] };
    expect(ref.threads).toBe(1);
    const ours = tf.tidy(() => cases().map(hex));
    ours.forEach((h, i) => expect(h === ref.hex[i], `case ${i}`).toBe(true));
  });

  // Node must exit by itself: the pthread workers must not keep the event loop alive. The child uses the compiled
  // sources (dist/, built by `npm test`'s pretest).
  const distSelect = path.join(ROOT, 'dist/backend/select.js');
  it.skipIf(!existsSync(distSelect))('a process that used it exits by itself', () => {
    const out = execFileSync(
      process.execPath,
      [
        '-e',
        `const { initBackend } = require(${JSON.stringify(distSelect)});
         const { wasmThreadInfo } = require(${JSON.stringify(path.join(ROOT, 'dist/backend/wasm_threads.js'))});
         initBackend('wasm').then(({ tf }) => {
           tf.matMul(tf.ones([300, 300]), tf.ones([300, 300])).dataSync();
           console.log(JSON.stringify(wasmThreadInfo()));
         });`,
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    expect(JSON.parse(out).threads).toBe(requestedWasmThreads().threads);
  });
});
