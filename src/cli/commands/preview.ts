import { InvalidArgumentError, type Command } from 'commander';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Volume } from '../../core/volume';
import { ArgumentError } from '../../errors';
import type { Draw } from '../../transforms/core/randomizable';
import { DRAWS_KEY } from '../../transforms/core/randomizable';
import { buildFigure, figureHtml, figurePlotlySpec, type Figure, type FigureRow } from '../../viz/figures';
import type { Window } from '../../viz/image';
import { encodePng, writeFileAtomic } from '../../viz/png';
import type { SliceOrientation } from '../../viz/slices';
import { callSeed, drawSamples, parsePatch, parsePreset, prepareSampler, type AugmentPreset } from './augment';
import { parseCount, parseSeed } from './synth';

export interface PreviewOptions {
  preset: AugmentPreset;
  image: string;
  label?: string;
  patch: number;
  slices: number;
  seed: number;
  out: string;
  /** Grey window; default 0..1 (both presets scale intensities to [0, 1]). null = min/max of the data. */
  window?: Window | null;
  orientation?: SliceOrientation;
  scale?: number;
}

export interface PreviewResult {
  figure: Figure;
  out: string;
  format: 'png' | 'html' | 'json';
  bytes: number;
  padded: boolean;
  unpaddedShape: [number, number, number];
  draws: Draw[];
}

function outFormat(file: string): 'png' | 'html' | 'json' {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.png') return 'png';
  if (ext === '.html' || ext === '.htm') return 'html';
  if (ext === '.json') return 'json';
  throw new ArgumentError(`${file}: --out must end in .png, .html or .json (plotly spec)`);
}

/** Preprocess one volume, draw one random call (seed as `augment`'s call 0), and write the figure of its first sample. */
export async function previewFile(o: PreviewOptions): Promise<PreviewResult> {
  const format = outFormat(o.out);
  const s = await prepareSampler(o.preset, o.image, o.label, o.patch);
  const [sample] = await drawSamples(s, callSeed(o.seed, 0));
  const v = (k: string) => sample[k] as Volume;
  const rows: FigureRow[] =
    o.preset === 'pretrain'
      ? [
          { name: 'Original patch', volume: v('gt_image') },
          { name: 'Augmented view 1', volume: v('image') },
          { name: 'Augmented view 2', volume: v('image_2') },
        ]
      : [
          { name: 'Image crop', volume: v('image') },
          { name: 'Label crop', volume: v('label'), kind: 'label' },
        ];
  const figure = buildFigure(rows, {
    slices: o.slices,
    window: o.window === null ? undefined : (o.window ?? { min: 0, max: 1 }),
    orientation: o.orientation,
    scale: o.scale,
    title: `${o.preset === 'pretrain' ? 'Pretraining augmented views' : 'Fine-tuning sample'} — ${path.basename(o.image)}, patch ${o.patch}³, seed ${o.seed}`,
  });
  await fsp.mkdir(path.dirname(path.resolve(o.out)), { recursive: true });
  let bytes: Uint8Array | string;
  if (format === 'json') bytes = JSON.stringify(figurePlotlySpec(figure));
  else {
    const png = encodePng(figure.image);
    if (format === 'png') bytes = png;
    else {
      const orient = figure.orientation === 'matshow' ? 'rows = X, columns = Y (matshow3d of (C, X, Y, Z), frame_dim=-1)' : 'radiological (anterior up, patient right on the left)';
      const caption =
        `Axial slices z = ${figure.zIndices.join(', ')} of the ${s.shape.join('×')} preprocessed volume's first random sample; ` +
        `orientation: ${orient}; grey window ${figure.window.min}..${figure.window.max}` +
        (s.padded ? `; the preprocessed volume (${s.unpaddedShape.join('×')}) was zero-padded to the patch` : '') +
        '.';
      bytes = figureHtml(figure, png, caption);
    }
  }
  await writeFileAtomic(o.out, bytes);
  return { figure, out: o.out, format, bytes: typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.length, padded: s.padded, unpaddedShape: s.unpaddedShape, draws: (sample[DRAWS_KEY] as Draw[]) ?? [] };
}

function parseWindow(v: string): Window | null {
  if (v === 'auto') return null;
  const m = /^\s*(-?[\d.eE+-]+)\s*,\s*(-?[\d.eE+-]+)\s*$/.exec(v);
  const a = m ? Number(m[1]) : NaN;
  const b = m ? Number(m[2]) : NaN;
  if (!(Number.isFinite(a) && Number.isFinite(b) && b > a)) throw new InvalidArgumentError(`expected 'auto' or MIN,MAX with MIN < MAX, got '${v}'`);
  return { min: a, max: b };
}

export function register(program: Command): void {
  program
    .command('preview')
    .description("Figure of one random training sample, like the tutorial's SSL_Different_Augviews.png (PNG, HTML or plotly JSON)")
    .requiredOption('--preset <name>', 'pretrain (rows: original patch, view 1, view 2) or finetune (rows: image crop, label crop)')
    .requiredOption('--image <file>', 'input CT (.nii/.nii.gz)')
    .option('--label <file>', 'label map (finetune only; required there)')
    .option('--patch <size>', 'cubic patch size', parsePatch, 96)
    .option('--slices <n>', 'number of evenly spaced axial slices (columns)', (v: string) => {
      const n = parseCount(v);
      if (n < 1) throw new InvalidArgumentError('need at least 1 slice');
      return n;
    }, 9)
    .option('--seed <seed>', 'seed (the sample is sample 0000 of `ssl3d augment --seed S`)', parseSeed, 0)
    .option('--window <min,max|auto>', 'grey window for image rows (intensities are already scaled to 0..1)', parseWindow, { min: 0, max: 1 } as Window | null)
    .option('--orientation <o>', 'matshow (rows = X, cols = Y, like matshow3d frame_dim=-1) or radiological (anterior up, patient right on the left)', 'matshow')
    .option('--scale <k>', 'integer upscaling of each tile (default: ~192 px per tile)', (v: string) => {
      const n = parseCount(v);
      if (n < 1) throw new InvalidArgumentError('scale must be ≥ 1');
      return n;
    })
    .requiredOption('--out <file>', 'output: .png (clean grid, grey separators, no text), .html (PNG inlined + row/column labels), .json (plotly spec)')
    .addHelpText('after', '\nExample:\n  ssl3d preview --preset pretrain --image ct.nii.gz --patch 96 --seed 0 --out preview.html')
    .action(async (opts: { preset: string; image: string; label?: string; patch: number; slices: number; seed: number; window: Window | null; orientation: string; scale?: number; out: string }) => {
      const preset = parsePreset(opts.preset);
      if (opts.orientation !== 'matshow' && opts.orientation !== 'radiological') throw new ArgumentError(`unknown orientation '${opts.orientation}'; use matshow or radiological`);
      const r = await previewFile({ ...opts, preset, orientation: opts.orientation });
      const f = r.figure;
      if (r.padded) {
        process.stdout.write(`note: preprocessed volume ${r.unpaddedShape.join('×')} is smaller than the ${opts.patch}³ patch; zero-padded to the patch (finetunePadToPatch)\n`);
      }
      const oneOf = r.draws.filter((d) => d.transform === 'OneOf').map((d) => (d.index === 0 ? 'inner cutout' : 'outer cutout'));
      process.stdout.write(
        `wrote ${r.out} (${r.format}, ${f.image.width}×${f.image.height} px, ${r.bytes} bytes)\n` +
          `  rows: ${f.rowLabels.join(' / ')}\n` +
          `  columns: axial slices z = ${f.zIndices.join(', ')} of ${f.rows[0].slices[0].rows}×${f.rows[0].slices[0].cols} (orientation ${f.orientation}, scale ${f.scale}×, window ${f.window.min}..${f.window.max})\n` +
          (oneOf.length ? `  views: ${oneOf.join(', ')}\n` : ''),
      );
    });
}
