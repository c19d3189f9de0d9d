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
import { CheckpointError } from '../io/checkpoint/safetensors';
import { diceCELoss } from '../losses/dice_ce';
import { loadViTBackbone, readStateDict } from '../nn/checkpoint';
import { UNETR } from '../nn/nets/unetr';
import { pipelineParams } from '../transforms/pipelines';
import { BTCV_LABELS } from '../synth/labels';
import type { FinetuneConfig } from './config';
import { LoopState, namedVariables, type RunIdentity } from './loop_state';
import { Adam } from './optim';
import type { TrainResult } from './pretrain';
import type { RunSummary } from './run_folder';
import { checkMemory, computeGrads, loadLists, openSession, toNDHWC, type TrainOptions } from './session';
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
  const named = namedVariables(model);
  const vars = named.map(([, v]) => v);
  const opt = new Adam(named, { lr: t.lr, weightDecay: t.weight_decay, decoupled: true });
  s.say(`UNETR: ${(model.numParameters() / 1e6).toFixed(2)} M parameters; init ${config.init}; ${train.length} training / ${val.length} validation volumes`);
  const st = await LoopState.open(s, model, opt);
  if (!s.resume && config.init === 'pretrained') {
    const r = await loadPretrainedBackbone(model, config.pretrained!);
    s.note(`pretrained backbone: copied ${r.copied.length} tensors from ${config.pretrained}, skipped ${r.skipped.length} (${r.skipped.slice(0, 4).join(', ')}${r.skipped.length > 4 ? ', …' : ''})`);
    const vitParams = model.namedParameters().filter(([k]) => k.startsWith('vit.')).length;
    if (r.copied.length < vitParams) {
      s.note(`warning: UNETR's ViT has ${vitParams} tensors but only ${r.copied.length} were in the checkpoint (fewer layers than UNETR's 12?); the rest keep their random init`);
    }
    writeFileSync(path.join(s.run.dir, 'pretrained_load.json'), JSON.stringify({ file: path.resolve(config.pretrained!), ...r }, null, 1) + '\n');
  }

  const params = pipelineParams(config.transforms.patch, {
    samplesPerVolume: config.transforms.samples_per_volume,
    cropSampler: config.transforms.crop_sampler,
    numClasses: config.model.out_channels,
    classRatios: config.transforms.class_ratios,
    finetunePadToPatch: config.transforms.pad_to_patch,
    finetunePixdim: config.transforms.pixdim as [number, number, number],
  });
  const id: RunIdentity = { kind: 'finetune', arch: 'unetr', arch_config: config.model, seed: config.seed, pipeline_params: params };
  st.extra.init = config.init;
  const dsOpts = { cacheDir: config.data.cache_dir ?? undefined, memoryCacheMB: config.data.memory_cache_mb };
  const trainDs = new SslDataset(train, { name: 'finetune', params }, { ...dsOpts, seed: config.seed });
  const valDs = new SslDataset(val, { name: 'finetune-val', params }, { ...dsOpts, seed: config.seed });
  const loader = new DataLoader(trainDs, { batchSize: t.batch_size, shuffle: true, numWorkers: config.data.num_workers });
  const total = t.max_steps;
  const K = config.model.out_channels;

  const validate = async (): Promise<SegmentationScores> => {
    const sc = await validateSegmentation(model, valDs, { roi: config.transforms.patch, swBatchSize: t.sw_batch_size, overlap: t.overlap, numClasses: K });
    const improved = await st.recordValidation(s, id, model, opt, sc.meanDice, true, { best_running: sc.runningMeanDice });
    s.note(
      `step ${st.step}: validation Dice ${sc.meanDice.toFixed(4)} (tutorial's running mean ${sc.runningMeanDice.toFixed(4)})` +
        (improved ? ' — best so far, saved' : ` — best ${st.best!.toFixed(4)} at step ${st.bestStep}`),
    );
    s.run.log('per organ: ' + sc.perClass.slice(1).map((d, i) => `${organName(i + 1)} ${d.toFixed(3)}`).join(', '));
    s.run.appendMetrics({
      step: st.step,
      epoch: st.epoch,
      loss: null,
      lr: opt.lr,
      time_s: st.elapsed(),
      samples_per_s: null,
      val_dice: sc.meanDice,
      val_dice_running_mean: sc.runningMeanDice,
      val_dice_per_class: sc.perClass.slice(1),
    });
    return sc;
  };

  let interrupted = false;
  s.progress.start(total, st.step, `finetune (${config.init})`);
  try {
    outer: while (st.step < total) {
      st.waitFrom = performance.now();
      for await (const b of loader.epoch(st.epoch, st.batch)) {
        const t0 = performance.now();
        const x = toNDHWC(batchTensor(b, 'image'));
        const y = toNDHWC(batchTensor(b, 'label'));
        const n = x.shape[0];
        const r = await computeGrads(vars, () => ({ loss: diceCELoss(model.forward(x), y) }));
        tf.dispose([x, y]);
        const rec = st.applyUpdate(opt, r, n, t0);
        if (st.step % t.log_every_steps === 0 || st.step === total) s.run.appendMetrics(rec);
        opts.onStep?.(rec);
        s.progress.update(st.step, `loss ${r.loss.toFixed(4)} | best Dice ${st.best === null ? '–' : st.best.toFixed(4)} | ${rec.samples_per_s!.toFixed(2)} crops/s`);
        const stop = opts.shouldStop?.() ?? false;
        if (!stop && (st.step % t.val_every_steps === 0 || st.step === total)) {
          await validate();
          await st.saveLast(s, id, model, opt);
        } else if (stop || st.step % t.checkpoint_every_steps === 0) await st.saveLast(s, id, model, opt);
        if (stop) {
          interrupted = true;
          break outer;
        }
        if (st.step >= total) break outer;
        st.waitFrom = performance.now();
      }
      st.epoch++;
      st.batch = 0;
    }
    if (!interrupted && st.lastValStep !== st.step) {
      await validate();
      await st.saveLast(s, id, model, opt);
    }
  } finally {
    s.progress.stop();
    await loader.close();
    s.run.unlock();
  }
  const summary: RunSummary = {
    ...st.summary('finetune', config.seed, s.backend, interrupted),
    best_metric_running_mean: (st.extra.best_running as number | undefined) ?? null,
    init: config.init,
    num_train: train.length,
  };
  await s.run.writeSummary(summary);
  s.note(interrupted ? `interrupted at step ${st.step}; checkpoint saved, continue with --resume` : `done: ${st.step} steps, best validation Dice ${st.best?.toFixed(4)} at step ${st.bestStep}`);
  opt.dispose();
  model.dispose();
  return { runDir: s.run.dir, summary };
}
