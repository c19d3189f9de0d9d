/** `ssl3d results`: run (or continue) the random-vs-pretrained grid and write the tutorial's table. */
import type { Command } from 'commander';
import * as path from 'node:path';
import { prepareDemoData } from '../../train/demo_data';
import { loadExperimentConfig, runExperiment, writeResults } from '../../train/experiment';
import { interruptFlag } from '../../train/session';
import { REAL_CT_DIR } from '../shared-data';

interface ResultsCliOptions {
  config: string;
  logdir?: string;
  set: string[];
  pretrainSet: string[];
  finetuneSet: string[];
  collect?: string;
  quiet?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

export async function runResultsCommand(o: ResultsCliOptions, log: (s: string) => void = (s) => process.stdout.write(s + '\n')): Promise<void> {
  if (o.collect) {
    const r = await writeResults(path.resolve(o.collect));
    log(r.table.toMarkdown());
    log(`wrote ${r.files.markdown}, ${r.files.csv}, ${r.files.html}`);
    return;
  }
  const cfg = loadExperimentConfig(o.config, o.set, o.logdir);
  const data = { pretrain: [...o.pretrainSet], finetune: [...o.finetuneSet] };
  if (cfg.phantoms) {
    const p = cfg.phantoms;
    const d = await prepareDemoData({
      outDir: path.join(path.resolve(cfg.logdir), 'data'),
      labeled: p.labeled,
      unlabeled: p.unlabeled,
      seed: p.seed,
      valFraction: p.val_fraction,
      realCt: p.real_ct && REAL_CT_DIR ? path.join(REAL_CT_DIR, 'example_ct_sm.nii.gz') : undefined,
    });
    log(`data: ${d.numTrain} labeled training + ${d.numVal} validation phantoms; ${d.numUnlabeled} unlabeled volumes${d.realCt ? ' (incl. the shared real CT)' : ''}`);
    const tooBig = cfg.num_train.filter((n) => n > d.numTrain);
    if (tooBig.length) log(`warning: num_train ${tooBig.join(', ')} > the ${d.numTrain} labeled training volumes; those runs use all of them`);
    data.pretrain.unshift(...d.pretrainSet);
    data.finetune.unshift(...d.finetuneSet);
  }
  const intr = interruptFlag(() => process.stderr.write('\nstopping after this step; run the same command again to continue\n'));
  try {
    const r = await runExperiment(cfg, data, { quiet: o.quiet, shouldStop: intr.shouldStop, log });
    log('\n' + r.table.toMarkdown());
    log(`wrote ${r.files.markdown}, ${r.files.csv}, ${r.files.html}`);
  } finally {
    intr.release();
  }
}

export function register(program: Command): void {
  program
    .command('results')
    .description("The tutorial's table: fine-tune random vs pretrained for each labeled-set size and seed; best Dice, mean ± std, improvement")
    .option('-c, --config <preset|file>', 'experiment config (preset experiment_cpu or a JSON file)', 'experiment_cpu')
    .option('--logdir <dir>', 'where the runs and the table go (overrides the config)')
    .option('--set <key=value>', 'override a top-level experiment value, e.g. --set seeds=[0,1] (repeatable)', collect, [])
    .option('--pretrain-set <key=value>', 'override in the pretraining config, e.g. train.max_steps=400 (repeatable)', collect, [])
    .option('--finetune-set <key=value>', 'override in the fine-tuning config (repeatable)', collect, [])
    .option('--collect <dir>', 'only tabulate the finished runs under DIR (no training)')
    .option('--quiet', 'no progress bars')
    .addHelpText(
      'after',
      '\nRe-running the same command skips finished runs and resumes unfinished ones.\n' +
        '\nExamples:\n' +
        '  ssl3d results                                   # the CPU experiment on phantoms (+ the shared real CT)\n' +
        '  ssl3d results --set seeds=[0] --set num_train=[4] --logdir runs/quick\n' +
        '  ssl3d results --collect runs/experiment_cpu      # table of what has finished',
    )
    .action((o: ResultsCliOptions) => runResultsCommand(o));
}
