/**
 * Self-supervised pretraining of ViTAutoEnc (spec §5.1): per step, `batch_size` volumes × `crops_per_volume` random
 * crops, two augmented views each; loss = r + cl·r with r = L1(view-1 reconstruction, clean crop) and cl =
 * ContrastiveLoss(τ) between the two reconstructions; Adam. Validation (mean L1 on the validation list, the random
 * train-time views as in the tutorial) when `epoch % val_interval_epochs == 0` and at the end; the best model by
 * validation L1 is kept.
 *
 * Reproducible and resumable: every random choice derives from `seed` (model init, shuffles, augmentations by
 * (epoch, volume)), checkpoints record the data position, so `--resume` after a kill gives bit-identical weights.
 */
import * as tf from '@tensorflow/tfjs';
import { deriveSeed } from '../core/random';
import { batchTensor } from '../data/collate';
import { SslDataset } from '../data/dataset';
import { DataLoader } from '../data/loader';
import { loadSafetensors } from '../io/checkpoint/safetensors';
import { regularizedSslLoss } from '../losses/contrastive';
import { loadCheckpoint } from '../nn/checkpoint';
import { ViTAutoEnc } from '../nn/nets/vit';
import { pipelineParams } from '../transforms/pipelines';
import { VERSION } from '../version';
import { CHECKPOINT_FORMAT, type CheckpointState } from './checkpoints';
import type { PretrainConfig } from './config';
import { Adam } from './optim';
import type { RunSummary } from './run_folder';
import { checkMemory, computeGrads, disposeGrads, loadLists, openSession, rssMB, toNDHWC, TrainingDivergedError, type TrainOptions } from './session';
import { validateReconstruction } from './validate';

export interface TrainResult {
  runDir: string;
  summary: RunSummary;
}

export async function pretrain(config: PretrainConfig, opts: TrainOptions = {}): Promise<TrainResult> {
  const s = await openSession(config, opts);
  const { train, val } = await loadLists(config);
  checkMemory(config, s, opts);
  const t = config.train;
  const model = new ViTAutoEnc(config.model, config.seed);
  const named = model.namedParameters().map(([n, p]) => [n, p.variable] as [string, tf.Variable]);
  const vars = named.map(([, v]) => v);
  const opt = new Adam(named, { lr: t.lr });
  s.say(`ViTAutoEnc: ${(model.numParameters() / 1e6).toFixed(2)} M parameters; ${train.length} training / ${val.length} validation volumes`);

  let step = 0;
  let epoch = 0;
  let batch = 0;
  let best: number | null = null;
  let bestStep: number | null = null;
  let lastCkpt: number | null = null;
  let elapsed = 0;
  let lastValStep = -1;
  if (s.resume) {
    const st = s.resume.state;
    await loadCheckpoint(model, s.resume.weights);
    const moments = await loadSafetensors(s.resume.optimizer);
    opt.load(st.optimizer!, moments.tensors, s.resume.optimizer);
    ({ step, epoch, batch } = st);
    best = st.best_metric;
    bestStep = st.best_step;
    lastCkpt = st.step;
    elapsed = Number(st.extra?.elapsed ?? 0);
    lastValStep = Number(st.extra?.last_val_step ?? -1);
    await s.run.truncateMetrics(step);
    s.note(`resumed at step ${step} (epoch ${epoch}, batch ${batch})`);
  }

  const params = pipelineParams(config.transforms.patch, {
    cropsPerVolume: config.transforms.crops_per_volume,
    pretrainPixdim: config.transforms.pixdim as [number, number, number],
  });
  const spec = { name: 'pretrain' as const, params };
  const dsOpts = { cacheDir: config.data.cache_dir ?? undefined, memoryCacheMB: config.data.memory_cache_mb };
  const trainDs = new SslDataset(train, spec, { ...dsOpts, seed: config.seed });
  const valDs = new SslDataset(val, spec, { ...dsOpts, seed: deriveSeed(config.seed, 'validation') });
  const loader = new DataLoader(trainDs, { batchSize: t.batch_size, shuffle: true, numWorkers: config.data.num_workers });
  const valLoader = new DataLoader(valDs, { batchSize: t.batch_size, shuffle: true, numWorkers: 0 });
  const perEpoch = loader.batchesPerEpoch;
  const total = Math.min(t.max_steps ?? Infinity, t.max_epochs * perEpoch);

  const state = (): CheckpointState => ({
    format: CHECKPOINT_FORMAT,
    kind: 'pretrain',
    arch: 'vitautoenc',
    arch_config: config.model,
    step,
    epoch,
    batch,
    seed: config.seed,
    pipeline_params: params,
    best_metric: best,
    best_step: bestStep,
    optimizer: opt.state(),
    ssl3d_version: VERSION,
    backend: s.backend,
    saved_at: new Date().toISOString(),
    extra: { elapsed: elapsed + (performance.now() - segmentStart) / 1000, last_val_step: lastValStep },
  });
  const saveLast = async () => {
    await s.store.saveLast(model, opt, state());
    lastCkpt = step;
  };
  const validate = async () => {
    const v = await validateReconstruction(model, valLoader, epoch, t.val_max_batches);
    lastValStep = step;
    const improved = best === null || v < best;
    if (improved) {
      best = v;
      bestStep = step;
      await s.store.saveBest(model, state());
    }
    s.note(`epoch ${epoch} step ${step}: validation L1 ${v.toFixed(5)}${improved ? ' (best so far; saved)' : ` (best ${best!.toFixed(5)} at step ${bestStep})`}`);
    return v;
  };

  const segmentStart = performance.now();
  let interrupted = false;
  s.progress.start(total, step, 'pretrain');
  try {
    outer: while (step < total && epoch < t.max_epochs) {
      for await (const b of loader.epoch(epoch, batch)) {
        const t0 = performance.now();
        const x1 = toNDHWC(batchTensor(b, 'image'));
        const x2 = toNDHWC(batchTensor(b, 'image_2'));
        const gt = toNDHWC(batchTensor(b, 'gt_image'));
        const n = x1.shape[0];
        const r = computeGrads(vars, () => {
          const l = regularizedSslLoss(model.forward(x1).out, model.forward(x2).out, gt, t.temperature);
          return { loss: l.total, extra: { l1: l.l1, cl: l.contrastive } };
        });
        tf.dispose([x1, x2, gt]);
        if (!Number.isFinite(r.loss)) {
          disposeGrads(r.grads);
          throw new TrainingDivergedError(step + 1, r.loss, lastCkpt);
        }
        opt.apply(r.grads);
        disposeGrads(r.grads);
        step++;
        batch++;
        const dt = (performance.now() - t0) / 1000;
        const rec = {
          step,
          epoch,
          loss: r.loss,
          loss_l1: r.extra.l1,
          loss_contrastive: r.extra.cl,
          lr: opt.lr,
          time_s: +(elapsed + (performance.now() - segmentStart) / 1000).toFixed(3),
          samples_per_s: +(n / dt).toFixed(4),
          num_tensors: tf.memory().numTensors,
          rss_mb: rssMB(),
        };
        if (step % t.log_every_steps === 0 || step === total) s.run.appendMetrics(rec);
        s.progress.update(step, `loss ${r.loss.toFixed(4)} (L1 ${r.extra.l1.toFixed(4)}, CL ${r.extra.cl.toFixed(3)}) | ${rec.samples_per_s.toFixed(2)} crops/s`);
        if (opts.shouldStop?.()) {
          await saveLast();
          interrupted = true;
          break outer;
        }
        if (step >= total) break outer;
        if (step % t.checkpoint_every_steps === 0) await saveLast();
      }
      // end of the epoch
      if (epoch % t.val_interval_epochs === 0) {
        const v = await validate();
        s.run.appendMetrics({ step, epoch, loss: NaN, lr: opt.lr, time_s: +(elapsed + (performance.now() - segmentStart) / 1000).toFixed(3), samples_per_s: NaN, val_loss: v });
      }
      epoch++;
      batch = 0;
      await saveLast();
    }
    if (!interrupted && lastValStep !== step) {
      const v = await validate();
      s.run.appendMetrics({ step, epoch, loss: NaN, lr: opt.lr, time_s: +(elapsed + (performance.now() - segmentStart) / 1000).toFixed(3), samples_per_s: NaN, val_loss: v });
    }
    if (!interrupted) await saveLast();
  } finally {
    s.progress.stop();
    await loader.close();
    await valLoader.close();
  }
  const summary: RunSummary = {
    kind: 'pretrain',
    best_metric: best,
    best_step: bestStep,
    steps: step,
    seconds: +(elapsed + (performance.now() - segmentStart) / 1000).toFixed(2),
    seed: config.seed,
    status: interrupted ? 'interrupted' : 'completed',
    backend: s.backend,
  };
  await s.run.writeSummary(summary);
  s.note(interrupted ? `interrupted at step ${step}; checkpoint saved, continue with --resume` : `done: ${step} steps, best validation L1 ${best?.toFixed(5)} at step ${bestStep}`);
  opt.dispose();
  model.dispose();
  return { runDir: s.run.dir, summary };
}
