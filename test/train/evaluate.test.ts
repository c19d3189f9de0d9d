/** `ssl3d evaluate` and `ssl3d segment` on a run folder: the checkpoint carries its preprocessing and architecture. */
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatScores, runEvaluate } from '../../src/cli/commands/evaluate';
import { runSegment } from '../../src/cli/commands/segment';
import { loadNifti } from '../../src/io/nifti';
import { parseConfig, type FinetuneConfig } from '../../src/train/config';
import { finetune } from '../../src/train/finetune';
import { tinyData, tinyFinetune } from './helpers';

let dir = '';
let best = 0;
let data: Awaited<ReturnType<typeof tinyData>>['data'];
beforeAll(async () => {
  let root: string;
  ({ dir: root, data } = await tinyData());
  dir = path.join(root, 'eval_run');
  const cfg = parseConfig(tinyFinetune(data, dir, {}, { max_steps: 6, val_every_steps: 3 })) as FinetuneConfig;
  const { summary } = await finetune(cfg, { quiet: true, log: () => undefined });
  best = summary.best_metric!;
});

describe('evaluate and segment a run folder', () => {
  it("evaluate RUN reproduces the run's best validation Dice (same checkpoint, preprocessing and windows)", async () => {
    const sc = await runEvaluate({ model: dir, split: 'validation', swBatchSize: 4, overlap: 0.25, quiet: true });
    expect(sc.meanDice).toBe(best);
    expect(sc.perClass).toHaveLength(14);
    expect(sc.checkpoint).toMatch(/best\.safetensors$/);
    const text = formatScores(sc);
    expect(text).toMatch(/\| 6 liver \|/);
    expect(text).toMatch(/mean of running means/);
  });

  it('segment RUN preprocesses a new scan as the run did and writes a label map on the input grid', async () => {
    const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'ssl3d-seg-')), 'seg.nii.gz');
    const logs: string[] = [];
    const input = path.join(data.dataRoot, 'imagesTr', 'img0001.nii.gz');
    const r = await runSegment({ model: dir, input, output: out, quiet: true } , (s) => logs.push(s));
    expect(logs.join('\n')).toMatch(/8×8×8 mm/);
    const img = await loadNifti(input);
    const seg = await loadNifti(out);
    expect(seg.shape).toEqual(img.shape);
    expect(seg.affine.flat().map((v) => +v.toFixed(4))).toEqual(img.affine.flat().map((v) => +v.toFixed(4)));
    expect(r.numClasses).toBe(14);
  });
});
