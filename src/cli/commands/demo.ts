import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { SslDataset, type DataItem } from '../../data/dataset';
import { loadDatalist } from '../../io/datalist';
import type { FinetuneConfig } from '../../train/config';
import { backgroundOnlyDice } from '../../train/validate';
import { pipelineParams } from '../../transforms/pipelines';
import * as path from 'node:path';
import { prepareDemoData } from '../../train/demo_data';
import { runExperiment, type ExperimentConfig } from '../../train/experiment';
import { RunFolder } from '../../train/run_folder';
import { interruptFlag } from '../../train/session';
import { writeReport } from '../../viz/report';
import { REAL_CT_DIR } from '../shared-data';
import { previewFile } from './preview';

export interface DemoOpts {
  out: string;
  seed: number;
  labeled: number;
  unlabeled: number;
  pretrainSteps: number;
  finetuneSteps: number;
  quiet?: boolean;
}

/**
 * The README's main job on built-in data, end to end at CPU scale: phantoms (+ the shared real CT) → datalists →
 * the tutorial's augmentation figure → ViTAutoEnc pretraining → UNETR fine-tuning from random and from pretrained
 * init → the results table and an HTML report per run. Re-running continues an interrupted demo.
 */
export async function runDemo(opts: DemoOpts, log: (s: string) => void = (s) => process.stdout.write(s + '\n')): Promise<void> {
  const t0 = Date.now();
  const out = path.resolve(opts.out);
  const dataDir = path.join(out, 'data');
  log(`1/5 writing ${opts.labeled} labeled + ${opts.unlabeled} unlabeled small phantoms to ${dataDir}`);
  const data = await prepareDemoData({
    outDir: dataDir,
    labeled: opts.labeled,
    unlabeled: opts.unlabeled,
    seed: opts.seed,
    valFraction: 0.2,
    realCt: REAL_CT_DIR ? path.join(REAL_CT_DIR, 'example_ct_sm.nii.gz') : undefined,
  });
  log(
    `    fine-tuning: ${data.numTrain} training / ${data.numVal} validation phantoms; pretraining: ${data.numUnlabeled} unlabeled volumes` +
      (data.realCt ? ' (incl. the shared real CT)' : ''),
  );

  log("2/5 the tutorial's figure: a pretraining crop and its two augmented views");
  const unl = JSON.parse(readFileSync(data.pretrainJson, 'utf8')).training[0].image as string;
  const previewPng = path.join(out, 'preview_pretrain.png');
  await previewFile({ preset: 'pretrain', image: path.resolve(dataDir, unl), patch: 96, slices: 9, seed: opts.seed, out: previewPng });
  log(`    → ${previewPng}`);

  log('3/5 pretraining ViTAutoEnc, then 4/5 fine-tuning UNETR from random and from pretrained init');
  const cfg: ExperimentConfig = {
    kind: 'experiment',
    logdir: out,
    pretrain_config: 'pretrain_cpu_small',
    pretrain_set: [`train.max_steps=${opts.pretrainSteps}`],
    pretrained: null,
    finetune_config: 'finetune_cpu_small',
    finetune_set: [`train.max_steps=${opts.finetuneSteps}`, `train.val_every_steps=${Math.max(1, Math.ceil(opts.finetuneSteps / 2))}`],
    num_train: [data.numTrain],
    seeds: [opts.seed],
    inits: ['random', 'pretrained'],
    phantoms: null,
  };
  const intr = interruptFlag(() => process.stderr.write('\nstopping after this step; run `ssl3d demo` again to continue\n'));
  let result;
  try {
    result = await runExperiment(cfg, { pretrain: data.pretrainSet, finetune: data.finetuneSet }, { quiet: opts.quiet, shouldStop: intr.shouldStop, log });
  } finally {
    intr.release();
  }
  if (intr.shouldStop()) {
    log('interrupted; run the same command again to continue');
    process.exitCode = 130;
    return;
  }

  log('5/5 results table and reports');
  log('\n' + result.table.toMarkdown());
  const ftDir = path.join(out, `ft_n${data.numTrain}_random_s${opts.seed}`);
  const ftConfig = new RunFolder(ftDir).readConfig()?.config as FinetuneConfig | undefined;
  if (ftConfig) {
    const items = (await loadDatalist(data.finetuneJson, { baseDir: dataDir, key: 'validation' })).slice(0, ftConfig.data.max_val ?? undefined) as DataItem[];
    const params = pipelineParams(ftConfig.transforms.patch, { finetunePixdim: ftConfig.transforms.pixdim as [number, number, number] });
    const chance = await backgroundOnlyDice(new SslDataset(items, { name: 'finetune-val', params }), ftConfig.model.out_channels);
    const line = `for reference, predicting background everywhere scores Dice ${(100 * chance).toFixed(2)} on the same validation volumes and metric`;
    log(line);
    await appendFile(result.files.markdown, `\n${line[0].toUpperCase()}${line.slice(1)}.\n`);
  }
  for (const name of ['pretrain', `ft_n${data.numTrain}_random_s${opts.seed}`, `ft_n${data.numTrain}_pretrained_s${opts.seed}`]) {
    const dir = path.join(out, name);
    if (!new RunFolder(dir).readSummary()) continue;
    const r = await writeReport(dir);
    log(`    report: ${r.out}`);
  }
  log(`    table: ${result.files.markdown} (also .csv, .html)`);
  log(`done in ${((Date.now() - t0) / 1000).toFixed(0)} s; everything is in ${out}`);
}

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected a positive integer, got '${v}'`);
  return n;
};

export function register(program: Command): void {
  program
    .command('demo')
    .description('The main job on built-in data: phantoms → pretraining → fine-tuning random vs pretrained → results table and reports (≈10 min on 2 cores)')
    .option('--out <dir>', 'output folder', 'runs/demo')
    .option('--seed <int>', 'seed of the phantoms, the model init and the augmentations', (v) => Number(v), 0)
    .option('--labeled <n>', 'labeled phantoms (20 % go to validation)', int, 10)
    .option('--unlabeled <n>', 'unlabeled phantoms for pretraining', int, 10)
    .option('--pretrain-steps <n>', 'pretraining steps', int, 120)
    .option('--finetune-steps <n>', 'fine-tuning steps per run (validated halfway and at the end)', int, 240)
    .option('--quiet', 'no progress bars')
    .addHelpText('after', '\nRe-running the same command continues an interrupted demo.\n\nExample:\n  ssl3d demo --out runs/demo')
    .action(async (opts: DemoOpts) => runDemo(opts));
}
