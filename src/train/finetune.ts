/**
 * UNETR fine-tuning (spec §5.2): `batch_size` volumes × `samples_per_volume` label-balanced crops per step,
 * DiceCELoss, AdamW (PyTorch's decoupled weight decay), validation every `val_every_steps` updates and at the end
 * with sliding-window Dice on whole validation volumes; the best model by mean Dice is kept.
 *
 * Init: random, or `pretrained` = the tutorial's backbone transfer (spec §3.3) from an ssl3d ViTAutoEnc checkpoint
 * or a MONAI `.pt` (`{"state_dict": ...}` or bare): exactly the ViT tensors are copied, the decoder stays random.
 *
 * Difference from the tutorial, deliberately: the tutorial validates after updates 101, 201, … (its counter is
 * checked before the increment); here after updates 100, 200, … and after the last one.
 */
import * as tf from '@tensorflow/tfjs';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { batchTensor } from '../data/collate';
import { SslDataset } from '../data/dataset';
import { DataLoader } from '../data/loader';
import { CheckpointError, loadSafetensors } from '../io/checkpoint/safetensors';
import { diceCELoss } from '../losses/dice_ce';
import { loadCheckpoint, loadViTBackbone, readStateDict } from '../nn/checkpoint';
import { UNETR } from '../nn/nets/unetr';
import { pipelineParams } from '../transforms/pipelines';
import { BTCV_LABELS } from '../synth/labels';
import { VERSION } from '../version';
import { CHECKPOINT_FORMAT, type CheckpointState } from './checkpoints';
import type { FinetuneConfig } from './config';
import { Adam } from './optim';
import type { TrainResult } from './pretrain';
import type { RunSummary } from './run_folder';
import { checkMemory, computeGrads, disposeGrads, loadLists, openSession, rssMB, toNDHWC, TrainingDivergedError, type TrainOptions } from './session';
import { validateSegmentation, type SegmentationScores } from './validate';

/** Copy a pretrained backbone into `model`; returns what was copied/skipped (throws when nothing matches). */
export async function loadPretrainedBackbone(model: UNETR, file: string): Promise<{ copied: string[]; skipped: string[] }> {
  const { tensors } = await readStateDict(file);
  const r = loadViTBackbone(model, tensors, file);
  if (!r.copied.length) {
    throw new CheckpointError(file, `no ViT backbone tensor matches UNETR's 'vit.*' parameters (is this a ViTAutoEnc or ViT checkpoint? its keys start with ${[...tensors.keys()].slice(0, 3).join(', ')})`);
  }
  return r;
}

function organName(c: number): string {
  return Object.entries(BTCV_LABELS).find(([, v]) => v === c)?.[0] ?? `class ${c}`;
}

export async function finetune(config: FinetuneConfig, opts: TrainOptions = {}): Promise<TrainResult> {
  const s = await openSession(config, opts);
  const { train, val } = await loadLists(config);
  checkMemory(config, s, opts);
  const t = config.train;
  const model = new UNETR(config.model, config.seed);
  const named = model.namedParameters().map(([n, p]) => [n, p.variable] as [string, tf.Variable]);
  const vars = named.map(([, v]) => v);
  const opt = new Adam(named, { lr: t.lr, weightDecay: t.weight_decay, decoupled: true });
  s.say(`UNETR: ${(model.numParameters() / 1e6).toFixed(2)} M parameters; init ${config.init}; ${train.length} training / ${val.length} validation volumes`);

  let step = 0;
  let epoch = 0;
  let batch = 0;
  let best: number | null = null;
  let bestRunning: number | null = null;
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
    bestRunning = (st.extra?.best_running as number | null) ?? null;
    lastCkpt = st.step;
    elapsed = Number(st.extra?.elapsed ?? 0);
    lastValStep = Number(st.extra?.last_val_step ?? -1);
    await s.run.truncateMetrics(step);
    s.note(`resumed at step ${step} (epoch ${epoch}, batch ${batch})`);
  } else if (config.init === 'pretrained') {
    const r = await loadPretrainedBackbone(model, config.pretrained!);
    const line = `pretrained backbone: copied ${r.copied.length} tensors from ${config.pretrained}, skipped ${r.skipped.length} (${r.skipped.slice(0, 4).join(', ')}${r.skipped.length > 4 ? ', …' : ''})`;
    s.note(line);
    const vitParams = model.namedParameters().filter(([k]) => k.startsWith('vit.')).length;
    if (r.copied.length < vitParams) {
      s.note(`warning: UNETR's ViT has ${vitParams} tensors but only ${r.copied.length} were in the checkpoint (fewer layers than UNETR's 12?); the rest keep their random init`);
    }
    writeFileSync(path.join(s.run.dir, 'pretrained_load.json'), JSON.stringify({ file: path.resolve(config.pretrained!), ...r }, null, 1) + '\n');
  }

  const params = pipelineParams(config.transforms.patch, {
    samplesPerVolume: config.transforms.samples_per_volume,
    finetunePadToPatch: config.transforms.pad_to_patch,
    finetunePixdim: config.transforms.pixdim as [number, number, number],
  });
  const dsOpts = { cacheDir: config.data.cache_dir ?? undefined, memoryCacheMB: config.data.memory_cache_mb };
  const trainDs = new SslDataset(train, { name: 'finetune', params }, { ...dsOpts, seed: config.seed });
  const valDs = new SslDataset(val, { name: 'finetune-val', params }, { ...dsOpts, seed: config.seed });
  const loader = new DataLoader(trainDs, { batchSize: t.batch_size, shuffle: true, numWorkers: config.data.num_workers });
  const total = t.max_steps;
  const K = config.model.out_channels;
  const segmentStart = performance.now();
  const now = () => +(elapsed + (performance.now() - segmentStart) / 1000).toFixed(3);

  const state = (): CheckpointState => ({
    format: CHECKPOINT_FORMAT,
    kind: 'finetune',
    arch: 'unetr',
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
    extra: { elapsed: now(), last_val_step: lastValStep, best_running: bestRunning, init: config.init },
  });
  const saveLast = async () => {
    await s.store.saveLast(model, opt, state());
    lastCkpt = step;
  };
  const validate = async (): Promise<SegmentationScores> => {
    const sc = await validateSegmentation(model, valDs, { roi: config.transforms.patch, swBatchSize: t.sw_batch_size, overlap: t.overlap, numClasses: K });
    lastValStep = step;
    const improved = best === null || sc.meanDice > best;
    if (improved) {
      best = sc.meanDice;
      bestRunning = sc.runningMeanDice;
      bestStep = step;
      await s.store.saveBest(model, state());
    }
    const organs = sc.perClass
      .slice(1)
      .map((d, i) => `${organName(i + 1)} ${d.toFixed(3)}`)
      .join(', ');
    s.note(
      `step ${step}: validation Dice ${sc.meanDice.toFixed(4)} (tutorial's running mean ${sc.runningMeanDice.toFixed(4)})` +
        (improved ? ' — best so far, saved' : ` — best ${best!.toFixed(4)} at step ${bestStep}`),
    );
    s.run.log(`per organ: ${organs}`);
    s.run.appendMetrics({
      step,
      epoch,
      loss: null as unknown as number,
      lr: opt.lr,
      time_s: now(),
      samples_per_s: null as unknown as number,
      val_dice: sc.meanDice,
      val_dice_running_mean: sc.runningMeanDice,
      val_dice_per_class: sc.perClass.slice(1),
    });
    return sc;
  };

  let interrupted = false;
  s.progress.start(total, step, `finetune (${config.init})`);
  try {
    outer: while (step < total) {
      for await (const b of loader.epoch(epoch, batch)) {
        const t0 = performance.now();
        const x = toNDHWC(batchTensor(b, 'image'));
        const y = toNDHWC(batchTensor(b, 'label'));
        const n = x.shape[0];
        const r = computeGrads(vars, () => ({ loss: diceCELoss(model.forward(x), y) }));
        tf.dispose([x, y]);
        if (!Number.isFinite(r.loss)) {
          disposeGrads(r.grads);
          throw new TrainingDivergedError(step + 1, r.loss, lastCkpt);
        }
        opt.apply(r.grads);
        disposeGrads(r.grads);
        step++;
        batch++;
        const dt = (performance.now() - t0) / 1000;
        const rec = { step, epoch, loss: r.loss, lr: opt.lr, time_s: now(), samples_per_s: +(n / dt).toFixed(4), num_tensors: tf.memory().numTensors, rss_mb: rssMB() };
        if (step % t.log_every_steps === 0 || step === total) s.run.appendMetrics(rec);
        s.progress.update(step, `loss ${r.loss.toFixed(4)} | best Dice ${best === null ? '–' : best.toFixed(4)} | ${rec.samples_per_s.toFixed(2)} crops/s`);
        const stop = opts.shouldStop?.() ?? false;
        if (!stop && (step % t.val_every_steps === 0 || step === total)) {
          await validate();
          await saveLast();
        } else if (stop || step % t.checkpoint_every_steps === 0) await saveLast();
        if (stop) {
          interrupted = true;
          break outer;
        }
        if (step >= total) break outer;
      }
      epoch++;
      batch = 0;
    }
    if (!interrupted && lastValStep !== step) {
      await validate();
      await saveLast();
    }
  } finally {
    s.progress.stop();
    await loader.close();
  }
  const summary: RunSummary = {
    kind: 'finetune',
    best_metric: best,
    best_step: bestStep,
    best_metric_running_mean: bestRunning,
    steps: step,
    seconds: now(),
    init: config.init,
    num_train: train.length,
    seed: config.seed,
    status: interrupted ? 'interrupted' : 'completed',
    backend: s.backend,
  };
  await s.run.writeSummary(summary);
  s.note(interrupted ? `interrupted at step ${step}; checkpoint saved, continue with --resume` : `done: ${step} steps, best validation Dice ${best?.toFixed(4)} at step ${bestStep}`);
  opt.dispose();
  model.dispose();
  return { runDir: s.run.dir, summary };
}
