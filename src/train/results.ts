/**
 * The results table of the tutorial (spec §5.2): best validation Dice of UNETR fine-tuned from random init and from
 * the pretrained ViTAutoEnc, for 6, 12 and 24 labeled training volumes, and the relative improvement of pretraining.
 *
 * - `collectResults(runDirs)` reads each fine-tuning run folder's `summary.json` (and `config.json` for what the
 *   summary lacks) and lists the runs it cannot use, with the reason (unfinished, pretraining, never validated…);
 * - `resultsTable(rows)` groups the runs by labeled-set size and init: mean ± sample standard deviation (n−1
 *   denominator) of the best Dice over seeds, the number of seeds, and the improvement (p̄ − r̄) / r̄ × 100 % of the
 *   means; `toMarkdown()` / `toCsv()` print it, next to the tutorial's published numbers (`publishedResults()`);
 * - `resultsBarChartSpec(table)` is the plotly bar chart of the table.
 *
 * Dice values are fractions in [0, 1] in `summary.json` (`best_metric`) and percent (× 100) in the table, as in the
 * tutorial's README.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { PlotlySpec } from '../viz/figures';

export type Init = 'random' | 'pretrained';
export const INITS: readonly Init[] = ['random', 'pretrained'];

/** One finished fine-tuning run. */
export interface RunResult {
  runDir: string;
  init: Init;
  numTrain: number;
  /** null when neither summary.json nor config.json names a seed. */
  seed: number | null;
  /** Best validation Dice, a fraction in [0, 1] (`summary.best_metric`). */
  bestDice: number;
  bestStep: number | null;
  steps: number | null;
  seconds: number | null;
}

export interface SkippedRun {
  runDir: string;
  reason: string;
}

export interface CollectedResults {
  rows: RunResult[];
  skipped: SkippedRun[];
}

async function readJsonObject(file: string): Promise<Record<string, unknown> | string> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : (e as Error).message;
  }
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : 'not a JSON object';
  } catch (e) {
    return `not valid JSON (${(e as Error).message})`;
  }
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** Number of `training` entries of a datalist, trying the path as given, then relative to the run folder. */
async function datalistTrainingCount(jsonPath: string, runDir: string): Promise<number | null> {
  for (const p of path.isAbsolute(jsonPath) ? [jsonPath] : [jsonPath, path.join(runDir, jsonPath)]) {
    const v = await readJsonObject(p);
    if (typeof v !== 'string') return Array.isArray(v.training) ? v.training.length : null;
  }
  return null;
}

/** Read one run folder; a string is the reason it cannot be used. */
export async function readRunResult(runDir: string): Promise<RunResult | string> {
  const summary = await readJsonObject(path.join(runDir, 'summary.json'));
  if (typeof summary === 'string') return summary === 'missing' ? 'no summary.json (unfinished or crashed)' : `summary.json: ${summary}`;
  const cfgFile = await readJsonObject(path.join(runDir, 'config.json'));
  const cfgTop = typeof cfgFile === 'string' ? {} : cfgFile;
  const cfg = obj(cfgTop.config);
  const kind = summary.kind ?? cfgTop.kind;
  if (kind !== 'finetune') return kind === undefined ? "neither summary.json nor config.json says the kind ('finetune')" : `not a fine-tuning run (kind '${String(kind)}')`;
  if (summary.status !== undefined && summary.status !== 'completed') return `unfinished (status '${String(summary.status)}'; run it again to continue)`;
  const init = summary.init ?? cfg.init;
  if (init !== 'random' && init !== 'pretrained') return `unknown init ${JSON.stringify(init ?? null)} (expected 'random' or 'pretrained')`;
  const data = obj(cfg.data);
  let numTrain = num(summary.num_train) ?? num(data.num_train);
  if (numTrain === null && typeof data.json_path === 'string') numTrain = await datalistTrainingCount(data.json_path, runDir);
  if (numTrain === null) return 'unknown number of labeled training volumes (no num_train in summary.json or config.json)';
  const best = summary.best_metric;
  if (typeof best !== 'number' || !Number.isFinite(best)) return 'no best validation Dice (best_metric is missing or not a number: never validated?)';
  if (best < 0 || best > 1) return `best_metric ${best} is not a Dice fraction in [0, 1]`;
  return {
    runDir,
    init,
    numTrain,
    seed: num(summary.seed) ?? num(cfg.seed),
    bestDice: best,
    bestStep: num(summary.best_step),
    steps: num(summary.steps),
    seconds: num(summary.seconds),
  };
}

/** Read the finished fine-tuning runs among `runDirs`; the others are listed in `skipped` with the reason. */
export async function collectResults(runDirs: readonly string[]): Promise<CollectedResults> {
  const out: CollectedResults = { rows: [], skipped: [] };
  for (const runDir of runDirs) {
    const r = await readRunResult(runDir);
    if (typeof r === 'string') out.skipped.push({ runDir, reason: r });
    else out.rows.push(r);
  }
  return out;
}

/** Run folders (folders holding summary.json or config.json) under `root`, itself included, sorted; depth ≤ maxDepth. */
export async function findRunDirs(root: string, maxDepth = 3): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => []);
    if (entries.some((e) => e.isFile() && (e.name === 'summary.json' || e.name === 'config.json'))) {
      found.push(dir);
      return;
    }
    if (depth >= maxDepth) return;
    for (const e of entries) if (e.isDirectory() && !e.name.startsWith('.') && e.name !== 'checkpoints') await walk(path.join(dir, e.name), depth + 1);
  };
  await walk(root, 0);
  return found.sort();
}

/** Mean and sample standard deviation (n−1 denominator; null for fewer than 2 values). */
export function meanStd(values: readonly number[]): { mean: number; std: number | null } {
  const n = values.length;
  if (n === 0) return { mean: NaN, std: null };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, std: null };
  const ss = values.reduce((a, b) => a + (b - mean) ** 2, 0);
  return { mean, std: Math.sqrt(ss / (n - 1)) };
}

/** Relative improvement of `pretrained` over `random` in percent: (p − r) / r × 100 (null when r is 0 or missing). */
export function relativeImprovement(random: number | null | undefined, pretrained: number | null | undefined): number | null {
  if (random === null || random === undefined || pretrained === null || pretrained === undefined || random === 0) return null;
  return ((pretrained - random) / random) * 100;
}

/** The tutorial's README results (Dice × 100, 6 validation volumes each). */
export interface PublishedResult {
  numTrain: number;
  random: number;
  pretrained: number;
  /** (pretrained − random) / random × 100, computed from the two numbers. */
  improvementPct: number;
  /** What the README prints ("~4.58 %"): the computed value truncated, not rounded. */
  readmeImprovementPct: number;
}

const PUBLISHED: ReadonlyArray<[number, number, number, number]> = [
  [6, 63.07, 70.09, 11.13],
  [12, 76.06, 79.55, 4.58],
  [24, 78.91, 82.3, 4.29],
];

/** The tutorial's published numbers (spec §5.2): 6: 63.07 → 70.09, 12: 76.06 → 79.55, 24: 78.91 → 82.30. */
export function publishedResults(): PublishedResult[] {
  return PUBLISHED.map(([numTrain, random, pretrained, readme]) => ({
    numTrain,
    random,
    pretrained,
    improvementPct: relativeImprovement(random, pretrained)!,
    readmeImprovementPct: readme,
  }));
}

/** One (labeled-set size, init) cell: Dice × 100 over seeds. */
export interface GroupStats {
  n: number;
  mean: number;
  /** Sample standard deviation (n−1); null when n < 2. */
  std: number | null;
  /** Best Dice × 100 of each run, in seed order. */
  values: number[];
  seeds: Array<number | null>;
  runDirs: string[];
}

export interface ResultsRow {
  numTrain: number;
  random: GroupStats | null;
  pretrained: GroupStats | null;
  /** (p̄ − r̄) / r̄ × 100 of the means; null unless both cells have runs. */
  improvementPct: number | null;
  published: PublishedResult | null;
}

export interface ResultsTableOptions {
  /** Add the tutorial's numbers (columns, and rows for sizes without runs); default true. */
  published?: boolean;
  /** Decimals in Markdown (default 2) and CSV (default 4). */
  digits?: number;
  csvDigits?: number;
}

export interface ResultsTable {
  rows: ResultsRow[];
  /** Duplicate or unknown seeds, unpaired seeds between random and pretrained. */
  warnings: string[];
  withPublished: boolean;
  toMarkdown(): string;
  toCsv(): string;
}

/** The header line `toMarkdown()` starts with: what the numbers are. */
export const RESULTS_CAPTION =
  'Best validation Dice × 100 (MONAI DiceMetric as the tutorial: mean over all 14 classes incl. background, then over validation cases), mean ± sample standard deviation ' +
  '(n−1 denominator) over seeds, n = number of seeds; improvement = (pretrained − random) / random × 100 % of the means.';

function fmtSigned(v: number, d: number): string {
  const s = v.toFixed(d);
  return v >= 0 && !s.startsWith('-') ? `+${s}` : s;
}

function cellMd(g: GroupStats | null, d: number): string {
  if (!g) return '–';
  return g.std === null ? `${g.mean.toFixed(d)} (n=${g.n})` : `${g.mean.toFixed(d)} ± ${g.std.toFixed(d)} (n=${g.n})`;
}

const seedKey = (s: number | null) => (s === null ? 'unknown' : String(s));

/** Group runs into the results table (rows sorted by labeled-set size). */
export function resultsTable(runs: readonly RunResult[], o: ResultsTableOptions = {}): ResultsTable {
  const withPublished = o.published !== false;
  const d = o.digits ?? 2;
  const cd = o.csvDigits ?? 4;
  const published = new Map(publishedResults().map((p) => [p.numTrain, p]));
  const sizes = new Set(runs.map((r) => r.numTrain));
  if (withPublished) for (const k of published.keys()) sizes.add(k);
  const warnings: string[] = [];

  const group = (numTrain: number, init: Init): GroupStats | null => {
    const rs = runs
      .filter((r) => r.numTrain === numTrain && r.init === init)
      .slice()
      .sort((a, b) => (a.seed ?? Infinity) - (b.seed ?? Infinity) || a.runDir.localeCompare(b.runDir));
    if (!rs.length) return null;
    const counts = new Map<string, number>();
    for (const r of rs) counts.set(seedKey(r.seed), (counts.get(seedKey(r.seed)) ?? 0) + 1);
    for (const [s, c] of counts) {
      if (s === 'unknown') warnings.push(`${numTrain} labeled, ${init} init: ${c} run(s) without a seed`);
      else if (c > 1) warnings.push(`${numTrain} labeled, ${init} init: seed ${s} appears in ${c} runs (all counted)`);
    }
    const values = rs.map((r) => r.bestDice * 100);
    const { mean, std } = meanStd(values);
    return { n: rs.length, mean, std, values, seeds: rs.map((r) => r.seed), runDirs: rs.map((r) => r.runDir) };
  };

  const rows: ResultsRow[] = [...sizes]
    .sort((a, b) => a - b)
    .map((numTrain) => {
      const random = group(numTrain, 'random');
      const pretrained = group(numTrain, 'pretrained');
      if (random && pretrained) {
        const a = new Set(random.seeds.map(seedKey));
        const b = new Set(pretrained.seeds.map(seedKey));
        if (a.size !== b.size || [...a].some((s) => !b.has(s))) {
          warnings.push(`${numTrain} labeled: random init has seeds {${[...a].join(', ')}}, pretrained {${[...b].join(', ')}} (unpaired)`);
        }
      }
      return {
        numTrain,
        random,
        pretrained,
        improvementPct: relativeImprovement(random?.mean, pretrained?.mean),
        published: withPublished ? (published.get(numTrain) ?? null) : null,
      };
    });

  const toMarkdown = (): string => {
    const head = ['labeled train volumes', 'random init', 'pretrained', 'improvement'];
    if (withPublished) head.push('tutorial random init', 'tutorial pretrained', 'tutorial improvement');
    const lines = [RESULTS_CAPTION, '', `| ${head.join(' | ')} |`, `|${head.map(() => '---:').join('|')}|`];
    for (const r of rows) {
      const cells = [String(r.numTrain), cellMd(r.random, d), cellMd(r.pretrained, d), r.improvementPct === null ? '–' : `${fmtSigned(r.improvementPct, d)} %`];
      if (withPublished) {
        const p = r.published;
        cells.push(p ? p.random.toFixed(d) : '–', p ? p.pretrained.toFixed(d) : '–', p ? `${fmtSigned(p.improvementPct, d)} %` : '–');
      }
      lines.push(`| ${cells.join(' | ')} |`);
    }
    if (withPublished) {
      lines.push(
        '',
        'Tutorial: MONAI tutorials self_supervised_pretraining README (6 validation volumes; its README prints the improvements truncated: ' +
          publishedResults()
            .map((p) => `~${p.readmeImprovementPct.toFixed(2)} %`)
            .join(', ') +
          ').',
      );
    }
    if (warnings.length) lines.push('', ...warnings.map((w) => `- warning: ${w}`));
    return lines.join('\n') + '\n';
  };

  const toCsv = (): string => {
    const head = ['num_train'];
    for (const i of INITS) head.push(`${i}_mean_pct`, `${i}_sample_std_pct`, `${i}_n`, `${i}_seeds`);
    head.push('improvement_pct');
    if (withPublished) head.push('tutorial_random_pct', 'tutorial_pretrained_pct', 'tutorial_improvement_pct');
    const f = (v: number | null | undefined) => (v === null || v === undefined ? '' : v.toFixed(cd));
    const lines = [head.join(',')];
    for (const r of rows) {
      const cells = [String(r.numTrain)];
      for (const g of [r.random, r.pretrained]) {
        cells.push(f(g?.mean), f(g?.std), g ? String(g.n) : '0', g ? g.seeds.map(seedKey).join(';') : '');
      }
      cells.push(f(r.improvementPct));
      if (withPublished) cells.push(f(r.published?.random), f(r.published?.pretrained), f(r.published?.improvementPct));
      lines.push(cells.join(','));
    }
    return lines.join('\n') + '\n';
  };

  return { rows, warnings, withPublished, toMarkdown, toCsv };
}

/**
 * Grouped bar chart of the table: per labeled-set size, random init and pretrained (error bars: sample std over
 * seeds; hover: n and the seeds), and the tutorial's numbers as hatched bars when the table includes them.
 */
export function resultsBarChartSpec(table: ResultsTable, o: { title?: string } = {}): PlotlySpec {
  const x = table.rows.map((r) => `${r.numTrain} labeled`);
  const colors: Record<Init, string> = { random: '#7f7f7f', pretrained: '#1f77b4' };
  const label: Record<Init, string> = { random: 'random init', pretrained: 'pretrained' };
  const data: Array<Record<string, unknown>> = [];
  for (const init of INITS) {
    const g = table.rows.map((r) => r[init]);
    if (!g.some(Boolean)) continue;
    data.push({
      type: 'bar',
      name: `${label[init]} (ssl3d)`,
      x,
      y: g.map((s) => (s ? s.mean : null)),
      error_y: { type: 'data', array: g.map((s) => s?.std ?? 0), visible: true },
      text: g.map((s) => (s ? s.mean.toFixed(2) : '')),
      textposition: 'outside',
      customdata: g.map((s) => (s ? `n=${s.n}, seeds ${s.seeds.map(seedKey).join(', ')}` : '')),
      hovertemplate: `${label[init]} (ssl3d)<br>%{x}: %{y:.2f}<br>%{customdata}<extra></extra>`,
      marker: { color: colors[init] },
    });
  }
  if (table.withPublished) {
    for (const init of INITS) {
      const p = table.rows.map((r) => r.published);
      if (!p.some(Boolean)) continue;
      data.push({
        type: 'bar',
        name: `${label[init]} (tutorial)`,
        x,
        y: p.map((q) => (q ? q[init] : null)),
        text: p.map((q) => (q ? q[init].toFixed(2) : '')),
        textposition: 'outside',
        hovertemplate: `${label[init]} (MONAI tutorial)<br>%{x}: %{y:.2f}<extra></extra>`,
        marker: { color: colors[init], opacity: 0.45, pattern: { shape: '/' } },
      });
    }
  }
  const annotations = table.rows
    .filter((r) => r.improvementPct !== null)
    .map((r) => ({ x: `${r.numTrain} labeled`, y: 1, yref: 'paper', yanchor: 'bottom', showarrow: false, text: `pretrained ${fmtSigned(r.improvementPct!, 2)} %`, font: { size: 12 } }));
  return {
    data,
    layout: {
      title: { text: o.title ?? 'UNETR fine-tuning: best validation Dice, random init vs. pretrained' },
      barmode: 'group',
      xaxis: { title: { text: 'labeled training volumes' }, type: 'category' },
      yaxis: { title: { text: 'best validation Dice (%)' }, range: [0, 100] },
      legend: { orientation: 'h', y: -0.25 },
      margin: { l: 70, r: 20, t: 60, b: 110 },
      annotations,
      height: 460,
    },
  };
}
