/**
 * The training commands' contracts: config validation, the errors users will hit, the tutorial-format .pt as
 * --pretrained, NaN handling, Ctrl-C, flat memory, and the run folder's files.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors';
import { CheckpointError, loadSafetensors } from '../../src/io/checkpoint/safetensors';
import { parseConfig, type FinetuneConfig, type PretrainConfig } from '../../src/train/config';
import { finetune } from '../../src/train/finetune';
import { pretrain } from '../../src/train/pretrain';
import { InsufficientMemoryError, TrainingDivergedError } from '../../src/train/session';
import { FIXTURES } from '../helpers/paths';
import { runCli, tinyData, tinyFinetune, tinyPretrain, writeJson } from './helpers';

let root = '';
let data: Awaited<ReturnType<typeof tinyData>>['data'];
beforeAll(async () => {
  ({ dir: root, data } = await tinyData());
});
const quiet = { quiet: true, log: () => undefined };
let n = 0;
const logdir = (name: string) => path.join(root, `${name}_${n++}`);

describe('config validation', () => {
  it('names unknown keys, wrong types and cross-field problems', () => {
    const base = tinyFinetune(data, logdir('cfg'));
    expect(() => parseConfig({ ...base, trian: {} }, 'x.json')).toThrow(/unknown key\(s\) 'trian'/);
    expect(() => parseConfig({ ...base, train: { ...(base.train as object), lr: 'fast' } }, 'x.json')).toThrow(/train\.lr/);
    expect(() => parseConfig({ ...base, transforms: { patch: 40 }, model: { ...(base.model as object), img_size: 40 } }, 'x.json')).toThrow(
      /not divisible by the ViT patch size 16/,
    );
    expect(() => parseConfig({ ...base, kind: 'train' }, 'x.json')).toThrow(/kind/);
    expect(() => parseConfig({ ...base, init: 'pretrained', pretrained: null }, 'x.json')).toThrow(/no 'pretrained' checkpoint/);
    expect(() => parseConfig({ ...tinyPretrain(data, 'x'), model: { in_channels: 1, img_size: 16, patch_size: 8, hidden_size: 32, num_heads: 2 } }, 'x.json')).toThrow(
      /must be a square/,
    );
  });
});

describe('errors users will hit', () => {
  it('a missing data_root, a datalist pointing at missing files, too little memory', async () => {
    const missingRoot = parseConfig({ ...tinyPretrain(data, logdir('e1')), data: { data_root: '/no/such/dir', json_path: data.pretrainJson } }) as PretrainConfig;
    await expect(pretrain(missingRoot, quiet)).rejects.toThrow(/'\/no\/such\/dir' is not a folder: set it with --data-root/);

    const list = writeJson(path.join(root, 'broken_list.json'), { training: [{ image: 'imagesTr/nope.nii.gz', label: 'labelsTr/nope.nii.gz' }], validation: [] });
    const broken = parseConfig({ ...tinyFinetune(data, logdir('e2')), data: { data_root: data.dataRoot, json_path: list } }) as FinetuneConfig;
    await expect(finetune(broken, quiet)).rejects.toThrow(/nope\.nii\.gz/);

    const huge = parseConfig({ ...tinyFinetune(data, logdir('e3')), model: { in_channels: 1, out_channels: 14, img_size: 96 }, transforms: { patch: 96, samples_per_volume: 64 }, train: { batch_size: 16 } }) as FinetuneConfig;
    await expect(finetune(huge, quiet)).rejects.toThrow(InsufficientMemoryError);
  });

  it('a checkpoint of the wrong architecture as --pretrained is a clear error', async () => {
    // the tiny ViTAutoEnc of the tutorial-format fixture has patch 4 and hidden 16: its tensors do not fit UNETR's ViT
    const cfg = parseConfig(tinyFinetune(data, logdir('e4'), { init: 'pretrained', pretrained: path.join(FIXTURES, 'checkpoints', 'vitautoenc_tutorial_format.pt') })) as FinetuneConfig;
    const err = await finetune(cfg, quiet).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(String(err.message)).toMatch(/vitautoenc_tutorial_format\.pt.*shape/s);
  });

  it('a run folder that already holds a run needs --resume', async () => {
    const dir = logdir('twice');
    const cfg = parseConfig(tinyPretrain(data, dir, { max_steps: 1 })) as PretrainConfig;
    await pretrain(cfg, quiet);
    await expect(pretrain(cfg, quiet)).rejects.toThrow(ConfigError);
    await expect(pretrain(cfg, quiet)).rejects.toThrow(/--resume/);
  });
});

describe('fine-tuning from the tutorial-format .pt', () => {
  it('copies exactly the backbone tensors and starts from them', async () => {
    const pt = path.join(FIXTURES, 'checkpoints', 'vitautoenc_tutorial_unetr16.pt');
    const dir = logdir('pt');
    const lr = 1e-4;
    const cfg = parseConfig(
      tinyFinetune(data, dir, { init: 'pretrained', pretrained: pt, model: { in_channels: 1, out_channels: 14, img_size: 16, feature_size: 4, hidden_size: 16, mlp_dim: 32, num_heads: 2 } }, { max_steps: 1, lr, weight_decay: 0 }),
    ) as FinetuneConfig;
    await finetune(cfg, quiet);
    const rep = JSON.parse(readFileSync(path.join(dir, 'pretrained_load.json'), 'utf8'));
    // 12 blocks × 11 + patch embedding (3) + final norm (2) = 137, as for ViT-B
    expect(rep.copied).toHaveLength(137);
    expect(rep.skipped.sort()).toEqual(['conv3d_transpose.bias', 'conv3d_transpose.weight', 'conv3d_transpose_1.bias', 'conv3d_transpose_1.weight', 'patch_embedding.cls_token']);
    const ref = (await loadSafetensors(path.join(FIXTURES, 'checkpoints', 'vitautoenc_tutorial_unetr16.expected.safetensors'))).tensors;
    const after = (await loadSafetensors(path.join(dir, 'checkpoints', 'last.safetensors'))).tensors;
    for (const k of ['blocks.5.attn.qkv.weight', 'patch_embedding.position_embeddings']) {
      const a = after.get(`vit.${k}`)!.data;
      const r = ref.get(k)!.data;
      // one Adam step moves each weight by at most lr
      let m = 0;
      for (let i = 0; i < r.length; i++) m = Math.max(m, Math.abs(a[i] - r[i]));
      expect(m, k).toBeLessThanOrEqual(lr * 1.001);
      expect(m, k).toBeGreaterThan(0);
    }
  });
});

describe('robustness', () => {
  it('a NaN/Inf loss stops the run with a clear message and keeps the last good checkpoint', async () => {
    const dir = logdir('nan');
    const cfg = parseConfig(tinyPretrain(data, dir, { lr: 1e30, max_steps: 10, checkpoint_every_steps: 1, val_interval_epochs: 100 })) as PretrainConfig;
    const err = await pretrain(cfg, quiet).catch((e) => e);
    expect(err).toBeInstanceOf(TrainingDivergedError);
    expect(err.message).toMatch(/the loss became (NaN|Infinity|-Infinity) at step \d+.*last good checkpoint \(step \d+\) is kept/s);
    const last = JSON.parse(readFileSync(path.join(dir, 'checkpoints', 'last.json'), 'utf8'));
    expect(last.step).toBe(err.step - 1);
  });

  it('Ctrl-C saves a checkpoint and exits 130; --resume finishes the run', async () => {
    const dir = logdir('sigint');
    const file = writeJson(path.join(root, 'sigint.json'), tinyFinetune(data, dir, {}, { max_steps: 12, checkpoint_every_steps: 100 }));
    const r = await runCli(['finetune', '-c', file], (child) => {
      const timer = setInterval(() => {
        const f = path.join(dir, 'metrics.jsonl');
        if (existsSync(f) && readFileSync(f, 'utf8').split('\n').length > 3) {
          clearInterval(timer);
          child.kill('SIGINT');
        }
      }, 10);
      child.on('close', () => clearInterval(timer));
    });
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/stopping after this step/);
    const summary = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    expect(summary.status).toBe('interrupted');
    const last = JSON.parse(readFileSync(path.join(dir, 'checkpoints', 'last.json'), 'utf8'));
    expect(last.step).toBe(summary.steps);
    const r2 = await runCli(['finetune', '-c', file, '--resume', '--quiet']);
    expect(r2.code, r2.stderr).toBe(0);
    expect(JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8'))).toMatchObject({ status: 'completed', steps: 12 });
  });

  it('memory stays flat: tensor count constant and RSS bounded over a run; the run folder has its files', async () => {
    const dir = logdir('flat');
    const cfg = parseConfig(tinyFinetune(data, dir, {}, { max_steps: 40, val_every_steps: 20, checkpoint_every_steps: 10 })) as FinetuneConfig;
    const { summary } = await finetune(cfg, quiet);
    expect(summary).toMatchObject({ kind: 'finetune', status: 'completed', steps: 40, init: 'random', num_train: 3 });
    const recs = readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const steps = recs.filter((r) => r.samples_per_s !== null);
    for (const k of ['step', 'epoch', 'loss', 'lr', 'time_s', 'samples_per_s', 'data_wait_s', 'num_tensors', 'rss_mb']) expect(steps[0]).toHaveProperty(k);
    // the data pipeline's share of the loop: measured per step and summarised (a tiny model makes it large here)
    for (const r of steps) expect(r.data_wait_s).toBeGreaterThanOrEqual(0);
    expect(summary.data_wait_share).toBeGreaterThanOrEqual(0);
    expect(summary.data_wait_share).toBeLessThan(1);
    const counts = new Set(steps.slice(2).map((r) => r.num_tensors));
    expect([...counts]).toHaveLength(1);
    const rss = steps.map((r) => r.rss_mb);
    expect(rss[rss.length - 1] - rss[5]).toBeLessThan(150);
    const vals = recs.filter((r) => r.val_dice !== undefined);
    expect(vals.map((r) => r.step)).toEqual([20, 40]);
    expect(vals[0].val_dice_per_class).toHaveLength(13);
    for (const f of ['config.json', 'log.txt', 'summary.json', 'checkpoints/best.safetensors', 'checkpoints/best.json', 'checkpoints/last.safetensors', 'checkpoints/last.optim.safetensors', 'checkpoints/last.json']) {
      expect(existsSync(path.join(dir, f)), f).toBe(true);
    }
    const conf = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(conf).toMatchObject({ kind: 'finetune', ssl3d_version: expect.any(String), backend: expect.stringMatching(/backend/) });
    writeFileSync(path.join(root, 'unused'), '');
  });
});
