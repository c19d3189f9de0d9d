/**
 * A run folder: `config.json` (the resolved config + version + backend), `metrics.jsonl` (one JSON object per logged
 * step), `log.txt` (the human log), `summary.json` (written at the end), `checkpoints/` (see checkpoints.ts).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../io/atomic';
import { VERSION } from '../version';
import { ConfigError } from '../errors';
import type { TrainConfig } from './config';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One line of metrics.jsonl. */
export interface MetricsRecord {
  step: number;
  epoch: number;
  /** null on validation-only records. */
  loss: number | null;
  lr: number;
  time_s: number;
  samples_per_s: number | null;
  loss_l1?: number;
  loss_contrastive?: number;
  val_loss?: number;
  val_dice?: number;
  val_dice_running_mean?: number;
  val_dice_per_class?: number[];
  num_tensors?: number;
  rss_mb?: number;
  /** Seconds the loop waited for this step's batch (the data pipeline's share; should be ≈ 0). */
  data_wait_s?: number | null;
  [k: string]: unknown;
}

export interface RunSummary {
  kind: 'pretrain' | 'finetune';
  /** Fine-tuning: best validation Dice (true mean); pretraining: best validation L1. */
  best_metric: number | null;
  best_step: number | null;
  /** The tutorial's "mean of running means" at the best step (fine-tuning). */
  best_metric_running_mean?: number | null;
  steps: number;
  seconds: number;
  init?: 'random' | 'pretrained';
  num_train?: number;
  seed: number;
  status: 'completed' | 'interrupted';
  backend: string;
  /** Time the loop waited for batches ÷ (that + the steps' compute time), this session's steps. */
  data_wait_share?: number | null;
}

export class RunFolder {
  readonly dir: string;
  constructor(logdir: string) {
    this.dir = path.resolve(logdir);
  }

  /**
   * Take the folder's lock (`.lock` holding our pid), so two processes never train into one run folder. A lock
   * left by a process that no longer exists (kill -9) is taken over. Released by `unlock()` and at process exit.
   */
  lock(): void {
    mkdirSync(this.dir, { recursive: true });
    const file = path.join(this.dir, '.lock');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(file, String(process.pid), { flag: 'wx' });
        const release = () => this.unlock();
        process.once('exit', release);
        this.releaseHook = release;
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const pid = Number(readFileSync(file, 'utf8').trim());
        if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
          throw new ConfigError(this.dir, [`this run folder is in use by process ${pid} (a run is training into it); wait for it or stop it first`]);
        }
        rmSync(file, { force: true }); // stale: its process is gone
      }
    }
    throw new ConfigError(this.dir, ['could not take the run folder lock (.lock)']);
  }

  unlock(): void {
    const file = path.join(this.dir, '.lock');
    try {
      if (existsSync(file) && Number(readFileSync(file, 'utf8').trim()) === process.pid) rmSync(file, { force: true });
    } catch {
      /* best effort */
    }
    if (this.releaseHook) process.off('exit', this.releaseHook);
    this.releaseHook = null;
  }

  private releaseHook: (() => void) | null = null;

  get metricsFile(): string {
    return path.join(this.dir, 'metrics.jsonl');
  }

  /** True when the folder already holds a run (a config or checkpoints). */
  hasRun(): boolean {
    return existsSync(path.join(this.dir, 'config.json')) || (existsSync(path.join(this.dir, 'checkpoints')) && readdirSync(path.join(this.dir, 'checkpoints')).length > 0);
  }

  async writeConfig(config: TrainConfig, meta: { backend: string; command: string; resumed?: boolean }): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    const doc = {
      kind: config.kind,
      ssl3d_version: VERSION,
      backend: meta.backend,
      node: process.version,
      created: new Date().toISOString(),
      command: meta.command,
      config,
    };
    await writeFileAtomic(path.join(this.dir, 'config.json'), JSON.stringify(doc, null, 2) + '\n');
  }

  readConfig(): { kind: string; config: TrainConfig } | null {
    const f = path.join(this.dir, 'config.json');
    return existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : null;
  }

  appendMetrics(rec: MetricsRecord): void {
    appendFileSync(this.metricsFile, JSON.stringify(rec) + '\n');
  }

  /** Keep only the records of steps ≤ `step` (on resume, the steps after the checkpoint are redone). */
  async truncateMetrics(step: number): Promise<void> {
    if (!existsSync(this.metricsFile)) return;
    const keep = readFileSync(this.metricsFile, 'utf8')
      .split('\n')
      .filter((l) => {
        if (!l.trim()) return false;
        try {
          return (JSON.parse(l) as MetricsRecord).step <= step;
        } catch {
          return false; // a torn last line from a kill
        }
      });
    await writeFileAtomic(this.metricsFile, keep.map((l) => l + '\n').join(''));
  }

  readMetrics(): MetricsRecord[] {
    if (!existsSync(this.metricsFile)) return [];
    const out: MetricsRecord[] = [];
    for (const l of readFileSync(this.metricsFile, 'utf8').split('\n')) {
      if (!l.trim()) continue;
      try {
        out.push(JSON.parse(l));
      } catch {
        /* torn line */
      }
    }
    return out;
  }

  log(line: string): void {
    mkdirSync(this.dir, { recursive: true });
    appendFileSync(path.join(this.dir, 'log.txt'), `[${new Date().toISOString()}] ${line}\n`);
  }

  async writeSummary(s: RunSummary): Promise<void> {
    await writeFileAtomic(path.join(this.dir, 'summary.json'), JSON.stringify(s, null, 2) + '\n');
  }

  readSummary(): RunSummary | null {
    const f = path.join(this.dir, 'summary.json');
    return existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : null;
  }
}
