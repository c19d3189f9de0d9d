import { InvalidArgumentError, type Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { readFileSync } from 'node:fs';
import { describeBackend, initBackend } from '../../backend/select';
import { det3, linear } from '../../core/affine';
import { ArgumentError, ConfigError } from '../../errors';
import { labelCounts, segmentVolume, type SegmentResult } from '../../inference/segment';
import { saveNifti } from '../../io/nifti';
import { loadModel } from '../../nn/load_model';
import { pipelineParamsFromMetadata } from '../../train/checkpoints';
import { TUTORIAL_PARAMS } from '../../transforms/pipelines';
import { UNETR } from '../../nn/nets/unetr';
import { BTCV_LABEL_NAMES } from '../../synth/labels';
import { parseFraction } from './synth';

export interface SegmentCliOptions {
  model: string;
  input: string;
  output: string;
  arch?: string;
  archJson?: string;
  swBatchSize?: number;
  overlap?: number;
  quiet?: boolean;
}

export interface SegmentSummary {
  output: string;
  backend: string;
  checkpoint: string;
  shape: [number, number, number];
  numClasses: number;
  windows: number;
  /** Voxels per class id, 0..numClasses−1. */
  voxels: number[];
  /** Millilitres per class id. */
  volumesMl: number[];
  timings: SegmentResult['timings'];
}

function parsePositiveInt(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got '${v}'`);
  return n;
}

function readArchJson(file: string): Record<string, unknown> {
  let cfg: unknown;
  try {
    cfg = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(file, [(e as Error).message]);
  }
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw new ConfigError(file, ['must be a JSON object of MONAI constructor arguments']);
  return cfg as Record<string, unknown>;
}

/**
 * `ssl3d segment`: load a UNETR checkpoint, segment `input` (validation preprocessing → sliding window → argmax →
 * back onto the input grid) and write a uint8 label map with the input's shape and affine.
 * `log` gets the backend line and notes; `onProgress` the windows done.
 */
export async function runSegment(
  o: SegmentCliOptions,
  log: (s: string) => void = () => undefined,
  onProgress?: (done: number, total: number) => void,
): Promise<SegmentSummary> {
  if (!/\.nii(\.gz)?$/i.test(o.output)) throw new ArgumentError(`--output must end in .nii or .nii.gz, got '${o.output}'`);
  const archConfig = o.archJson ? readArchJson(o.archJson) : undefined;
  const { info } = await initBackend();
  const backend = describeBackend(info);
  log(backend);
  const { model, report, archConfig: cfg } = await loadModel(o.model, { arch: o.arch, archConfig, requireArch: 'unetr' });
  try {
    log(
      `model: unetr ${JSON.stringify(cfg)} from ${report.file} (${report.loaded.length} tensors` +
        (report.ignored.length ? `, ${report.ignored.length} unused ignored` : '') +
        `; architecture from ${report.archSource})`,
    );
    const params = pipelineParamsFromMetadata(report.metadata) ?? TUTORIAL_PARAMS;
    const pd = params.finetunePixdim.join('×');
    const r = await segmentVolume(o.input, model as UNETR, {
      params,
      swBatchSize: o.swBatchSize ?? 4,
      overlap: o.overlap ?? 0.25,
      onProgress: (stage, done, total) => {
        if (stage === 'preprocess' && done === 0) log(`preprocessing ${o.input} (${params.axcodes}, ${pd} mm, HU ${params.finetuneWindow.join('..')}, crop foreground)`);
        if (stage === 'inference') onProgress?.(done, total);
      },
    });
    for (const w of r.warnings) log(`note: ${w}`);
    const [, X, Y, Z] = r.labels.shape;
    await saveNifti(o.output, r.labels.data, [X, Y, Z], r.labels.affine, { dtype: 'uint8', description: 'ssl3d segment' });
    const voxels = labelCounts(r.labels.data, Math.max(r.numClasses, 1));
    const ml = Math.abs(det3(linear(r.labels.affine))) / 1000;
    return {
      output: o.output,
      backend,
      checkpoint: report.file,
      shape: [X, Y, Z],
      numClasses: r.numClasses,
      windows: r.windows,
      voxels,
      volumesMl: voxels.map((v) => v * ml),
      timings: r.timings,
    };
  } finally {
    model.dispose();
  }
}

/** The summary table: class id, name (BTCV names for 14 classes), voxels, mL. */
export function formatSummary(s: SegmentSummary): string {
  const names = s.numClasses === BTCV_LABEL_NAMES.length ? BTCV_LABEL_NAMES : null;
  const t = s.timings;
  const lines = [
    `wrote ${s.output} (${s.shape.join('×')} uint8, the input's grid; ${s.numClasses} classes, ${s.windows} windows; ` +
      `${(t.totalMs / 1000).toFixed(1)} s: preprocess ${(t.preprocessMs / 1000).toFixed(1)}, inference ${(t.inferenceMs / 1000).toFixed(1)}, ` +
      `postprocess ${(t.postprocessMs / 1000).toFixed(1)})`,
    '  label  name              voxels        mL',
  ];
  s.voxels.forEach((v, k) => {
    if (v === 0 && k >= s.numClasses) return;
    lines.push(`  ${String(k).padStart(5)}  ${(names?.[k] ?? '').padEnd(12)} ${String(v).padStart(12)} ${s.volumesMl[k].toFixed(1).padStart(9)}`);
  });
  return lines.join('\n') + '\n';
}

export function register(program: Command): void {
  program
    .command('segment')
    .summary('Segment a CT volume with a UNETR checkpoint; writes a label map on the input grid')
    .description(
      'Segment a CT volume with a fine-tuned UNETR: the tutorial\'s validation preprocessing (RAS, 1.5×1.5×2 mm, ' +
        'HU −175..250 → [0, 1], crop foreground), sliding-window inference (window = the model\'s img_size, overlap ' +
        '0.25, constant blending), argmax, then nearest-neighbour resampling back onto the input grid. The output is ' +
        'a uint8 NIfTI with the input\'s shape and affine, so it overlays the input in ITK-SNAP or 3D Slicer.',
    )
    .argument('<model>', 'UNETR checkpoint: .safetensors written by ssl3d (architecture in its metadata or <name>.json ' +
      'sidecar), a run directory (uses checkpoints/best.safetensors, else last), or a .pt/.pth with --arch/--arch-json')
    .argument('<input>', 'CT volume, .nii or .nii.gz (HU)')
    .requiredOption('-o, --output <file>', 'label map to write (.nii.gz or .nii, uint8)')
    .option('--arch <name>', 'architecture when the checkpoint does not say (MONAI .pt/.pth): unetr')
    .option('--arch-json <file>', 'JSON object of MONAI constructor arguments, e.g. {"in_channels":1,"out_channels":14,"img_size":[96,96,96],"feature_size":16}')
    .option('--sw-batch-size <n>', 'windows per forward pass', parsePositiveInt, 4)
    .option('--overlap <f>', 'overlap of neighbouring windows, in [0, 1)', parseFraction, 0.25)
    .option('--quiet', 'no progress bar')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  ssl3d segment runs/finetune ct.nii.gz -o ct_seg.nii.gz\n' +
        '  ssl3d segment best_metric_model.pth ct.nii.gz -o ct_seg.nii.gz --arch unetr --arch-json unetr.json',
    )
    .action(async (model: string, input: string, opts: Omit<SegmentCliOptions, 'model' | 'input'>) => {
      const bar = opts.quiet
        ? null
        : new SingleBar({
            format: 'segment [{bar}] {value}/{total} windows | {duration_formatted} elapsed | ETA {eta_formatted}',
            stream: process.stderr,
            hideCursor: null,
            clearOnComplete: false,
          });
      let started = false;
      let s: SegmentSummary;
      try {
        s = await runSegment(
          { ...opts, model, input },
          (line) => process.stderr.write(line + '\n'),
          (done, total) => {
            if (!started) ((started = true), bar?.start(total, done));
            else bar?.update(done);
          },
        );
      } finally {
        if (started) bar?.stop();
      }
      process.stdout.write(formatSummary(s));
    });
}
