/**
 * Attention's moves between token rows and heads (src/nn/ops/heads.ts) against the einops layout written out index by
 * index: values, the scale on part 0, gradients, merge ∘ split = identity, and shape errors; on every backend here
 * (native: ssl3d's Ssl3dSplitHeads/Ssl3dMergeHeads when their library is built, else the reshape/transpose path).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerNativeKernels } from '../../src/backend/native_kernels';
import { registerWasmKernels } from '../../src/backend/wasm_kernels';
import { availableBackends } from '../../src/backend/select';
import { mergeHeads, splitHeads } from '../../src/nn/ops';

registerWasmKernels();
const backends = ['cpu', 'wasm', ...(availableBackends().includes('native') ? ['tensorflow'] : [])];

for (const backend of backends) {
  describe(`attention heads on ${backend}`, () => {
    beforeAll(async () => {
      if (backend === 'tensorflow') {
        require('@tensorflow/tfjs-node');
        registerNativeKernels('tensorflow');
      }
      expect(await tf.setBackend(backend)).toBe(true);
    });

    const [B, T, N, H, d] = [2, 5, 3, 4, 3];
    /** part p, row b·H + h, token t, value i of x [B·T, N·H·d] */
    const at = (x: Float32Array, p: number, bh: number, t: number, i: number) => {
      const b = Math.floor(bh / H), h = bh % H;
      return x[(b * T + t) * N * H * d + (p * H + h) * d + i];
    };

    it('split: part p of head h of token t of sample b, part 0 scaled; merge undoes it; gradients', () => {
      const x = tf.randomNormal([B * T, N * H * d], 0, 1, 'float32', 5) as tf.Tensor2D;
      const xs = x.dataSync() as Float32Array;
      const scale = 0.37;
      const parts = splitHeads(x, B, H, N, scale);
      expect(parts.map((p) => p.shape)).toEqual(Array(N).fill([B * H, T, d]));
      parts.forEach((p, pi) => {
        const v = p.dataSync();
        for (let bh = 0; bh < B * H; bh++)
          for (let t = 0; t < T; t++)
            for (let i = 0; i < d; i++) expect(v[(bh * T + t) * d + i]).toBeCloseTo(at(xs, pi, bh, t, i) * (pi === 0 ? scale : 1), 6);
      });
      const back = mergeHeads(splitHeads(x, B, H, N), B);
      expect(back.shape).toEqual(x.shape);
      expect(Array.from(back.dataSync())).toEqual(Array.from(xs));
      // d/dx Σ_p Σ w_p·part_p = the weights put back in x's layout, part 0's times the scale
      const ws = Array.from({ length: N }, (_, p) => tf.randomNormal([B * H, T, d], 0, 1, 'float32', 10 + p));
      const gx = tf.grad((t: tf.Tensor) => tf.addN(splitHeads(t as tf.Tensor2D, B, H, N, scale).map((p, i) => tf.sum(tf.mul(p, ws[i])))))(x);
      const want = mergeHeads([tf.mul(ws[0], scale) as tf.Tensor3D, ...(ws.slice(1) as tf.Tensor3D[])], B);
      const g = gx.dataSync(), w = want.dataSync();
      for (let k = 0; k < g.length; k++) expect(g[k]).toBeCloseTo(w[k], 5);
      // merge's gradient: the split of dy (one part used only: the others' gradients are zeros)
      const dy = tf.randomNormal([B * T, N * H * d], 0, 1, 'float32', 20);
      const gp = tf.grads((...ps: tf.Tensor[]) => tf.sum(tf.mul(mergeHeads(ps as tf.Tensor3D[], B), dy)))(splitHeads(x, B, H, N));
      const dyParts = splitHeads(dy as tf.Tensor2D, B, H, N);
      gp.forEach((gpi, i) => expect(Array.from(gpi.dataSync())).toEqual(Array.from(dyParts[i].dataSync())));
      const gOne = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(splitHeads(t as tf.Tensor2D, B, H, N)[1], ws[1])))(x);
      const oneWant = mergeHeads([tf.zerosLike(ws[0]), ws[1], tf.zerosLike(ws[2])] as tf.Tensor3D[], B);
      expect(Array.from(gOne.dataSync())).toEqual(Array.from(oneWant.dataSync()));
    });

    it('leaks nothing and rejects shapes that do not split', () => {
      const x = tf.ones([B * T, N * H * d]) as tf.Tensor2D;
      const before = tf.memory().numTensors;
      tf.tidy(() => tf.grad((t: tf.Tensor) => tf.sum(mergeHeads(splitHeads(t as tf.Tensor2D, B, H, N, 0.5), B)))(x)).dispose();
      expect(tf.memory().numTensors).toBe(before);
      expect(() => splitHeads(x, 3, H, N)).toThrow(/splitHeads: x \[10,36\] is not \[batch·T, parts·heads·d\] for batch 3/);
      expect(() => splitHeads(x, B, 5, N)).toThrow(/not \[batch·T, parts·heads·d\]/);
      expect(() => mergeHeads([tf.ones([8, 5, 3]), tf.ones([8, 4, 3])] as tf.Tensor3D[], B)).toThrow(/mergeHeads: parts/);
      x.dispose();
    });
  });
}
