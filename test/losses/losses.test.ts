/**
 * Losses against MONAI 1.6.1 / torch 2.13 in float64 (fixtures: scripts/reference/make_loss_fixtures.py), values
 * and gradients, on every backend available here (cpu and wasm always; native when @tensorflow/tfjs-node is
 * installed). Values: |ours − MONAI| ≤ 1e-5; gradients: max |ours − torch| / max |torch| ≤ 1e-4.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerNativeKernels } from '../../src/backend/native_kernels';
import { registerWasmKernels } from '../../src/backend/wasm_kernels';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availableBackends } from '../../src/backend/select';
import { decodeSafetensors } from '../../src/io/checkpoint/safetensors';
import { fromTorch, toTorch } from '../../src/io/checkpoint/layout';
import { ContrastiveLoss, DiceCELoss, SSL_TEMPERATURE, contrastiveLoss, diceCELoss, l1Loss, regularizedSslLoss } from '../../src/losses';
import { det } from '../helpers/det';
import { FIXTURES } from '../helpers/paths';

// the wasm backend as the library starts it (src/backend/select.ts): with ssl3d's data-movement kernels
registerWasmKernels();

interface Spec {
  shape: number[];
  seed: number;
  scale?: number;
  plus?: { seed: number; scale?: number };
}
const DIR = path.join(FIXTURES, 'losses');
const index: { cases: Record<string, any> } = JSON.parse(readFileSync(path.join(DIR, 'index.json'), 'utf8'));
const ref = (name: string) => decodeSafetensors(readFileSync(path.join(DIR, `${name}.safetensors`))).tensors;

/** det input, plus an optional second det tensor added in float32 (as the fixture script does). */
function input(s: Spec): tf.Tensor {
  const a = det(s.shape, s.seed, s.scale ?? 1);
  if (s.plus) {
    const b = det(s.shape, s.plus.seed, s.plus.scale ?? 1);
    for (let i = 0; i < a.length; i++) a[i] = a[i] + b[i];
  }
  return tf.tensor(a, s.shape);
}

function relErr(ours: ArrayLike<number>, r: ArrayLike<number>): number {
  expect(ours.length).toBe(r.length);
  let m = 0,
    scale = 0;
  for (let i = 0; i < r.length; i++) {
    m = Math.max(m, Math.abs(ours[i] - r[i]));
    scale = Math.max(scale, Math.abs(r[i]));
  }
  return m / scale;
}

const VAL_TOL = 1e-5;
const GRAD_TOL = 1e-4;
const maxErrors: Record<string, number> = {};
function note(key: string, v: number) {
  maxErrors[key] = Math.max(maxErrors[key] ?? 0, v);
}

const backends = ['cpu', 'wasm', ...(availableBackends().includes('native') ? ['tensorflow'] : [])];

for (const backend of backends) {
  describe(`losses vs MONAI on ${backend}`, () => {
    let previous = '';
    beforeAll(async () => {
      previous = tf.getBackend();
      if (backend === 'tensorflow') {
        require('@tensorflow/tfjs-node');
        registerNativeKernels('tensorflow'); // as src/backend/select.ts starts it
      }
      expect(await tf.setBackend(backend)).toBe(true);
    });
    afterAll(async () => {
      if (previous) await tf.setBackend(previous);
    });

    for (const name of ['contrastive_t005', 'contrastive_t05']) {
      it(`${name}: value and grads wrt both inputs`, () => {
        const c = index.cases[name];
        const r = ref(name);
        const before = tf.memory().numTensors;
        const [val, da, db] = tf.tidy(() => {
          const a = input(c.inputs.a);
          const b = input(c.inputs.b);
          const v = contrastiveLoss(a, b, c.temperature);
          const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => contrastiveLoss(x, y, c.temperature))([a, b]);
          return [v.dataSync()[0], g[0].dataSync(), g[1].dataSync()] as const;
        });
        const cls = new ContrastiveLoss({ temperature: c.temperature });
        const viaClass = tf.tidy(() => cls.call(input(c.inputs.a), input(c.inputs.b)).dataSync()[0]);
        expect(tf.memory().numTensors, 'tensors leaked').toBe(before);
        note(`${name} value`, Math.abs(val - c.loss));
        note(`${name} grads`, Math.max(relErr(da, r.get('da')!.data), relErr(db, r.get('db')!.data)));
        expect(Math.abs(val - c.loss)).toBeLessThanOrEqual(VAL_TOL);
        expect(viaClass).toBe(val);
        expect(relErr(da, r.get('da')!.data), 'da').toBeLessThanOrEqual(GRAD_TOL);
        expect(relErr(db, r.get('db')!.data), 'db').toBeLessThanOrEqual(GRAD_TOL);
      });
    }

    it('regularized total r + cl·r: value, parts, grads wrt out1 and out2', () => {
      const c = index.cases.regularized;
      const r = ref('regularized');
      const before = tf.memory().numTensors;
      const res = tf.tidy(() => {
        // Fixture inputs are NCDHW with C = 1, so NDHWC is the same buffer with the channel moved last.
        const o1 = fromTorch(input(c.inputs.out1), 'activation');
        const o2 = fromTorch(input(c.inputs.out2), 'activation');
        const gt = fromTorch(input(c.inputs.gt), 'activation');
        const { total, l1, contrastive } = regularizedSslLoss(o1, o2, gt, c.temperature);
        const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => regularizedSslLoss(x, y, gt, c.temperature).total)([o1, o2]);
        return {
          total: total.dataSync()[0],
          l1: l1.dataSync()[0],
          l1Plain: l1Loss(o1, gt).dataSync()[0],
          cl: contrastive.dataSync()[0],
          d1: toTorch(g[0], 'activation').dataSync(),
          d2: toTorch(g[1], 'activation').dataSync(),
        };
      });
      expect(tf.memory().numTensors, 'tensors leaked').toBe(before);
      note('regularized value', Math.max(Math.abs(res.total - c.total), Math.abs(res.l1 - c.l1), Math.abs(res.cl - c.contrastive)));
      const gErr = Math.max(relErr(res.d1, r.get('dout1')!.data), relErr(res.d2, r.get('dout2')!.data));
      note('regularized grads', gErr);
      expect(Math.abs(res.total - c.total)).toBeLessThanOrEqual(VAL_TOL);
      expect(Math.abs(res.l1 - c.l1)).toBeLessThanOrEqual(VAL_TOL);
      expect(res.l1Plain).toBe(res.l1);
      expect(Math.abs(res.cl - c.contrastive)).toBeLessThanOrEqual(VAL_TOL);
      expect(gErr).toBeLessThanOrEqual(GRAD_TOL);
      // Gradients flow through both factors: dout2 comes only from cl·r, and would vanish if r were detached there.
      expect(Math.max(...Array.from(res.d2, Math.abs))).toBeGreaterThan(0);
    });

    it('DiceCELoss(to_onehot_y, softmax) on NDHWC logits, a class absent in one sample: value and grad', () => {
      const c = index.cases.dice_ce;
      const r = ref('dice_ce');
      const lab = r.get('labels')!;
      const before = tf.memory().numTensors;
      const res = tf.tidy(() => {
        const logits = fromTorch(input(c.inputs.logits), 'activation');
        const labels = fromTorch(tf.tensor(lab.data, lab.shape), 'activation');
        const v = diceCELoss(logits, labels);
        const viaClass = new DiceCELoss().call(logits, labels);
        const g = tf.grad((x: tf.Tensor) => diceCELoss(x, labels))(logits);
        return { v: v.dataSync()[0], cls: viaClass.dataSync()[0], g: toTorch(g, 'activation').dataSync() };
      });
      expect(tf.memory().numTensors, 'tensors leaked').toBe(before);
      const gErr = relErr(res.g, r.get('dlogits')!.data);
      note('dice_ce value', Math.abs(res.v - c.loss));
      note('dice_ce grads', gErr);
      expect(Math.abs(res.v - c.loss)).toBeLessThanOrEqual(VAL_TOL);
      expect(res.cls).toBe(res.v);
      expect(gErr).toBeLessThanOrEqual(GRAD_TOL);
    });
  });
}

describe('loss edge cases', () => {
  it('contrastive rejects mismatched inputs; DiceCE rejects a non-5-D label', () => {
    tf.tidy(() => {
      expect(() => contrastiveLoss(tf.zeros([2, 3]), tf.zeros([3, 3]))).toThrow();
      expect(() => diceCELoss(tf.zeros([1, 2, 2, 2, 3]), tf.zeros([1, 2, 2, 2]))).toThrow();
    });
  });
  it('ContrastiveLoss defaults to MONAI 0.5; the tutorial constant is 0.05', () => {
    expect(new ContrastiveLoss().temperature).toBe(0.5);
    expect(SSL_TEMPERATURE).toBe(0.05);
  });
  it('DiceCE includeBackground=false drops channel 0 from the Dice term only', () => {
    const before = tf.memory().numTensors;
    const [withBg, noBg, manual] = tf.tidy(() => {
      const logits = tf.tensor(det([1, 2, 3, 2, 3], 5, 2), [1, 2, 3, 2, 3]);
      const labels = tf.tensor(Array.from(det([1, 2, 3, 2, 1], 6), (u) => Math.min(2, Math.floor((u + 1) * 1.5))), [1, 2, 3, 2, 1]);
      const p = tf.softmax(logits).slice([0, 0, 0, 0, 1], [-1, -1, -1, -1, 2]);
      const g = tf.oneHot(tf.cast(tf.squeeze(labels, [4]), 'int32'), 3).toFloat().slice([0, 0, 0, 0, 1], [-1, -1, -1, -1, 2]);
      const dice = tf.mean(tf.sub(1, tf.div(tf.add(tf.mul(tf.sum(tf.mul(p, g), [1, 2, 3]), 2), 1e-5), tf.add(tf.add(tf.sum(p, [1, 2, 3]), tf.sum(g, [1, 2, 3])), 1e-5))));
      const ce = tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(tf.cast(tf.squeeze(labels, [4]), 'int32'), 3).toFloat()), -1)));
      return [
        diceCELoss(logits, labels).dataSync()[0],
        diceCELoss(logits, labels, { includeBackground: false }).dataSync()[0],
        tf.add(dice, ce).dataSync()[0],
      ];
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(noBg).not.toBe(withBg);
    expect(Math.abs(noBg - manual)).toBeLessThan(1e-6);
  });
  it('DiceCE analytic gradient = autodiff of the plain formula (batch 2, weights, with and without background)', () => {
    const before = tf.memory().numTensors;
    const errs = tf.tidy(() => {
      const shape = [2, 3, 2, 4, 4];
      const logits = tf.tensor(det(shape, 11, 3), shape);
      const labels = tf.tensor(Array.from(det([2, 3, 2, 4, 1], 12), (u) => Math.min(3, Math.floor((u + 1) * 2))), [2, 3, 2, 4, 1]);
      const g = tf.oneHot(tf.cast(tf.squeeze(labels, [4]), 'int32'), 4).toFloat();
      const plain = (z: tf.Tensor, bg: boolean) => {
        const p0 = tf.softmax(z);
        const [p, gg] = bg ? [p0, g] : [p0.slice([0, 0, 0, 0, 1], [-1, -1, -1, -1, 3]), g.slice([0, 0, 0, 0, 1], [-1, -1, -1, -1, 3])];
        const dice = tf.mean(tf.sub(1, tf.div(tf.add(tf.mul(tf.sum(tf.mul(p, gg), [1, 2, 3]), 2), 1e-5), tf.add(tf.add(tf.sum(p, [1, 2, 3]), tf.sum(gg, [1, 2, 3])), 1e-5))));
        const ce = tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(z), g), -1)));
        return tf.add(tf.mul(dice, 0.7), tf.mul(ce, 1.3)) as tf.Scalar;
      };
      return [true, false].map((bg) => {
        const o = { includeBackground: bg, lambdaDice: 0.7, lambdaCe: 1.3 };
        const ours = tf.grad((z: tf.Tensor) => diceCELoss(z, labels, o))(logits).dataSync();
        const ref = tf.grad((z: tf.Tensor) => plain(z, bg))(logits).dataSync();
        const dv = Math.abs(diceCELoss(logits, labels, o).dataSync()[0] - plain(logits, bg).dataSync()[0]);
        return Math.max(relErr(ours, ref), dv);
      });
    });
    expect(tf.memory().numTensors).toBe(before);
    for (const e of errs) expect(e).toBeLessThan(1e-5);
  });
});

afterAll(() => {
  console.log('loss max errors (abs for values, relative to max|ref| for grads):', JSON.stringify(maxErrors));
});
