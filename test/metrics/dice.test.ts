/** DiceMetric against MONAI 1.6.1 (fixtures: scripts/reference/make_loss_fixtures.py): per-case per-class matrices
 * exactly (NaN positions equal, values to float32 rounding), aggregate, running means and the tutorial quirk. */
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeSafetensors } from '../../src/io/checkpoint/safetensors';
import { DiceMetric, argmaxIds, computeDice, meanDice, runningMeanOfMeans } from '../../src/metrics';
import { FIXTURES } from '../helpers/paths';

const DIR = path.join(FIXTURES, 'losses');
const index: { cases: Record<string, any> } = JSON.parse(readFileSync(path.join(DIR, 'index.json'), 'utf8'));

for (const name of ['dice_metric', 'dice_metric_nobg']) {
  it(`${name}: per-case per-class matrix, aggregate and running means equal MONAI`, () => {
    const c = index.cases[name];
    const r = decodeSafetensors(readFileSync(path.join(DIR, `${name}.safetensors`))).tensors;
    const pred = r.get('pred')!;
    const label = r.get('label')!;
    const perCaseRef = r.get('per_case')!;
    const nCases = pred.shape[0];
    const nVox = pred.data.length / nCases;
    const m = new DiceMetric({ includeBackground: c.include_background });
    const running: number[] = [];
    for (let k = 0; k < nCases; k++) {
      m.update(pred.data.subarray(k * nVox, (k + 1) * nVox), label.data.subarray(k * nVox, (k + 1) * nVox), c.num_classes);
      running.push(m.aggregate());
    }
    const ours = m.perCase();
    expect([ours.length, ours[0].length]).toEqual(perCaseRef.shape);
    let nan = 0;
    ours.flat().forEach((v, i) => {
      const rv = perCaseRef.data[i];
      expect(Number.isNaN(v), `NaN at ${i}`).toBe(Number.isNaN(rv));
      if (Number.isNaN(rv)) nan++;
      else expect(Math.fround(v)).toBe(rv);
    });
    expect(nan).toBeGreaterThan(0);
    expect(Math.abs(m.aggregate() - c.aggregate)).toBeLessThan(1e-6);
    running.forEach((v, i) => expect(Math.abs(v - c.running[i])).toBeLessThan(1e-6));
    const perCaseMeans = ours.map((row) => meanDice([row]));
    expect(Math.abs(runningMeanOfMeans(perCaseMeans) - c.mean_of_running)).toBeLessThan(1e-6);
    // per-class ('mean_batch')
    const perClass = m.aggregatePerClass();
    perClass.forEach((v, j) => {
      const col = ours.map((row) => row[j]).filter((x) => !Number.isNaN(x));
      expect(v).toBeCloseTo(col.length ? col.reduce((a, b) => a + b, 0) / col.length : 0, 12);
    });
    m.reset();
    expect(m.perCase()).toEqual([]);
    expect(m.aggregate()).toBe(0);
  });
}

describe('DiceMetric details', () => {
  it("tutorial quirk: per-case [1.0, 1/3] → mean of running means 0.833 vs true mean 0.667", () => {
    expect(runningMeanOfMeans([1.0, 1 / 3])).toBeCloseTo(5 / 6, 12);
    expect(meanDice([[1.0], [1 / 3]])).toBeCloseTo(2 / 3, 12);
  });
  it('absent label class is NaN even when predicted; predicted-nowhere class present in label is 0', () => {
    expect(computeDice([0, 1, 1, 2], [0, 0, 1, 1], 3)).toEqual([2 / 3, 0.5, NaN]);
    expect(computeDice([0, 0, 0, 0], [0, 0, 1, 1], 3, false)).toEqual([0, NaN]);
    expect(() => computeDice([0, 5], [0, 0], 3)).toThrow();
  });
  it('argmaxIds is leak-free and takes the last (channel) axis', () => {
    const before = tf.memory().numTensors;
    const t = tf.tensor([0, 1, 0, 3, 2, 1], [1, 1, 1, 2, 3]);
    expect(Array.from(argmaxIds(t))).toEqual([1, 0]);
    t.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
