/** `ssl3d evaluate`: per-class and mean Dice of a UNETR checkpoint on a datalist split (sliding window, as validation). */
import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { SingleBar } from 'cli-progress';
import { describeBackend, initBackend } from '../../backend/select';
import { SslDataset } from '../../data/dataset';
import { ArgumentError, ConfigError } from '../../errors';
import { writeFileAtomic } from '../../io/atomic';
import { loadDatalist } from '../../io/datalist';
import { loadModel } from '../../nn/load_model';
import type { UNETR } from '../../nn/nets/unetr';
import { BTCV_LABELS } from '../../synth/labels';
import { pipelineParamsFromMetadata } from '../../train/checkpoints';
import { resolveJsonPath } from '../../train/config';
import { validateSegmentation, type SegmentationScores } from '../../train/validate';
import { TUTORIAL_PARAMS } from '../../transforms/pipelines';
import type { DataItem } from '../../data/dataset';

export interface EvaluateOptions {
  model: string;
  jsonPath?: string;
  dataRoot?: string;
  split: string;
  max?: number;
  swBatchSize: number;
  overlap: number;
  arch?: string;
  archJson?: string;
  json?: string;
  quiet?: boolean;
}

/** The run folder's datalist and data_root when MODEL is a run folder (so `ssl3d evaluate RUN` just works). */
function runDefaults(model: string): { jsonPath?: string; dataRoot?: string } {
  const f = path.join(model, 'config.json');
  if (!existsSync(f)) return {};
  const c = JSON.parse(readFileSync(f, 'utf8')).config;
  return { jsonPath: c?.data?.json_path, dataRoot: c?.data?.data_root };
}

export async function runEvaluate(o: EvaluateOptions, log: (s: string) => void = () => undefined): Promise<SegmentationScores & { checkpoint: string }> {
  const d = runDefaults(o.model);
  const jsonIn = o.jsonPath ?? d.jsonPath;
  if (!jsonIn) throw new ArgumentError('--json-path is needed (MODEL is not a run folder with a config.json)');
  const jsonPath = resolveJsonPath(jsonIn);
  const dataRoot = o.dataRoot ?? d.dataRoot ?? path.dirname(jsonPath);
  if (!existsSync(dataRoot)) throw new ConfigError('--data-root', [`'${dataRoot}' does not exist`]);
  const { info } = await initBackend();
  log(describeBackend(info));
  const archConfig = o.archJson ? JSON.parse(readFileSync(o.archJson, 'utf8')) : undefined;
  const { model, report, archConfig: cfg } = await loadModel(o.model, { arch: o.arch, archConfig, requireArch: 'unetr' });
  const items = (await loadDatalist(jsonPath, { baseDir: dataRoot, key: o.split, validate: 'files' })) as DataItem[];
  const list = o.max ? items.slice(0, o.max) : items;
  if (!list.length) throw new ConfigError(jsonPath, [`the '${o.split}' list is empty`]);
  if (list.some((i) => !i.label)) throw new ConfigError(jsonPath, [`every '${o.split}' item needs a label to compute Dice`]);
  const params = pipelineParamsFromMetadata(report.metadata) ?? TUTORIAL_PARAMS;
  const roi = Array.isArray(cfg.img_size) ? (cfg.img_size as number[])[0] : (cfg.img_size as number);
  log(`model ${report.file}; ${list.length} '${o.split}' volumes from ${jsonPath}; preprocessing at ${params.finetunePixdim.join('×')} mm; window ${roi}³`);
  const ds = new SslDataset(list, { name: 'finetune-val', params });
  const bar = o.quiet
    ? null
    : new SingleBar({ format: 'evaluate [{bar}] {value}/{total} volumes | ETA {eta_formatted}', stream: process.stderr, hideCursor: null, clearOnComplete: true });
  bar?.start(list.length, 0);
  try {
    const sc = await validateSegmentation(model as UNETR, ds, {
      roi,
      swBatchSize: o.swBatchSize,
      overlap: o.overlap,
      numClasses: Number(cfg.out_channels),
      onCase: (done) => bar?.update(done),
    });
    return { ...sc, checkpoint: report.file };
  } finally {
    bar?.stop();
    model.dispose();
  }
}

const NAMES = Object.fromEntries(Object.entries(BTCV_LABELS).map(([k, v]) => [v, k]));

export function formatScores(sc: SegmentationScores): string {
  const lines = ['| class | Dice |', '|---|---:|'];
  sc.perClass.forEach((d, c) => lines.push(`| ${c} ${sc.perClass.length === 14 ? NAMES[c] : ''} | ${d.toFixed(4)} |`));
  lines.push(
    '',
    `mean Dice (MONAI DiceMetric, background included, NaN classes skipped): ${sc.meanDice.toFixed(4)}`,
    `tutorial's "mean of running means" (its reported Val Mean Dice):        ${sc.runningMeanDice.toFixed(4)}`,
    '',
    'per volume: ' + sc.perCase.map((c) => `${path.basename(c.file.split(' + ')[0])} ${c.mean.toFixed(4)}`).join(', '),
  );
  return lines.join('\n');
}

export function register(program: Command): void {
  program
    .command('evaluate')
    .description('Per-class and mean Dice of a UNETR checkpoint on a datalist split (sliding window, as validation)')
    .argument('<model>', 'run folder (uses its best checkpoint and datalist) or checkpoint file (.safetensors, .pt/.pth with --arch-json)')
    .option('--json-path <file>', 'datalist JSON (default: the run folder\'s)')
    .option('--data-root <dir>', 'folder the datalist paths are relative to (default: the run folder\'s, else the JSON\'s folder)')
    .option('--split <key>', 'datalist key', 'validation')
    .option('--max <n>', 'only the first n volumes', (v) => Number(v))
    .option('--sw-batch-size <n>', 'windows per forward pass', (v) => Number(v), 4)
    .option('--overlap <f>', 'sliding-window overlap', (v) => Number(v), 0.25)
    .option('--arch <name>', 'architecture for a .pt/.pth without metadata (unetr)')
    .option('--arch-json <file>', 'MONAI constructor arguments for a .pt/.pth without metadata')
    .option('--json <file>', 'also write the scores as JSON')
    .option('--quiet', 'no progress bar')
    .addHelpText('after', '\nExamples:\n  ssl3d evaluate runs/demo/ft_n8_pretrained_s0\n  ssl3d evaluate best_metric_model.pth --arch unetr --arch-json unetr.json --json-path dataset_0.json --data-root /data/BTCV')
    .action(async (model: string, o: EvaluateOptions) => {
      const sc = await runEvaluate({ ...o, model }, (s) => process.stderr.write(s + '\n'));
      process.stdout.write(formatScores(sc) + '\n');
      if (o.json) await writeFileAtomic(o.json, JSON.stringify(sc, (_k, v) => (typeof v === 'number' && Number.isNaN(v) ? null : v), 1) + '\n');
    });
}
