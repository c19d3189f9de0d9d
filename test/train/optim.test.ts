/** ssl3d's Adam/AdamW follow PyTorch's trajectories (fixtures: scripts/reference/make_optim_fixtures.py). */
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Adam } from '../../src/train/optim';
import { det } from '../helpers/det';
import { FIXTURES } from '../helpers/paths';

const fx = JSON.parse(readFileSync(path.join(FIXTURES, 'optim', 'trajectories.json'), 'utf8'));

describe('Adam / AdamW vs torch.optim', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  for (const [name, c] of Object.entries<any>(fx.cases)) {
    it(`${name}: ${fx.steps} steps equal PyTorch's to 1e-6`, () => {
      const shapes: number[][] = fx.shapes;
      const vars = shapes.map((s, i) => tf.variable(tf.tensor(det(s, i + 1), s), true, `${name}_p${i}`));
      const opt = new Adam(
        vars.map((v, i) => [`p${i}`, v]),
        { lr: c.kwargs.lr, weightDecay: c.kwargs.weight_decay ?? 0, decoupled: c.optimizer === 'AdamW' },
      );
      const before = tf.memory().numTensors;
      for (let t = 0; t < fx.steps; t++) {
        const grads: Record<string, tf.Tensor> = {};
        shapes.forEach((s, i) => (grads[vars[i].name] = tf.tensor(det(s, 100 + 10 * t + i, 0.5), s)));
        opt.apply(grads);
        Object.values(grads).forEach((g) => g.dispose());
        vars.forEach((v, i) => {
          const got = v.dataSync();
          const ref: number[] = c.trajectory[t][i];
          for (let k = 0; k < ref.length; k++) expect(Math.abs(got[k] - ref[k])).toBeLessThan(1e-6);
        });
      }
      expect(tf.memory().numTensors).toBe(before);
      opt.dispose();
      vars.forEach((v) => v.dispose());
    });
  }

  it('state and moments restore exactly (the resumed trajectory is bit-identical)', async () => {
    const mk = (tag: string) => [tf.variable(tf.tensor(det([3, 4], 1), [3, 4]), true, `r_${tag}`)];
    const grad = (v: tf.Variable, t: number) => ({ [v.name]: tf.tensor(det([3, 4], 100 + t, 0.5), [3, 4]) });
    const a = mk('a');
    const optA = new Adam([['w', a[0]]], { lr: 1e-2, weightDecay: 1e-5, decoupled: true });
    for (let t = 0; t < 6; t++) optA.apply(grad(a[0], t));
    const b = mk('b');
    const optB0 = new Adam([['w', b[0]]], { lr: 1e-2, weightDecay: 1e-5, decoupled: true });
    for (let t = 0; t < 3; t++) optB0.apply(grad(b[0], t));
    const state = optB0.state();
    const moments = await optB0.moments();
    const saved = b[0].dataSync().slice();
    optB0.dispose();
    const c = [tf.variable(tf.tensor(saved, [3, 4]), true, 'r_c')];
    const optC = new Adam([['w', c[0]]], { lr: 1e-2, weightDecay: 1e-5, decoupled: true });
    optC.load(JSON.parse(JSON.stringify(state)), moments);
    for (let t = 3; t < 6; t++) optC.apply(grad(c[0], t));
    expect(Array.from(c[0].dataSync())).toEqual(Array.from(a[0].dataSync()));
    expect(() => optC.load({ ...state, type: 'Adam' }, moments)).toThrow(/AdamW/);
  });
});
