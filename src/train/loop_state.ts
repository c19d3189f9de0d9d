/**
 * The position and bookkeeping of a training loop (step, data position, best metric, elapsed time), its restore
 * from a checkpoint and its save to one: what pretraining and fine-tuning share around their different steps.
 */
import * as tfc from '@tensorflow/tfjs';
import type * as tf from '@tensorflow/tfjs';
import { loadSafetensors } from '../io/checkpoint/safetensors';
import { loadCheckpoint } from '../nn/checkpoint';
import type { Module } from '../nn/module';
import type { PipelineParams } from '../transforms/pipelines';
import { VERSION } from '../version';
import { CHECKPOINT_FORMAT, type Arch, type CheckpointState } from './checkpoints';
import { Adam } from './optim';
import type { MetricsRecord, RunSummary } from './run_folder';
import { disposeGrads, rssMB, TrainingDivergedError, type Session } from './session';

/** What identifies the run in every checkpoint it writes. */
export interface RunIdentity {
  kind: 'pretrain' | 'finetune';
  arch: Arch;
  arch_config: Record<string, unknown>;
  seed: number;
  pipeline_params: PipelineParams;
}

export class LoopState {
  /** Optimizer updates done. */
  step = 0;
  epoch = 0;
  /** Index of the next batch within `epoch`. */
  batch = 0;
  best: number | null = null;
  bestStep: number | null = null;
  /** Step of the last checkpoint written (or resumed from). */
  lastCheckpoint: number | null = null;
  lastValStep = -1;
  /** Loop-specific values that must survive a resume (e.g. the tutorial's running-mean Dice at the best step). */
  extra: Record<string, unknown> = {};
  private elapsedBefore = 0;
  /** When the loop started waiting for the next batch (set at the end of each step and before the first). */
  waitFrom: number | null = null;
  private waitTotal = 0;
  private computeTotal = 0;
  private readonly t0 = performance.now();

  /** Seconds of training in this run, across resumes. */
  elapsed(): number {
    return +(this.elapsedBefore + (performance.now() - this.t0) / 1000).toFixed(3);
  }

  /** A fresh state, or the one the session's resume point holds (model weights and optimizer restored too). */
  static async open(s: Session, model: Module, opt: Adam): Promise<LoopState> {
    const st = new LoopState();
    if (!s.resume) return st;
    const c = s.resume.state;
    await loadCheckpoint(model, s.resume.weights);
    const moments = await loadSafetensors(s.resume.optimizer);
    opt.load(c.optimizer!, moments.tensors, s.resume.optimizer);
    st.step = c.step;
    st.epoch = c.epoch;
    st.batch = c.batch;
    st.best = c.best_metric;
    st.bestStep = c.best_step;
    st.lastCheckpoint = c.step;
    const { elapsed, last_val_step, ...rest } = c.extra ?? {};
    st.elapsedBefore = Number(elapsed ?? 0);
    st.lastValStep = Number(last_val_step ?? -1);
    st.extra = rest;
    await s.run.truncateMetrics(st.step);
    s.note(`resumed at step ${st.step} (epoch ${st.epoch}, batch ${st.batch})`);
    return st;
  }

  /**
   * Apply the update of one step (or stop, before touching the weights, when the loss is NaN/Inf), dispose the
   * gradients and advance the position. Returns the step's metrics record (`n` samples since `t0`).
   */
  applyUpdate(opt: Adam, r: { loss: number; grads: tf.NamedTensorMap }, n: number, t0: number, losses: Record<string, number> = {}): MetricsRecord {
    if (!Number.isFinite(r.loss)) {
      disposeGrads(r.grads);
      throw new TrainingDivergedError(this.step + 1, r.loss, this.lastCheckpoint);
    }
    opt.apply(r.grads);
    disposeGrads(r.grads);
    this.step++;
    this.batch++;
    const now = performance.now();
    const wait = this.waitFrom === null ? null : Math.max(0, t0 - this.waitFrom) / 1000;
    if (wait !== null) this.waitTotal += wait;
    this.computeTotal += (now - t0) / 1000;
    return {
      step: this.step,
      epoch: this.epoch,
      loss: r.loss,
      ...losses,
      lr: opt.lr,
      time_s: this.elapsed(),
      samples_per_s: +(n / ((now - t0) / 1000)).toFixed(4),
      data_wait_s: wait === null ? null : +wait.toFixed(4),
      num_tensors: tfc.memory().numTensors,
      rss_mb: rssMB(),
    };
  }

  /** The summary fields every run has (a loop adds its own, e.g. init and num_train). */
  summary(kind: RunSummary['kind'], seed: number, backend: string, interrupted: boolean): RunSummary {
    return {
      kind,
      best_metric: this.best,
      best_step: this.bestStep,
      steps: this.step,
      seconds: this.elapsed(),
      seed,
      status: interrupted ? 'interrupted' : 'completed',
      backend,
      data_wait_share: this.computeTotal > 0 ? +(this.waitTotal / (this.waitTotal + this.computeTotal)).toFixed(4) : null,
    };
  }

  checkpoint(id: RunIdentity, opt: Adam, backend: string): CheckpointState {
    return {
      format: CHECKPOINT_FORMAT,
      ...id,
      step: this.step,
      epoch: this.epoch,
      batch: this.batch,
      best_metric: this.best,
      best_step: this.bestStep,
      optimizer: opt.state(),
      ssl3d_version: VERSION,
      backend,
      saved_at: new Date().toISOString(),
      extra: { ...this.extra, elapsed: this.elapsed(), last_val_step: this.lastValStep },
    };
  }

  async saveLast(s: Session, id: RunIdentity, model: Module, opt: Adam): Promise<void> {
    await s.store.saveLast(model, opt, this.checkpoint(id, opt, s.backend));
    this.lastCheckpoint = this.step;
  }

  /** Record a validation result; when it is the best so far (lower or higher is better), save the best model. */
  async recordValidation(
    s: Session,
    id: RunIdentity,
    model: Module,
    opt: Adam,
    value: number,
    higherIsBetter: boolean,
    extraIfBest: Record<string, unknown> = {},
  ): Promise<boolean> {
    this.lastValStep = this.step;
    const improved = this.best === null || (higherIsBetter ? value > this.best : value < this.best);
    if (improved) {
      Object.assign(this.extra, extraIfBest);
      this.best = value;
      this.bestStep = this.step;
      await s.store.saveBest(model, this.checkpoint(id, opt, s.backend));
    }
    return improved;
  }
}

/** The named trainable variables of a model, for the optimizer. */
export function namedVariables(model: Module): Array<[string, tf.Variable]> {
  return model.namedParameters().map(([n, p]) => [n, p.variable]);
}
