import type { Command } from 'commander';
import * as path from 'node:path';
import type { Volume } from '../../core/volume';
import { loadDatalist } from '../../io/datalist';
import { saveNifti } from '../../io/nifti';
import { writePhantomSet } from '../../synth';
import { finetuneValPreprocess, pretrainPreprocess } from '../../transforms/presets';
import { REAL_CT_DIR } from '../shared-data';
import { previewFile } from './preview';

interface DemoOpts {
  out: string;
  seed: number;
  n: number;
}

/**
 * The README's main job, as far as the project goes today: synthetic data → datalists → the tutorial's
 * preprocessing. Training, fine-tuning and the results table join it as they land.
 */
export async function runDemo(opts: DemoOpts, log: (s: string) => void = (s) => process.stdout.write(s + '\n')): Promise<void> {
  const t0 = Date.now();
  const dataDir = path.join(opts.out, 'data');
  log(`1/4 writing ${opts.n} labeled + ${opts.n} unlabeled small phantoms to ${dataDir}`);
  const set = await writePhantomSet({ outDir: dataDir, n: opts.n, unlabeled: opts.n, seed: opts.seed, preset: 'small' });
  log(`    ${set.manifest.volumes.length} volumes; datalists ${path.basename(set.datasetJson)}, ${path.basename(set.unlabeledJson)}`);

  log('2/4 validating the datalists (every file readable, image and label grids equal)');
  const train = await loadDatalist(set.datasetJson, { key: 'training', validate: 'shapes' });
  const val = await loadDatalist(set.datasetJson, { key: 'validation', validate: 'shapes' });
  const unl = await loadDatalist(set.unlabeledJson, { key: 'training', validate: 'files' });
  log(`    fine-tuning: ${train.length} training / ${val.length} validation; pretraining: ${unl.length} volumes`);

  log("3/4 the tutorial's deterministic preprocessing (MONAI-exact)");
  const outDir = path.join(opts.out, 'preprocessed');
  const jobs: Array<{ name: string; run: () => Promise<Record<string, unknown>>; keys: string[] }> = [
    { name: 'pretrain (phantom)', run: () => pretrainPreprocess().one({ image: unl[0].image as string }), keys: ['image'] },
    {
      name: 'finetune-val (phantom)',
      run: () => finetuneValPreprocess().one({ image: train[0].image as string, label: train[0].label as string }),
      keys: ['image', 'label'],
    },
  ];
  if (REAL_CT_DIR) {
    jobs.push({
      name: 'finetune-val (real CT)',
      run: () =>
        finetuneValPreprocess().one({
          image: path.join(REAL_CT_DIR!, 'example_ct_sm.nii.gz'),
          label: path.join(REAL_CT_DIR!, 'example_seg.nii.gz'),
        }),
      keys: ['image', 'label'],
    });
  }
  for (const job of jobs) {
    const t = Date.now();
    const out = await job.run();
    const slug = job.name.replace(/[^a-z]+/gi, '_').replace(/_$/, '');
    for (const k of job.keys) {
      const v = out[k] as Volume;
      await saveNifti(path.join(outDir, `${slug}_${k}.nii.gz`), v.data, [v.shape[1], v.shape[2], v.shape[3]], v.affine, {
        dtype: k === 'label' ? 'uint8' : 'float32',
      });
    }
    const img = out.image as Volume;
    log(`    ${job.name.padEnd(24)} → ${img.shape.slice(1).join('×')} voxels in ${((Date.now() - t) / 1000).toFixed(2)} s`);
  }
  log('4/4 the SSL views and fine-tuning augmentations (figures like the tutorial\'s)');
  for (const [preset, item] of [
    ['pretrain', { image: unl[0].image as string }],
    ['finetune', { image: train[0].image as string, label: train[0].label as string }],
  ] as const) {
    const out = path.join(opts.out, `preview_${preset}.png`);
    await previewFile({ preset, image: item.image, label: 'label' in item ? item.label : undefined, patch: 96, slices: 9, seed: opts.seed, out });
    log(`    ${preset.padEnd(24)} → ${out}`);
  }
  log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s; outputs in ${opts.out}`);
  log('(pretraining, fine-tuning and the results table join this demo as they land; see the README)');
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('The main job on built-in data: phantoms → datalists → preprocessing (training joins as it lands)')
    .option('--out <dir>', 'output folder', 'runs/demo')
    .option('--seed <int>', 'seed for the phantoms', (v) => Number(v), 0)
    .option('--n <count>', 'number of labeled (and of unlabeled) phantoms', (v) => Number(v), 8)
    .addHelpText('after', '\nExample:\n  ssl3d demo --out runs/demo')
    .action(async (opts: DemoOpts) => runDemo(opts));
}
