/** Shared set-up of the training tests: a tiny phantom data set and tiny configs that train in seconds. */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { prepareDemoData, type DemoData } from '../../src/train/demo_data';
import { ROOT } from '../helpers/paths';

export const BIN = path.join(ROOT, 'bin', 'ssl3d.js');

let cached: Promise<{ dir: string; data: DemoData }> | null = null;

/** 4 labeled (3 train, 1 val) + 3 unlabeled small phantoms, written once per test file. */
export function tinyData(): Promise<{ dir: string; data: DemoData }> {
  cached ??= (async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ssl3d-train-'));
    const data = await prepareDemoData({ outDir: path.join(dir, 'data'), labeled: 4, unlabeled: 3, seed: 3, valFraction: 0.25 });
    return { dir, data };
  })();
  return cached;
}

export function tinyPretrain(data: DemoData, logdir: string, train: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kind: 'pretrain',
    seed: 7,
    logdir,
    data: { data_root: data.dataRoot, json_path: data.pretrainJson, num_workers: 1, memory_cache_mb: 256 },
    model: { in_channels: 1, img_size: [16, 16, 16], patch_size: [16, 16, 16], hidden_size: 32, mlp_dim: 64, num_layers: 12, num_heads: 2, deconv_chns: 4 },
    transforms: { patch: 16, crops_per_volume: 2, pixdim: [8, 8, 8] },
    train: { max_epochs: 100, batch_size: 2, lr: 1e-3, val_interval_epochs: 1, max_steps: 10, val_max_batches: 1, checkpoint_every_steps: 3, ...train },
  };
}

export function tinyFinetune(data: DemoData, logdir: string, extra: Record<string, unknown> = {}, train: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kind: 'finetune',
    seed: 5,
    logdir,
    init: 'random',
    pretrained: null,
    data: { data_root: data.dataRoot, json_path: data.finetuneJson, num_workers: 1, memory_cache_mb: 256 },
    model: { in_channels: 1, out_channels: 14, img_size: [16, 16, 16], feature_size: 4, hidden_size: 32, mlp_dim: 64, num_heads: 2 },
    transforms: { patch: 16, samples_per_volume: 2, pixdim: [8, 8, 8], pad_to_patch: true },
    train: { max_steps: 10, batch_size: 1, lr: 1e-3, val_every_steps: 5, sw_batch_size: 4, checkpoint_every_steps: 2, ...train },
    ...extra,
  };
}

export function writeJson(file: string, obj: unknown): string {
  writeFileSync(file, JSON.stringify(obj, null, 1));
  return file;
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run the CLI in a child process; `onStart` gets the child (to kill it). */
export function runCli(args: string[], onStart?: (child: ReturnType<typeof spawn>) => void, env: NodeJS.ProcessEnv = {}): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    onStart?.(child);
  });
}
