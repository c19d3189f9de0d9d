/** `ssl3d pretrain` and `ssl3d finetune`: a config (preset or file) + overrides → a run folder. */
import type { Command } from 'commander';
import type { BackendName } from '../../backend/select';
import { ArgumentError } from '../../errors';
import { listPresets, loadConfig, type FinetuneConfig, type PretrainConfig } from '../../train/config';
import { finetune } from '../../train/finetune';
import { pretrain, type TrainResult } from '../../train/pretrain';
import { interruptFlag } from '../../train/session';

interface TrainCliOptions {
  config: string;
  set: string[];
  dataRoot?: string;
  jsonPath?: string;
  logdir?: string;
  seed?: number;
  maxSteps?: number;
  resume?: boolean;
  quiet?: boolean;
  backend?: BackendName;
  ignoreMemoryEstimate?: boolean;
  pretrained?: string;
  init?: 'random' | 'pretrained';
  numTrain?: number;
}

const collect = (v: string, prev: string[]) => [...prev, v];
const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new ArgumentError(`${name} must be a non-negative integer, got '${v}'`);
  return n;
};

function common(cmd: Command, kind: 'pretrain' | 'finetune'): Command {
  return cmd
    .option('-c, --config <preset|file>', `a preset (${listPresets().filter((p) => p.startsWith(kind)).join(', ')}) or a JSON config file`, `${kind}_cpu_small`)
    .option('--data-root <dir>', 'data.data_root: the folder the datalist paths are relative to')
    .option('--json-path <file>', 'data.json_path: the datalist JSON')
    .option('--logdir <dir>', 'the run folder (config, metrics.jsonl, checkpoints, log)')
    .option('--seed <int>', 'seed of the model init, data order and augmentations', int('--seed'))
    .option('--max-steps <int>', 'train.max_steps', int('--max-steps'))
    .option('--set <key=value>', 'override any config value, e.g. --set train.lr=3e-4 (repeatable)', collect, [])
    .option('--resume', 'continue the run in --logdir from its last checkpoint')
    .option('--quiet', 'no progress bar (the run folder still gets the full log)')
    .option('--backend <name>', 'native | native-gpu | wasm | cpu | webgpu (default: the best available, or $SSL3D_BACKEND)')
    .option('--ignore-memory-estimate', 'train even when the memory estimate exceeds this machine');
}

function overrides(o: TrainCliOptions): Array<[string[], unknown]> {
  const out: Array<[string[], unknown]> = [
    [['data', 'data_root'], o.dataRoot],
    [['data', 'json_path'], o.jsonPath],
    [['logdir'], o.logdir],
    [['seed'], o.seed],
    [['train', 'max_steps'], o.maxSteps],
    [['data', 'max_train'], o.numTrain],
  ];
  if (o.pretrained) out.push([['pretrained'], o.pretrained], [['init'], o.init ?? 'pretrained']);
  else if (o.init) out.push([['init'], o.init]);
  return out;
}

async function run(kind: 'pretrain' | 'finetune', o: TrainCliOptions): Promise<void> {
  const { config, file } = loadConfig(o.config, { set: o.set, overrides: overrides(o) });
  if (config.kind !== kind) throw new ArgumentError(`${file} is a '${config.kind}' config; use 'ssl3d ${config.kind}'`);
  const intr = interruptFlag(() => process.stderr.write('\nstopping after this step (saving a checkpoint); Ctrl-C again to quit at once\n'));
  let r: TrainResult;
  try {
    const opts = {
      resume: o.resume,
      quiet: o.quiet,
      backend: o.backend,
      ignoreMemoryEstimate: o.ignoreMemoryEstimate,
      shouldStop: intr.shouldStop,
      command: ['ssl3d', ...process.argv.slice(2)].join(' '),
    };
    r = kind === 'pretrain' ? await pretrain(config as PretrainConfig, opts) : await finetune(config as FinetuneConfig, opts);
  } finally {
    intr.release();
  }
  const s = r.summary;
  const metric = s.best_metric === null ? '–' : s.best_metric.toFixed(4);
  process.stdout.write(
    `${s.status}: ${s.steps} steps in ${s.seconds.toFixed(0)} s; best ${kind === 'pretrain' ? 'validation L1' : 'validation Dice'} ${metric} at step ${s.best_step}\nrun folder: ${r.runDir}\n`,
  );
  if (s.status === 'interrupted') process.exitCode = 130;
}

export function registerPretrain(program: Command): void {
  common(program.command('pretrain'), 'pretrain')
    .description('Self-supervised pretraining of ViTAutoEnc (two augmented views, L1 + contrastive loss)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  ssl3d pretrain                                   # small CPU preset on the demo phantoms (run `ssl3d demo` first)\n' +
        '  ssl3d pretrain -c pretrain_tutorial --data-root /data/TCIA_COVID19 --logdir runs/ssl\n' +
        '  ssl3d pretrain -c pretrain_tutorial --logdir runs/ssl --resume      # continue after a stop\n' +
        '\nCtrl-C saves a checkpoint and exits; --resume continues bit-identically.',
    )
    .action((o: TrainCliOptions) => run('pretrain', o));
}

export function registerFinetune(program: Command): void {
  common(program.command('finetune'), 'finetune')
    .description('Fine-tune UNETR for segmentation (DiceCE, sliding-window Dice validation), random or pretrained init')
    .option('--pretrained <file>', 'ViTAutoEnc checkpoint to take the backbone from (.safetensors from ssl3d pretrain, or the tutorial\'s .pt)')
    .option('--init <random|pretrained>', 'initialisation (default from the config; --pretrained implies pretrained)')
    .option('--num-train <n>', 'use only the first n training volumes (data.max_train)', int('--num-train'))
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  ssl3d finetune --logdir runs/ft_random\n' +
        '  ssl3d finetune --pretrained runs/pretrain_cpu_small/checkpoints/best.safetensors --logdir runs/ft_pre\n' +
        '  ssl3d finetune -c finetune_tutorial --data-root /data/BTCV --pretrained vitautoenc_weights.pt',
    )
    .action((o: TrainCliOptions) => run('finetune', o));
}
