/**
 * The tutorial's experiment at any scale: pretrain once on unlabeled volumes, then fine-tune UNETR for every
 * (labeled-set size × init × seed) and tabulate best validation Dice, random vs pretrained (spec §5.2's table).
 *
 * Resumable as a whole: finished runs (summary.json with status 'completed') are skipped, unfinished ones resumed,
 * so re-running the same command after a stop continues where it was. Everything lands in `logdir`:
 * `pretrain/`, `ft_n<N>_<init>_s<seed>/`, `results.md`, `results.csv`, `results.html`.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors';
import { writeFileAtomic } from '../io/atomic';
import { escapeHtml, jsonForScript, plotlySource, scriptSafe } from '../viz/report';
import { loadConfig, resolveConfigPath, type FinetuneConfig, type PretrainConfig } from './config';
import { finetune } from './finetune';
import { pretrain } from './pretrain';
import { collectResults, findRunDirs, resultsBarChartSpec, resultsTable, type ResultsTable } from './results';
import { RunFolder } from './run_folder';
import type { TrainOptions } from './session';

const ExperimentSchema = z.strictObject({
  kind: z.literal('experiment'),
  logdir: z.string().min(1),
  /** Preset or file of the pretraining config, and `key=value` overrides for it. */
  pretrain_config: z.string().default('pretrain_cpu_small'),
  pretrain_set: z.array(z.string()).default([]),
  /** Use this ViTAutoEnc checkpoint instead of pretraining (e.g. the tutorial's vitautoenc_weights.pt). */
  pretrained: z.string().nullable().default(null),
  finetune_config: z.string().default('finetune_cpu_small'),
  finetune_set: z.array(z.string()).default([]),
  /** Labeled-set sizes (data.max_train). */
  num_train: z.array(z.number().int().positive()).min(1),
  seeds: z.array(z.number().int().min(0)).min(1),
  inits: z.array(z.enum(['random', 'pretrained'])).min(1).default(['random', 'pretrained']),
  /** Generate phantom data into `<logdir>/data` (plus the shared real CT for pretraining) instead of the configs' data. */
  phantoms: z
    .strictObject({
      labeled: z.number().int().min(2),
      unlabeled: z.number().int().min(2),
      val_fraction: z.number().gt(0).lt(1).default(0.25),
      seed: z.number().int().min(0).default(0),
      real_ct: z.boolean().default(true),
    })
    .nullable()
    .default(null),
});
export type ExperimentConfig = z.infer<typeof ExperimentSchema>;

export function loadExperimentConfig(nameOrPath: string, set: string[] = [], logdir?: string): ExperimentConfig {
  const file = resolveConfigPath(nameOrPath);
  const raw = JSON.parse(readFileSync(file, 'utf8'));
  for (const s of set) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new ConfigError('--set', [`'${s}' is not key=value`]);
    const v = s.slice(eq + 1);
    try {
      raw[s.slice(0, eq)] = JSON.parse(v);
    } catch {
      raw[s.slice(0, eq)] = v;
    }
  }
  if (logdir) raw.logdir = logdir;
  const r = ExperimentSchema.safeParse(raw);
  if (!r.success) throw new ConfigError(file, r.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`));
  return r.data;
}

export interface ExperimentData {
  /** Overrides for the pretraining config (data_root, json_path) and the fine-tuning config. */
  pretrain: string[];
  finetune: string[];
}

export interface ExperimentResult {
  table: ResultsTable;
  files: { markdown: string; csv: string; html: string };
}

function completed(dir: string): boolean {
  return new RunFolder(dir).readSummary()?.status === 'completed';
}

/** Run (or continue) the experiment; `data` points the two configs at the data. */
export async function runExperiment(cfg: ExperimentConfig, data: ExperimentData, opts: TrainOptions & { onRun?: (name: string, i: number, n: number) => void } = {}): Promise<ExperimentResult> {
  const root = path.resolve(cfg.logdir);
  const say = opts.log ?? (opts.quiet ? () => undefined : (s: string) => process.stdout.write(s + '\n'));
  const jobs: Array<{ name: string; run: () => Promise<unknown> }> = [];
  let pretrained = cfg.pretrained;
  if (cfg.inits.includes('pretrained') && !pretrained) {
    const dir = path.join(root, 'pretrain');
    pretrained = path.join(dir, 'checkpoints', 'best.safetensors');
    jobs.push({
      name: 'pretrain',
      run: async () => {
        const { config } = loadConfig(cfg.pretrain_config, { set: [...data.pretrain, ...cfg.pretrain_set], overrides: [[['logdir'], dir]] });
        if (config.kind !== 'pretrain') throw new ConfigError(cfg.pretrain_config, ['is not a pretraining config']);
        await pretrain(config as PretrainConfig, { ...opts, resume: existsSync(dir) });
      },
    });
  }
  for (const n of cfg.num_train) {
    for (const seed of cfg.seeds) {
      for (const init of cfg.inits) {
        const name = `ft_n${n}_${init}_s${seed}`;
        const dir = path.join(root, name);
        jobs.push({
          name,
          run: async () => {
            const overrides: Array<[string[], unknown]> = [
              [['logdir'], dir],
              [['seed'], seed],
              [['data', 'max_train'], n],
              [['init'], init],
              [['pretrained'], init === 'pretrained' ? pretrained : null],
            ];
            const { config } = loadConfig(cfg.finetune_config, { set: [...data.finetune, ...cfg.finetune_set], overrides });
            if (config.kind !== 'finetune') throw new ConfigError(cfg.finetune_config, ['is not a fine-tuning config']);
            await finetune(config as FinetuneConfig, { ...opts, resume: existsSync(dir) });
          },
        });
      }
    }
  }
  for (let i = 0; i < jobs.length; i++) {
    const j = jobs[i];
    const dir = path.join(root, j.name);
    if (completed(dir)) {
      say(`[${i + 1}/${jobs.length}] ${j.name}: already done, skipped`);
      continue;
    }
    say(`[${i + 1}/${jobs.length}] ${j.name}`);
    opts.onRun?.(j.name, i, jobs.length);
    await j.run();
    if (opts.shouldStop?.()) break;
  }
  return writeResults(root);
}

/** Tabulate every fine-tuning run under `root` into results.md / .csv / .html. */
export async function writeResults(root: string): Promise<ExperimentResult> {
  const { rows, skipped } = await collectResults(await findRunDirs(root));
  const table = resultsTable(rows);
  const md = table.toMarkdown() + (skipped.length ? `\nSkipped runs: ${skipped.map((s) => `${path.relative(root, s.runDir) || s.runDir} (${s.reason})`).join('; ')}\n` : '');
  const files = { markdown: path.join(root, 'results.md'), csv: path.join(root, 'results.csv'), html: path.join(root, 'results.html') };
  await writeFileAtomic(files.markdown, md);
  await writeFileAtomic(files.csv, table.toCsv());
  const spec = resultsBarChartSpec(table);
  const html =
    '<!doctype html><html><head><meta charset="utf-8"><title>ssl3d results</title>' +
    `<script>${scriptSafe(plotlySource().source)}</script></head><body style="font-family:sans-serif;max-width:1000px;margin:auto">` +
    `<h1>Random init vs pretrained: best validation Dice</h1><pre>${escapeHtml(md)}</pre><div id="chart"></div>` +
    `<script>Plotly.newPlot('chart', ${jsonForScript(spec.data)}, ${jsonForScript(spec.layout)}, {responsive: true});</script>` +
    '</body></html>\n';
  await writeFileAtomic(files.html, html);
  return { table, files };
}
