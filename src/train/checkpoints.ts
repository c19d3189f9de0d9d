/**
 * The checkpoints of a run folder (`<logdir>/checkpoints/`):
 *
 *   last.safetensors        model weights, MONAI keys and layouts (MONAI's load_state_dict accepts it)
 *   last.optim.safetensors  optimizer moments (exp_avg.<param>, exp_avg_sq.<param>)
 *   last.json               sidecar: step, epoch, data position, optimizer hyper-parameters and step, best metric,
 *                           seed, architecture (everything --resume needs besides the tensors)
 *   best.safetensors/.json  the best model by the validation metric
 *   prev.*                  the previous `last` set, kept while a new one is written
 *
 * Every file is written atomically (temp file, fsync, rename) and stamped with its step (`ssl3d.step` metadata, the
 * sidecar's `step`). Saving moves `last.*` to `prev.*` before writing the new set, so at every instant one complete
 * set exists: resume takes the newest step whose three files are all present, under either name. A kill -9 at any
 * moment therefore loses at most the steps since the previous checkpoint, never the checkpoint itself.
 */
import { existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../io/atomic';
import { CheckpointError, readSafetensorsMetadata, saveSafetensors } from '../io/checkpoint/safetensors';
import { withMonaiCrossAttention } from '../nn/checkpoint';
import { checkpointMetadata } from '../nn/load_model';
import type { Module } from '../nn/module';
import { TUTORIAL_PARAMS, type PipelineParams } from '../transforms/pipelines';
import type { Adam, OptimizerState } from './optim';

export const CHECKPOINT_FORMAT = 'ssl3d-checkpoint/1';

export type Arch = 'vitautoenc' | 'unetr';

/** What the sidecar JSON holds. */
export interface CheckpointState {
  format: typeof CHECKPOINT_FORMAT;
  kind: 'pretrain' | 'finetune';
  arch: Arch;
  arch_config: Record<string, unknown>;
  /** Optimizer updates done. */
  step: number;
  /** Data position to continue from: epoch and the index of the next batch in it. */
  epoch: number;
  batch: number;
  seed: number;
  best_metric: number | null;
  best_step: number | null;
  optimizer: OptimizerState | null;
  ssl3d_version: string;
  backend: string;
  saved_at: string;
  /** The data pipeline's numbers (spacing, window, patch): `ssl3d segment`/`evaluate` preprocess new scans alike. */
  pipeline_params?: PipelineParams;
  /** Anything else the loop wants back (running sums, validation counters). */
  extra?: Record<string, unknown>;
}

export const METADATA_PIPELINE_KEY = 'ssl3d.pipeline_params';

/** The preprocessing a checkpoint's model was trained with (from its metadata), or null when it does not say. */
export function pipelineParamsFromMetadata(meta: Record<string, unknown>): PipelineParams | null {
  const v = meta[METADATA_PIPELINE_KEY];
  if (typeof v !== 'string') return null;
  try {
    return { ...TUTORIAL_PARAMS, ...(JSON.parse(v) as Partial<PipelineParams>) };
  } catch {
    return null;
  }
}

/** Safetensors metadata of an ssl3d checkpoint: lets `ssl3d segment`/`evaluate` rebuild the model from the file. */
export function weightsMetadata(state: Pick<CheckpointState, 'arch' | 'arch_config' | 'step' | 'kind' | 'pipeline_params'>): Record<string, string> {
  return {
    format: 'pt',
    ...checkpointMetadata(state.arch, state.arch_config),
    'ssl3d.step': String(state.step),
    'ssl3d.kind': state.kind,
    ...(state.pipeline_params ? { [METADATA_PIPELINE_KEY]: JSON.stringify(state.pipeline_params) } : {}),
  };
}

export interface ResumePoint {
  state: CheckpointState;
  weights: string;
  optimizer: string;
}

export class CheckpointStore {
  readonly dir: string;
  constructor(logdir: string) {
    this.dir = path.join(logdir, 'checkpoints');
  }

  file(slot: 'last' | 'prev' | 'best', part: 'weights' | 'optim' | 'json'): string {
    const ext = part === 'weights' ? '.safetensors' : part === 'optim' ? '.optim.safetensors' : '.json';
    return path.join(this.dir, slot + ext);
  }

  private async writeWeights(model: Module, file: string, state: CheckpointState): Promise<void> {
    await saveSafetensors(file, withMonaiCrossAttention(await model.stateDictAsync(), false), { layout: 'monai-1.6', ...weightsMetadata(state) });
  }

  /** Save the resumable `last` set (weights, optimizer moments, sidecar), keeping the previous set until done. */
  async saveLast(model: Module, optimizer: Adam, state: CheckpointState): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true });
    for (const part of ['json', 'weights', 'optim'] as const) {
      const from = this.file('last', part);
      if (existsSync(from)) await fsp.rename(from, this.file('prev', part));
    }
    const moments = await optimizer.moments();
    await saveSafetensors(this.file('last', 'optim'), moments, { 'ssl3d.step': String(state.step), 'ssl3d.kind': 'optimizer' });
    await this.writeWeights(model, this.file('last', 'weights'), state);
    await writeFileAtomic(this.file('last', 'json'), JSON.stringify(state, null, 1) + '\n');
  }

  /** Save the best model (weights, then the sidecar; both atomic). */
  async saveBest(model: Module, state: CheckpointState): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true });
    await this.writeWeights(model, this.file('best', 'weights'), state);
    await writeFileAtomic(this.file('best', 'json'), JSON.stringify({ ...state, optimizer: null }, null, 1) + '\n');
  }

  /** The newest complete resumable set, or null when the folder has none. Throws on a folder with only torn sets. */
  async findResumable(): Promise<ResumePoint | null> {
    const sidecars: CheckpointState[] = [];
    for (const slot of ['last', 'prev'] as const) {
      const f = this.file(slot, 'json');
      if (!existsSync(f)) continue;
      try {
        const s = JSON.parse(await fsp.readFile(f, 'utf8')) as CheckpointState;
        if (s.format === CHECKPOINT_FORMAT && Number.isInteger(s.step)) sidecars.push(s);
      } catch {
        /* a sidecar that does not parse cannot be one we wrote completely (writes are atomic); skip it */
      }
    }
    const stamps = new Map<string, number>();
    for (const slot of ['last', 'prev'] as const) {
      for (const part of ['weights', 'optim'] as const) {
        const f = this.file(slot, part);
        if (!existsSync(f)) continue;
        try {
          stamps.set(f, Number((await readSafetensorsMetadata(f))['ssl3d.step']));
        } catch {
          /* unreadable: not usable */
        }
      }
    }
    const find = (part: 'weights' | 'optim', step: number) =>
      (['last', 'prev'] as const).map((s) => this.file(s, part)).find((f) => stamps.get(f) === step);
    sidecars.sort((a, b) => b.step - a.step);
    for (const state of sidecars) {
      const weights = find('weights', state.step);
      const optimizer = find('optim', state.step);
      if (weights && optimizer) return { state, weights, optimizer };
    }
    if (sidecars.length || stamps.size) {
      throw new CheckpointError(this.dir, 'checkpoint files are present but no complete set (weights + optimizer + sidecar of one step) was found');
    }
    return null;
  }
}
