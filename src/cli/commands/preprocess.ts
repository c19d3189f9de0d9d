import type { Command } from 'commander';
import * as path from 'node:path';
import type { Volume } from '../../core/volume';
import { ArgumentError, ShapeMismatchError } from '../../errors';
import { saveNifti, type NiftiImage, type WritableDtype } from '../../io/nifti';
import { Compose, type Data } from '../../transforms/core/transform';
import { PREPROCESS_PRESETS, preprocessPreset, type PreprocessPreset } from '../../transforms/presets';

/** The smallest NIfTI datatype that holds a label map exactly. */
export function labelDtype(data: Float32Array): WritableDtype {
  let min = Infinity,
    max = -Infinity,
    integral = true;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < min) min = v;
    if (v > max) max = v;
    if (integral && v !== Math.round(v)) integral = false;
  }
  if (!integral) return 'float32';
  if (min >= 0 && max <= 255) return 'uint8';
  if (min >= -32768 && max <= 32767) return 'int16';
  return 'float32';
}

export interface PreprocessResult {
  image: Volume;
  label?: Volume;
  files: string[];
}

/** Run a preset's deterministic chain on one image (and label) and write `image.nii.gz` (and `label.nii.gz`). */
export async function preprocessFiles(preset: PreprocessPreset, image: string, label: string | undefined, outDir: string): Promise<PreprocessResult> {
  if (label && preset === 'pretrain') throw new ArgumentError("the 'pretrain' preset has no label; drop --label or use --preset finetune-val");
  const [load, ...rest] = preprocessPreset(preset).transforms;
  let out = (await load.call(label ? { image, label } : { image })) as Data;
  if (label) {
    const a = out.image as NiftiImage;
    const b = out.label as NiftiImage;
    if (a.shape.some((s, i) => s !== b.shape[i])) throw new ShapeMismatchError(`label ${label} vs image ${image}`, a.shape, b.shape);
  }
  out = await new Compose(rest).one(out);
  const img = out.image as Volume;
  const files: string[] = [];
  const sp = (v: Volume) => [v.shape[1], v.shape[2], v.shape[3]] as [number, number, number];
  const imgFile = path.join(outDir, 'image.nii.gz');
  await saveNifti(imgFile, img.data, sp(img), img.affine, { dtype: 'float32' });
  files.push(imgFile);
  let lab: Volume | undefined;
  if (label) {
    lab = out.label as Volume;
    const labFile = path.join(outDir, 'label.nii.gz');
    await saveNifti(labFile, lab.data, sp(lab), lab.affine, { dtype: labelDtype(lab.data) });
    files.push(labFile);
  }
  return { image: img, label: lab, files };
}

export function register(program: Command): void {
  program
    .command('preprocess')
    .description("Run the tutorial's deterministic preprocessing (MONAI-exact) on one volume and write the result")
    .requiredOption('--preset <name>', `pretrain (2 mm, HU −57..164, crop foreground, pad 96³) or finetune-val (RAS, 1.5×1.5×2 mm, HU −175..250, crop foreground)`)
    .requiredOption('--image <file>', 'input CT (.nii/.nii.gz)')
    .option('--label <file>', 'label map on the same grid (finetune-val only); resampled with nearest neighbour')
    .requiredOption('--out-dir <dir>', 'output folder for image.nii.gz (float32) and label.nii.gz')
    .addHelpText('after', '\nExample:\n  ssl3d preprocess --preset finetune-val --image ct.nii.gz --label seg.nii.gz --out-dir out/')
    .action(async (opts: { preset: string; image: string; label?: string; outDir: string }) => {
      if (!PREPROCESS_PRESETS.includes(opts.preset as PreprocessPreset)) {
        throw new ArgumentError(`unknown preset '${opts.preset}'; use one of ${PREPROCESS_PRESETS.join(', ')}`);
      }
      const t0 = Date.now();
      const r = await preprocessFiles(opts.preset as PreprocessPreset, opts.image, opts.label, opts.outDir);
      const s = r.image.shape.slice(1).join('×');
      process.stdout.write(`preprocessed (${opts.preset}) ${opts.image} → ${s} voxels in ${((Date.now() - t0) / 1000).toFixed(2)} s\n`);
      for (const f of r.files) process.stdout.write(`  wrote ${f}\n`);
    });
}
