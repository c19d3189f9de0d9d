import { InvalidArgumentError, type Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { deriveSeed } from '../../core/random';
import type { Volume } from '../../core/volume';
import { ArgumentError } from '../../errors';
import { writeNpy } from '../../io/npy';
import type { Data } from '../../transforms/core/transform';
import { DRAWS_KEY, type Draw } from '../../transforms/core/randomizable';
import { buildPipeline, pipelineParams, type Pipeline } from '../../transforms/pipelines';
import { writeFileAtomic } from '../../viz/png';
import { parseCount, parseSeed } from './synth';

export type AugmentPreset = 'pretrain' | 'finetune';
export const AUGMENT_PRESETS: AugmentPreset[] = ['pretrain', 'finetune'];

/** The volumes each sample of a preset holds, in the order they are written. */
export const SAMPLE_KEYS: Record<AugmentPreset, string[]> = {
  pretrain: ['image', 'image_2', 'gt_image'],
  finetune: ['image', 'label'],
};

/** One input volume run through a preset's deterministic part, ready for random samples. */
export interface Sampler {
  preset: AugmentPreset;
  pipeline: Pipeline;
  /** The preprocessed dict (input of the random part). */
  pre: Data;
  /** Spatial shape after preprocessing. */
  shape: [number, number, number];
  /** Fine-tuning only: the preprocessed volume was smaller than the patch and was zero-padded to it. */
  padded: boolean;
  /** Spatial shape before that padding. */
  unpaddedShape: [number, number, number];
}

export function parsePreset(v: string): AugmentPreset {
  if (!AUGMENT_PRESETS.includes(v as AugmentPreset)) throw new ArgumentError(`unknown preset '${v}'; use one of ${AUGMENT_PRESETS.join(', ')}`);
  return v as AugmentPreset;
}

export function parsePatch(v: string): number {
  const n = parseCount(v);
  if (n < 8) throw new InvalidArgumentError(`patch size must be ≥ 8, got ${v}`);
  return n;
}

const spatial = (v: Volume) => [v.shape[1], v.shape[2], v.shape[3]] as [number, number, number];

/**
 * Run the deterministic part of `preset` on one image (and label). Fine-tuning volumes smaller than the patch are
 * zero-padded to it (`finetunePadToPatch`), where MONAI's RandCropByPosNegLabeld would fail; `padded` says so.
 */
export async function prepareSampler(preset: AugmentPreset, image: string, label: string | undefined, patch: number): Promise<Sampler> {
  if (preset === 'pretrain' && label) throw new ArgumentError("the 'pretrain' preset has no label; drop --label or use --preset finetune");
  if (preset === 'finetune' && !label) throw new ArgumentError("the 'finetune' preset needs --label (RandCropByPosNegLabeld samples around labelled voxels)");
  const input: Data = label ? { image, label } : { image };
  let pipeline = buildPipeline(preset, pipelineParams(patch));
  let pre = await pipeline.deterministic.one({ ...input });
  const unpaddedShape = spatial(pre.image as Volume);
  let padded = false;
  if (preset === 'finetune' && unpaddedShape.some((s) => s < patch)) {
    pipeline = buildPipeline(preset, pipelineParams(patch, { finetunePadToPatch: true }));
    pre = await pipeline.deterministic.one({ ...input });
    padded = true;
  }
  return { preset, pipeline, pre, shape: spatial(pre.image as Volume), padded, unpaddedShape };
}

/** The seed of random call `call` for master seed `seed` (`ssl3d preview --seed S` shows call 0 of `augment --seed S`). */
export function callSeed(seed: number, call: number): number {
  return deriveSeed(seed, 'augment', call);
}

/** One call of the random part, seeded with `seed`: the list of samples it yields. */
export async function drawSamples(s: Sampler, seed: number): Promise<Data[]> {
  const random = s.pipeline.random!;
  random.setRandomState(seed);
  const r = await random.call({ ...s.pre });
  return Array.isArray(r) ? r : [r];
}

export interface AugmentOptions {
  preset: AugmentPreset;
  image: string;
  label?: string;
  n: number;
  seed: number;
  patch: number;
  outDir: string;
  onProgress?: (done: number, total: number) => void;
}

export interface AugmentResult {
  sampler: Sampler;
  files: string[];
  jsonl: string;
  calls: number;
}

/** Write N random samples (.npy per volume, MONAI layout (C, X, Y, Z), float32) and `samples.jsonl` to `outDir`. */
export async function augmentFiles(o: AugmentOptions): Promise<AugmentResult> {
  const sampler = await prepareSampler(o.preset, o.image, o.label, o.patch);
  await fsp.mkdir(o.outDir, { recursive: true });
  const keys = SAMPLE_KEYS[o.preset];
  const files: string[] = [];
  const lines: string[] = [];
  let index = 0;
  let call = 0;
  o.onProgress?.(0, o.n);
  while (index < o.n) {
    const cs = callSeed(o.seed, call);
    const samples = await drawSamples(sampler, cs);
    if (samples.length === 0) throw new ArgumentError(`the random part of '${o.preset}' yielded no samples`);
    for (let k = 0; k < samples.length && index < o.n; k++, index++) {
      const sample = samples[k];
      const stem = String(index).padStart(4, '0');
      const written: Record<string, string> = {};
      for (const key of keys) {
        const v = sample[key] as Volume | undefined;
        if (!v) throw new ArgumentError(`sample ${index} has no '${key}'`);
        const name = `${stem}_${key}.npy`;
        await writeNpy(path.join(o.outDir, name), v.data, v.shape);
        written[key] = name;
        files.push(path.join(o.outDir, name));
      }
      const record = {
        index,
        volume: o.image,
        ...(o.label ? { label: o.label } : {}),
        preset: o.preset,
        seed: o.seed,
        call,
        callSeed: cs,
        sampleInCall: k,
        shape: (sample[keys[0]] as Volume).shape,
        files: written,
        draws: (sample[DRAWS_KEY] as Draw[] | undefined) ?? [],
      };
      lines.push(JSON.stringify(record));
      o.onProgress?.(index + 1, o.n);
    }
    call++;
  }
  const jsonl = path.join(o.outDir, 'samples.jsonl');
  await writeFileAtomic(jsonl, lines.map((l) => l + '\n').join(''));
  return { sampler, files, jsonl, calls: call };
}

export function register(program: Command): void {
  program
    .command('augment')
    .description('Write what the model sees: N random training samples of a preset as float32 .npy (C, X, Y, Z) + samples.jsonl of the random draws')
    .requiredOption('--preset <name>', 'pretrain (gt_image, image, image_2 per crop) or finetune (image, label per crop)')
    .requiredOption('--image <file>', 'input CT (.nii/.nii.gz)')
    .option('--label <file>', 'label map (finetune only; required there)')
    .requiredOption('--n <count>', 'number of samples to write', parseCount)
    .requiredOption('--seed <seed>', 'master seed (same seed → identical files)', parseSeed)
    .option('--patch <size>', 'cubic patch size (hole/box sizes scale with it)', parsePatch, 96)
    .requiredOption('--out-dir <dir>', 'output folder (created if missing)')
    .option('--quiet', 'no progress bar')
    .addHelpText(
      'after',
      '\nFiles: NNNN_image.npy, NNNN_image_2.npy, NNNN_gt_image.npy (pretrain) or NNNN_image.npy, NNNN_label.npy\n' +
        '(finetune), and samples.jsonl: one line per sample with its files, seeds and the random draws (crop, OneOf\n' +
        'choice, hole boxes, shuffles, flips, rot90 k, intensity shift). Call c of the random part is seeded with\n' +
        'deriveSeed(seed, "augment", c); each call yields 2 (pretrain) or 4 (finetune) samples.\n' +
        '\nExample:\n  ssl3d augment --preset pretrain --image ct.nii.gz --n 8 --seed 0 --out-dir aug/',
    )
    .action(async (opts: { preset: string; image: string; label?: string; n: number; seed: number; patch: number; outDir: string; quiet?: boolean }) => {
      const preset = parsePreset(opts.preset);
      const bar =
        opts.quiet || opts.n === 0
          ? null
          : new SingleBar({
              format: 'augment [{bar}] {value}/{total} samples | {duration_formatted} elapsed | ETA {eta_formatted}',
              stream: process.stderr,
              hideCursor: null,
              clearOnComplete: false,
            });
      const t0 = Date.now();
      let r: AugmentResult;
      let started = false;
      try {
        r = await augmentFiles({
          preset,
          image: opts.image,
          label: opts.label,
          n: opts.n,
          seed: opts.seed,
          patch: opts.patch,
          outDir: opts.outDir,
          onProgress: (done, total) => {
            if (!started) ((started = true), bar?.start(total, done));
            else bar?.update(done);
          },
        });
      } finally {
        if (started) bar?.stop();
      }
      const s = r.sampler;
      if (s.padded) {
        process.stdout.write(`note: preprocessed volume ${s.unpaddedShape.join('×')} is smaller than the ${opts.patch}³ patch; zero-padded to ${s.shape.join('×')} (finetunePadToPatch)\n`);
      }
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      process.stdout.write(
        `wrote ${opts.n} ${preset} sample(s) (${r.calls} call(s) of the random part, seed ${opts.seed}, patch ${opts.patch}³) to ${opts.outDir} in ${secs} s\n` +
          `  ${SAMPLE_KEYS[preset].map((k) => `NNNN_${k}.npy`).join(', ')}: float32 (C, X, Y, Z)\n` +
          `  ${r.jsonl}\n`,
      );
    });
}
