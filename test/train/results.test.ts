/** Results table: reading run folders, mean ± sample std over seeds, relative improvement, Markdown/CSV, bar chart. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  collectResults,
  findRunDirs,
  meanStd,
  publishedResults,
  relativeImprovement,
  resultsBarChartSpec,
  resultsTable,
  RESULTS_CAPTION,
  type RunResult,
} from '../../src/train/results';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ssl3d-results-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(name: string, summary: Record<string, unknown> | null, config?: Record<string, unknown>): string {
  const dir = path.join(tmp, 'runs', name);
  mkdirSync(path.join(dir, 'checkpoints'), { recursive: true });
  if (summary) writeFileSync(path.join(dir, 'summary.json'), JSON.stringify(summary));
  if (config) writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

const ft = (init: string, numTrain: number, seed: number, best: number) => ({ kind: 'finetune', best_metric: best, best_step: 100, steps: 200, seconds: 10, init, num_train: numTrain, seed });

// Hand-checked example (Dice × 100):
//   6 labeled: random 60, 62, 64 → 62 ± 2 (sample std: √((4+0+4)/2) = 2); pretrained 66, 68, 70 → 68 ± 2;
//              improvement (68 − 62) / 62 × 100 = 9.6774 %
//  12 labeled: random 75 (one seed: no std); pretrained 78, 80 → 79 ± √2 = 1.4142; improvement 4 / 75 × 100 = 5.3333 %
const RUNS: RunResult[] = [
  ...[0.6, 0.62, 0.64].map((d, s) => ({ runDir: `r6_${s}`, init: 'random' as const, numTrain: 6, seed: s, bestDice: d, bestStep: 1, steps: 2, seconds: 3 })),
  ...[0.7, 0.66, 0.68].map((d, s) => ({ runDir: `p6_${s}`, init: 'pretrained' as const, numTrain: 6, seed: 2 - s, bestDice: d, bestStep: 1, steps: 2, seconds: 3 })),
  { runDir: 'r12_0', init: 'random', numTrain: 12, seed: 0, bestDice: 0.75, bestStep: 1, steps: 2, seconds: 3 },
  { runDir: 'p12_0', init: 'pretrained', numTrain: 12, seed: 0, bestDice: 0.78, bestStep: 1, steps: 2, seconds: 3 },
  { runDir: 'p12_1', init: 'pretrained', numTrain: 12, seed: 1, bestDice: 0.8, bestStep: 1, steps: 2, seconds: 3 },
];

describe('statistics', () => {
  it('mean and sample standard deviation (n−1), relative improvement', () => {
    expect(meanStd([60, 62, 64])).toEqual({ mean: 62, std: 2 });
    expect(meanStd([5])).toEqual({ mean: 5, std: null });
    expect(meanStd([]).std).toBeNull();
    expect(meanStd([1, 2, 3, 4]).std).toBeCloseTo(Math.sqrt(5 / 3), 12); // not √(5/4) (population)
    expect(relativeImprovement(62, 68)).toBeCloseTo(9.67741935, 6);
    expect(relativeImprovement(0, 1)).toBeNull();
    expect(relativeImprovement(null, 1)).toBeNull();
  });

  it("the tutorial's published numbers (spec §5.2)", () => {
    const p = publishedResults();
    expect(p.map((r) => [r.numTrain, r.random, r.pretrained, r.readmeImprovementPct])).toEqual([
      [6, 63.07, 70.09, 11.13],
      [12, 76.06, 79.55, 4.58],
      [24, 78.91, 82.3, 4.29],
    ]);
    expect(p.map((r) => +r.improvementPct.toFixed(4))).toEqual([11.1305, 4.5885, 4.296]);
  });
});

describe('results table', () => {
  const table = resultsTable(RUNS);

  it('groups by labeled-set size and init: mean ± sample std over seeds, n, improvement of the means', () => {
    expect(table.rows.map((r) => r.numTrain)).toEqual([6, 12, 24]);
    const [r6, r12, r24] = table.rows;
    expect(r6.random!.mean).toBeCloseTo(62, 10);
    expect(r6.random!.std).toBeCloseTo(2, 10);
    expect(r6.pretrained!.seeds).toEqual([0, 1, 2]); // sorted by seed
    expect(r6.pretrained!.values.map((v) => +v.toFixed(10))).toEqual([68, 66, 70]);
    expect(r6.improvementPct).toBeCloseTo(9.6774194, 6);
    expect(r12.random).toMatchObject({ n: 1, std: null });
    expect(r12.pretrained!.std).toBeCloseTo(Math.SQRT2, 10);
    expect(r12.improvementPct).toBeCloseTo(16 / 3, 10);
    expect(r24).toMatchObject({ random: null, pretrained: null, improvementPct: null });
    expect(r24.published!.pretrained).toBe(82.3);
    expect(table.warnings).toEqual(['12 labeled: random init has seeds {0}, pretrained {0, 1} (unpaired)']);
  });

  it('Markdown, exactly', () => {
    expect(RESULTS_CAPTION).toMatch(/sample standard deviation \(n−1 denominator\)/);
    expect(table.toMarkdown()).toBe(
      [
        RESULTS_CAPTION,
        '',
        '| labeled train volumes | random init | pretrained | improvement | tutorial random init | tutorial pretrained | tutorial improvement |',
        '|---:|---:|---:|---:|---:|---:|---:|',
        '| 6 | 62.00 ± 2.00 (n=3) | 68.00 ± 2.00 (n=3) | +9.68 % | 63.07 | 70.09 | +11.13 % |',
        '| 12 | 75.00 (n=1) | 79.00 ± 1.41 (n=2) | +5.33 % | 76.06 | 79.55 | +4.59 % |',
        '| 24 | – | – | – | 78.91 | 82.30 | +4.30 % |',
        '',
        'Tutorial: MONAI tutorials self_supervised_pretraining README (6 validation volumes; its README prints the improvements truncated: ~11.13 %, ~4.58 %, ~4.29 %).',
        '',
        '- warning: 12 labeled: random init has seeds {0}, pretrained {0, 1} (unpaired)',
        '',
      ].join('\n'),
    );
  });

  it('CSV, exactly (Dice × 100, sample std in the column name)', () => {
    expect(table.toCsv()).toBe(
      [
        'num_train,random_mean_pct,random_sample_std_pct,random_n,random_seeds,pretrained_mean_pct,pretrained_sample_std_pct,pretrained_n,pretrained_seeds,improvement_pct,tutorial_random_pct,tutorial_pretrained_pct,tutorial_improvement_pct',
        '6,62.0000,2.0000,3,0;1;2,68.0000,2.0000,3,0;1;2,9.6774,63.0700,70.0900,11.1305',
        '12,75.0000,,1,0,79.0000,1.4142,2,0;1,5.3333,76.0600,79.5500,4.5885',
        '24,,,0,,,,0,,,78.9100,82.3000,4.2960',
        '',
      ].join('\n'),
    );
  });

  it('without the tutorial columns; a size the tutorial does not have; duplicate and missing seeds are warned about', () => {
    const t = resultsTable(
      [
        { runDir: 'a', init: 'random', numTrain: 3, seed: null, bestDice: 0.5, bestStep: null, steps: null, seconds: null },
        { runDir: 'b', init: 'pretrained', numTrain: 3, seed: 4, bestDice: 0.55, bestStep: null, steps: null, seconds: null },
        { runDir: 'c', init: 'pretrained', numTrain: 3, seed: 4, bestDice: 0.65, bestStep: null, steps: null, seconds: null },
      ],
      { published: false },
    );
    expect(t.toMarkdown().split('\n').slice(2, 5)).toEqual([
      '| labeled train volumes | random init | pretrained | improvement |',
      '|---:|---:|---:|---:|',
      '| 3 | 50.00 (n=1) | 60.00 ± 7.07 (n=2) | +20.00 % |',
    ]);
    expect(t.toCsv().split('\n')[1]).toBe('3,50.0000,,1,unknown,60.0000,7.0711,2,4;4,20.0000');
    expect(t.warnings).toEqual([
      '3 labeled, random init: 1 run(s) without a seed',
      '3 labeled, pretrained init: seed 4 appears in 2 runs (all counted)',
      '3 labeled: random init has seeds {unknown}, pretrained {4} (unpaired)',
    ]);
  });

  it('bar chart spec: grouped bars with sample-std error bars, tutorial bars hatched', () => {
    const s = resultsBarChartSpec(table);
    expect(s.data.map((t) => t.name)).toEqual(['random init (ssl3d)', 'pretrained (ssl3d)', 'random init (tutorial)', 'pretrained (tutorial)']);
    expect(s.data[0].x).toEqual(['6 labeled', '12 labeled', '24 labeled']);
    expect((s.data[0].y as Array<number | null>).map((v) => (v === null ? null : +v.toFixed(6)))).toEqual([62, 75, null]);
    expect(((s.data[1].error_y as { array: number[] }).array).map((v) => +v.toFixed(6))).toEqual([2, 1.414214, 0]);
    expect(s.data[1].customdata).toEqual(['n=3, seeds 0, 1, 2', 'n=2, seeds 0, 1', '']);
    expect(s.data[3].y).toEqual([70.09, 79.55, 82.3]);
    expect(s.layout.barmode).toBe('group');
    expect((s.layout.annotations as Array<{ text: string }>).map((a) => a.text)).toEqual(['pretrained +9.68 %', 'pretrained +5.33 %']);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s); // plain JSON
  });
});

describe('collectResults', () => {
  it('reads finished fine-tuning runs (config.json fills what summary.json lacks) and says why others are skipped', async () => {
    const datalist = path.join(tmp, 'dl.json');
    writeFileSync(datalist, JSON.stringify({ training: [{}, {}, {}, {}], validation: [{}] }));
    const dirs = [
      run('a_random_s0', ft('random', 6, 0, 0.6)),
      run('b_pretrained_s0', { kind: 'finetune', best_metric: 0.66, best_step: 5, steps: 9, seconds: 1.5 }, { kind: 'finetune', config: { init: 'pretrained', seed: 0, data: { num_train: 6 } } }),
      run('c_datalist', { kind: 'finetune', best_metric: 0.5, init: 'random', seed: 3 }, { kind: 'finetune', config: { data: { json_path: datalist } } }),
      run('d_pretrain', { kind: 'pretrain', best_metric: 0.02 }),
      run('e_unfinished', null, { kind: 'finetune', config: {} }),
      run('f_never_validated', { ...ft('random', 6, 1, 0), best_metric: null }),
      run('g_bad_init', ft('imagenet', 6, 1, 0.5)),
      run('h_not_fraction', ft('random', 6, 2, 63.07)),
    ];
    const corrupt = run('i_corrupt', null);
    writeFileSync(path.join(corrupt, 'summary.json'), '{"kind": "fine');
    const r = await collectResults([...dirs, corrupt]);
    expect(r.rows.map((x) => [path.basename(x.runDir), x.init, x.numTrain, x.seed, x.bestDice])).toEqual([
      ['a_random_s0', 'random', 6, 0, 0.6],
      ['b_pretrained_s0', 'pretrained', 6, 0, 0.66],
      ['c_datalist', 'random', 4, 3, 0.5],
    ]);
    expect(r.rows[1]).toMatchObject({ bestStep: 5, steps: 9, seconds: 1.5 });
    expect(r.skipped.map((s) => [path.basename(s.runDir), s.reason])).toEqual([
      ['d_pretrain', "not a fine-tuning run (kind 'pretrain')"],
      ['e_unfinished', 'no summary.json (unfinished or crashed)'],
      ['f_never_validated', 'no best validation Dice (best_metric is missing or not a number: never validated?)'],
      ['g_bad_init', `unknown init "imagenet" (expected 'random' or 'pretrained')`],
      ['h_not_fraction', 'best_metric 63.07 is not a Dice fraction in [0, 1]'],
      ['i_corrupt', expect.stringMatching(/^summary\.json: not valid JSON/)],
    ]);
    // end to end into the table
    const t = resultsTable(r.rows, { published: false });
    expect(t.toCsv().split('\n').slice(1, 3)).toEqual(['4,50.0000,,1,3,,,0,,', '6,60.0000,,1,0,66.0000,,1,0,10.0000']);
  });

  it('findRunDirs: folders with summary.json or config.json, not below a run folder', async () => {
    const root = path.join(tmp, 'find');
    for (const d of ['x/run1', 'x/run2/sub', 'y/run3', 'z']) mkdirSync(path.join(root, d), { recursive: true });
    writeFileSync(path.join(root, 'x/run1/summary.json'), '{}');
    writeFileSync(path.join(root, 'x/run2/config.json'), '{}');
    writeFileSync(path.join(root, 'x/run2/sub/config.json'), '{}');
    writeFileSync(path.join(root, 'y/run3/config.json'), '{}');
    expect((await findRunDirs(root)).map((d) => path.relative(root, d))).toEqual(['x/run1', 'x/run2', 'y/run3']);
    expect(await findRunDirs(path.join(root, 'nope'))).toEqual([]);
  });
});

describe('unfinished runs', () => {
  it('an interrupted run is skipped with the reason', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const os = await import('node:os');
    const p = await import('node:path');
    const dir = mkdtempSync(p.join(os.tmpdir(), 'ssl3d-res-'));
    writeFileSync(p.join(dir, 'summary.json'), JSON.stringify({ kind: 'finetune', init: 'random', num_train: 2, seed: 0, best_metric: 0.1, status: 'interrupted' }));
    const r = await collectResults([dir]);
    expect(r.rows).toHaveLength(0);
    expect(r.skipped[0].reason).toMatch(/unfinished/);
  });
});
