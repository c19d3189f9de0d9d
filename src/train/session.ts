/**
 * What pretraining and fine-tuning share: backend, run folder, resume point, datalists, memory check, the
 * per-step bookkeeping (metrics records, RSS, tensor count) and the interrupt/NaN rules.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, statSync } from 'node:fs';
import { describeBackend, initBackend, type BackendInfo, type BackendName } from '../backend/select';
import { fromTorch } from '../io/checkpoint/layout';
import { ConfigError, Ssl3dError } from '../errors';
import { loadDatalist } from '../io/datalist';
import type { BatchTensor } from '../data/collate';
import type { DataItem } from '../data/dataset';
import { resolveJsonPath, type TrainConfig } from './config';
import { CheckpointStore, type ResumePoint } from './checkpoints';
import { describeEstimate, estimateTrainingMemory } from './memory';
import { createProgress, type Progress } from './progress';
import { RunFolder, type MetricsRecord } from './run_folder';

export interface TrainOptions {
  /** Continue the run in `logdir` from its last complete checkpoint. */
  resume?: boolean;
  /** No progress bar and no per-validation lines on stdout (the run folder still gets everything). */
  quiet?: boolean;
  /** Where human-readable lines go (default stdout unless quiet). */
  log?: (line: string) => void;
  progress?: Progress;
  /** Called after every step with its metrics record (live plots in notebooks). */
  onStep?: (rec: MetricsRecord) => void;
  /** Polled after every step; true = save a checkpoint and stop cleanly (Ctrl-C). */
  shouldStop?: () => boolean;
  /** Force a backend (otherwise SSL3D_BACKEND or the best available). */
  backend?: BackendName;
  /** Train even when the memory estimate exceeds this machine's memory. */
  ignoreMemoryEstimate?: boolean;
  /** Recorded in config.json. */
  command?: string;
}

/** Training stopped because the loss became NaN/Inf; the last good checkpoint is kept. */
export class TrainingDivergedError extends Ssl3dError {
  readonly code = 'DIVERGED';
  constructor(
    readonly step: number,
    readonly value: number,
    readonly lastCheckpointStep: number | null,
  ) {
    super(
      `the loss became ${value} at step ${step}; training stopped and the last good checkpoint ` +
        (lastCheckpointStep === null ? '(none was written yet)' : `(step ${lastCheckpointStep})`) +
        ' is kept. Lower the learning rate (--set train.lr=...) or check the data (ssl3d datalist --check), then --resume.',
    );
  }
}

export class InsufficientMemoryError extends Ssl3dError {
  readonly code = 'MEMORY';
  constructor(detail: string) {
    super(`${detail}\nThis config is unlikely to fit: use a smaller preset (e.g. --config pretrain_cpu_small), a smaller transforms.patch / train.batch_size, or pass --ignore-memory-estimate to try anyway.`);
  }
}

export interface Session {
  info: BackendInfo;
  backend: string;
  run: RunFolder;
  store: CheckpointStore;
  resume: ResumePoint | null;
  progress: Progress;
  say: (line: string) => void;
  /** Log to log.txt and (unless quiet) to the console. */
  note: (line: string) => void;
}

const SAME_ON_RESUME = ['kind', 'model', 'transforms', 'seed'] as const;

export async function openSession(config: TrainConfig, opts: TrainOptions): Promise<Session> {
  const { info } = await initBackend(opts.backend);
  const backend = info.name;
  const run = new RunFolder(config.logdir);
  const store = new CheckpointStore(run.dir);
  const say = opts.log ?? (opts.quiet ? () => undefined : (s: string) => process.stdout.write(s + '\n'));
  const progress = opts.progress ?? createProgress({ quiet: opts.quiet });
  const note = (line: string) => {
    run.log(line);
    if (opts.log) opts.log(line);
    else progress.line(line);
  };
  let resume: ResumePoint | null = null;
  run.lock();
  if (run.hasRun() && !opts.resume) {
    run.unlock();
    throw new ConfigError(run.dir, ['this run folder already holds a run: pass --resume to continue it, or choose another --logdir']);
  }
  if (opts.resume && run.hasRun()) {
    const previous = run.readConfig();
    if (previous) {
      const diffs = SAME_ON_RESUME.filter((k) => JSON.stringify(previous.config[k]) !== JSON.stringify(config[k]));
      if (diffs.length) {
        run.unlock();
        throw new ConfigError(run.dir, diffs.map((k) => `'${k}' differs from the run being resumed (see ${run.dir}/config.json)`));
      }
    }
    resume = await store.findResumable();
  }
  if (!resume) {
    await run.writeConfig(config, { backend: describeBackend(info), command: opts.command ?? '' });
    await run.truncateMetrics(0); // a --resume without a checkpoint starts over: drop what a killed start logged
  }
  run.log(`${resume ? `resuming from step ${resume.state.step} (${resume.weights})` : 'starting'}; ${describeBackend(info)}`);
  say(describeBackend(info));
  if (opts.resume && !resume) say(`no checkpoint in ${store.dir} yet: starting from the beginning`);
  return { info, backend, run, store, resume, progress, say, note };
}

/** The training and validation lists of a config, every file checked; clear errors for a wrong data_root. */
export async function loadLists(config: TrainConfig): Promise<{ train: DataItem[]; val: DataItem[]; jsonPath: string }> {
  const d = config.data;
  if (!existsSync(d.data_root) || !statSync(d.data_root).isDirectory()) {
    throw new ConfigError('data.data_root', [`'${d.data_root}' is not a folder: set it with --data-root DIR (or data.data_root in the config) to the folder the datalist's paths are relative to`]);
  }
  const jsonPath = resolveJsonPath(d.json_path);
  if (!existsSync(jsonPath)) throw new ConfigError('data.json_path', [`'${d.json_path}' does not exist (set --json-path FILE)`]);
  const isSeg = config.kind === 'finetune';
  const train = (await loadDatalist(jsonPath, { baseDir: d.data_root, key: d.train_key, validate: 'files', isSegmentation: isSeg })) as DataItem[];
  const val = (await loadDatalist(jsonPath, { baseDir: d.data_root, key: d.val_key, validate: 'files', isSegmentation: isSeg })) as DataItem[];
  const t = d.max_train ? train.slice(0, d.max_train) : train;
  const v = d.max_val ? val.slice(0, d.max_val) : val;
  if (!t.length) throw new ConfigError(jsonPath, [`the '${d.train_key}' list is empty`]);
  if (!v.length) throw new ConfigError(jsonPath, [`the '${d.val_key}' list is empty`]);
  return { train: t, val: v, jsonPath };
}

/** Print the memory estimate; throw when it cannot fit (unless told to try anyway). */
export function checkMemory(config: TrainConfig, s: Session, opts: TrainOptions): void {
  const e = estimateTrainingMemory(config);
  const line = describeEstimate(e);
  s.run.log(line);
  s.say(line);
  if (!e.fits && !opts.ignoreMemoryEstimate) throw new InsufficientMemoryError(line);
}

/** A collated batch array (N, C, X, Y, Z) → NDHWC tensor. */
export function toNDHWC(b: BatchTensor): tf.Tensor5D {
  return tf.tidy(() => fromTorch(tf.tensor(b.data, b.shape), 'activation') as tf.Tensor5D);
}

/** Resident set size in MiB. */
export function rssMB(): number {
  return Math.round(process.memoryUsage().rss / 2 ** 20);
}

/**
 * Gradients of `lossFn` w.r.t. `vars`; returns the scalar values of the named outputs. The first output is the
 * loss that is differentiated. When it is not finite nothing is applied and the caller stops.
 */
export async function computeGrads(
  vars: tf.Variable[],
  lossFn: () => { loss: tf.Scalar; extra?: Record<string, tf.Scalar> },
): Promise<{ loss: number; extra: Record<string, number>; grads: tf.NamedTensorMap }> {
  let extraT: Record<string, tf.Scalar> = {};
  const { value, grads } = tf.variableGrads(() => {
    const r = lossFn();
    extraT = {};
    for (const [k, v] of Object.entries(r.extra ?? {})) extraT[k] = tf.keep(v);
    return r.loss;
  }, vars);
  // asynchronous reads: the webgpu backend cannot read synchronously in Node (and on CPU backends they cost the same)
  const loss = (await value.data())[0];
  value.dispose();
  const extra: Record<string, number> = {};
  for (const [k, v] of Object.entries(extraT)) {
    extra[k] = (await v.data())[0];
    v.dispose();
  }
  return { loss, extra, grads };
}

export function disposeGrads(g: tf.NamedTensorMap): void {
  for (const t of Object.values(g)) t.dispose();
}

/** Wire Ctrl-C (SIGINT) and SIGTERM to a flag; a second Ctrl-C exits at once. Returns the poll and an unhook. */
export function interruptFlag(onFirst?: () => void): { shouldStop: () => boolean; release: () => void } {
  let stop = false;
  const handler = () => {
    if (stop) process.exit(130);
    stop = true;
    onFirst?.();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    shouldStop: () => stop,
    release: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
