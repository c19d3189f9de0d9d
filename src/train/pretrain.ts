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
import { regularizedSslLoss } from '../losses/contrastive';
import { ViTAutoEnc } from '../nn/nets/vit';
import { pipelineParams } from '../transforms/pipelines';
import type { PretrainConfig } from './config';
import { LoopState, namedVariables, type RunIdentity } from './loop_state';
import { Adam } from './optim';
import { checkMemory, computeGrads, loadLists, openSession, toNDHWC, type TrainOptions } from './session';
import { validateReconstruction } from './validate';

export interface TrainResult {
  runDir: string;
  summary: import('./run_folder').RunSummary;
}

export async function pretrain(config: PretrainConfig, opts: TrainOptions = {}): Promise<TrainResult> {
  const s = await openSession(config, opts);
  const { train, val } = await loadLists(config);
  checkMemory(config, s, opts);
  const t = config.train;
  const model = new ViTAutoEnc(config.model, config.seed);
  const named = namedVariables(model);
  const vars = named.map(([, v]) => v);
  const opt = new Adam(named, { lr: t.lr });
  s.say(`ViTAutoEnc: ${(model.numParameters() / 1e6).toFixed(2)} M parameters; ${train.length} training / ${val.length} validation volumes`);
  const st = await LoopState.open(s, model, opt);

  const params = pipelineParams(config.transforms.patch, {
    cropsPerVolume: config.transforms.crops_per_volume,
    pretrainPixdim: config.transforms.pixdim as [number, number, number],
  });
  const id: RunIdentity = { kind: 'pretrain', arch: 'vitautoenc', arch_config: config.model, seed: config.seed, pipeline_params: params };
  const spec = { name: 'pretrain' as const, params };
  const dsOpts = { cacheDir: config.data.cache_dir ?? undefined, memoryCacheMB: config.data.memory_cache_mb };
  const trainDs = new SslDataset(train, spec, { ...dsOpts, seed: config.seed });
  const valDs = new SslDataset(val, spec, { ...dsOpts, seed: deriveSeed(config.seed, 'validation') });
  const loader = new DataLoader(trainDs, { batchSize: t.batch_size, shuffle: true, numWorkers: config.data.num_workers });
  const valLoader = new DataLoader(valDs, { batchSize: t.batch_size, shuffle: true, numWorkers: 0 });
  const total = Math.min(t.max_steps ?? Infinity, t.max_epochs * loader.batchesPerEpoch);

  const validate = async () => {
    const v = await validateReconstruction(model, valLoader, st.epoch, t.val_max_batches);
    const improved = await st.recordValidation(s, id, model, opt, v, false);
    s.note(`epoch ${st.epoch} step ${st.step}: validation L1 ${v.toFixed(5)}${improved ? ' (best so far; saved)' : ` (best ${st.best!.toFixed(5)} at step ${st.bestStep})`}`);
    s.run.appendMetrics({ step: st.step, epoch: st.epoch, loss: null, lr: opt.lr, time_s: st.elapsed(), samples_per_s: null, val_loss: v });
  };

  let interrupted = false;
  s.progress.start(total, st.step, 'pretrain');
  try {
    outer: while (st.step < total && st.epoch < t.max_epochs) {
      st.waitFrom = performance.now();
      for await (const b of loader.epoch(st.epoch, st.batch)) {
        const t0 = performance.now();
        const x1 = toNDHWC(batchTensor(b, 'image'));
        const x2 = toNDHWC(batchTensor(b, 'image_2'));
        const gt = toNDHWC(batchTensor(b, 'gt_image'));
        const n = x1.shape[0];
        const r = await computeGrads(vars, () => {
          const [out1, out2] = model.forwardViews(x1, x2); // both views in one pass (= model(x1), model(x2))
          const l = regularizedSslLoss(out1, out2, gt, t.temperature);
          return { loss: l.total, extra: { l1: l.l1, cl: l.contrastive } };
        });
        tf.dispose([x1, x2, gt]);
        const rec = st.applyUpdate(opt, r, n, t0, { loss_l1: r.extra.l1, loss_contrastive: r.extra.cl });
        if (st.step % t.log_every_steps === 0 || st.step === total) s.run.appendMetrics(rec);
        opts.onStep?.(rec);
        s.progress.update(st.step, `loss ${r.loss.toFixed(4)} (L1 ${r.extra.l1.toFixed(4)}, CL ${r.extra.cl.toFixed(3)}) | ${rec.samples_per_s!.toFixed(2)} crops/s`);
        if (opts.shouldStop?.()) {
          await st.saveLast(s, id, model, opt);
          interrupted = true;
          break outer;
        }
        if (st.step >= total) break outer;
        if (st.step % t.checkpoint_every_steps === 0) await st.saveLast(s, id, model, opt);
        st.waitFrom = performance.now();
      }
      if (st.epoch % t.val_interval_epochs === 0) await validate();
      st.epoch++;
      st.batch = 0;
      await st.saveLast(s, id, model, opt);
    }
    if (!interrupted && st.lastValStep !== st.step) await validate();
    if (!interrupted) await st.saveLast(s, id, model, opt);
  } finally {
    s.progress.stop();
    await loader.close();
    await valLoader.close();
    s.run.unlock();
  }
  const summary = st.summary('pretrain', config.seed, s.backend, interrupted);
  await s.run.writeSummary(summary);
  s.note(interrupted ? `interrupted at step ${st.step}; checkpoint saved, continue with --resume` : `done: ${st.step} steps, best validation L1 ${st.best?.toFixed(5)} at step ${st.bestStep}`);
  opt.dispose();
  model.dispose();
  return { runDir: s.run.dir, summary };
}
