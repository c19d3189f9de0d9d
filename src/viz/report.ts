/**
 * The run report: one self-contained HTML page per run folder (works offline: plotly.js is inlined from
 * `plotly.js-dist-min`, no external resources). It shows what the folder holds:
 *
 * - `config.json`: kind, ssl3d version, backend, creation time, command line, and the resolved config (pretty JSON);
 * - `summary.json`: best metric and step, steps, seconds, init, labeled-set size, seed (absent while a run is in
 *   progress or after a crash; the page says so and shows what the metrics say instead);
 * - `metrics.jsonl`: the loss curves, the validation Dice curves (fine-tuning) and throughput/resources
 *   (`curves.ts`); malformed lines are skipped and counted;
 * - `checkpoints/`: the files and their sizes;
 * - `log.txt`: the last lines.
 *
 * Everything from the run folder is HTML-escaped; the plot data goes in as JSON with `<` escaped.
 */
import { promises as fsp, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ArgumentError } from '../errors';
import { writeFileAtomic } from '../io/atomic';
import { diceCurvesSpec, lossCurvesSpec, metricsOverview, readMetrics, systemCurvesSpec, type MetricsRecord, type ParsedMetrics } from './curves';
import type { PlotlySpec } from './figures';

/** A JSON file of the run folder: its value, or why it could not be read. */
export interface JsonFileState<T> {
  file: string;
  value?: T;
  /** 'missing' or the parse error. */
  problem?: string;
}

export interface RunConfigFile {
  kind?: string;
  ssl3d_version?: string;
  backend?: string;
  created?: string;
  command?: string | string[];
  config?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface RunSummaryFile {
  kind?: string;
  best_metric?: number | null;
  best_step?: number | null;
  steps?: number;
  seconds?: number;
  init?: string;
  num_train?: number;
  seed?: number;
  [key: string]: unknown;
}

export interface CheckpointFile {
  name: string;
  bytes: number;
  mtime: string;
}

/** Everything the report shows, read from one run folder. */
export interface RunData {
  runDir: string;
  name: string;
  config: JsonFileState<RunConfigFile>;
  summary: JsonFileState<RunSummaryFile>;
  metrics: ParsedMetrics & { missing: boolean; file: string };
  checkpoints: CheckpointFile[];
  /** The last lines of log.txt (null: no log.txt). */
  logTail: string[] | null;
  /** Lines in log.txt. */
  logLines: number;
}

export interface LoadRunOptions {
  /** How many lines of log.txt to keep (default 60). */
  logLines?: number;
}

async function readJson<T>(file: string): Promise<JsonFileState<T>> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { file, problem: 'missing' };
    return { file, problem: (e as Error).message };
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return { file, problem: 'not a JSON object' };
    return { file, value: value as T };
  } catch (e) {
    return { file, problem: `not valid JSON: ${(e as Error).message}` };
  }
}

/** Read a run folder. Throws `ArgumentError` when it is not a folder or holds none of config/summary/metrics. */
export async function loadRun(runDir: string, o: LoadRunOptions = {}): Promise<RunData> {
  const st = await fsp.stat(runDir).catch(() => null);
  if (!st || !st.isDirectory()) throw new ArgumentError(`${runDir}: not a folder (expected a run folder with config.json, metrics.jsonl, summary.json)`);
  const [config, summary, metrics] = await Promise.all([
    readJson<RunConfigFile>(path.join(runDir, 'config.json')),
    readJson<RunSummaryFile>(path.join(runDir, 'summary.json')),
    readMetrics(path.join(runDir, 'metrics.jsonl')),
  ]);
  if (config.problem === 'missing' && summary.problem === 'missing' && metrics.missing) {
    throw new ArgumentError(`${runDir}: not a run folder (no config.json, summary.json or metrics.jsonl)`);
  }
  const checkpoints: CheckpointFile[] = [];
  const ckDir = path.join(runDir, 'checkpoints');
  for (const name of (await fsp.readdir(ckDir).catch(() => [] as string[])).sort()) {
    const s = await fsp.stat(path.join(ckDir, name)).catch(() => null);
    if (s && s.isFile()) checkpoints.push({ name, bytes: s.size, mtime: s.mtime.toISOString() });
  }
  let logTail: string[] | null = null;
  let logLines = 0;
  const logText = await fsp.readFile(path.join(runDir, 'log.txt'), 'utf8').catch(() => null);
  if (logText !== null) {
    const lines = logText.split(/\r?\n/);
    if (lines.length && lines[lines.length - 1] === '') lines.pop();
    logLines = lines.length;
    logTail = lines.slice(Math.max(0, lines.length - (o.logLines ?? 60)));
  }
  return {
    runDir,
    name: path.basename(path.resolve(runDir)),
    config,
    summary,
    metrics: { ...metrics, file: path.join(runDir, 'metrics.jsonl') },
    checkpoints,
    logTail,
    logLines,
  };
}

/** HTML-escape text (element content and attribute values). */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}

/** JSON for a `<script>` element: `<`, U+2028 and U+2029 escaped, so no string in it can close or confuse the tag. */
export function jsonForScript(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/**
 * JavaScript source made safe to inline in `<script>`: `</script`, `<script` and `<!--` (which could end the element
 * or switch the HTML parser into its escaped state) become `\x3C…`, which means `<` in strings, templates and
 * regular expressions alike. plotly.min.js contains one `<!--` (in a regex source string).
 */
export function scriptSafe(js: string): string {
  return js.replace(/<(\/script|script|!--)/gi, '\\x3C$1');
}

let plotlyCache: { file: string; source: string; version: string } | null = null;

/** The minified plotly.js bundle (`plotly.js-dist-min`), read once, and its version. */
export function plotlySource(): { file: string; source: string; version: string } {
  if (!plotlyCache) {
    let file: string;
    try {
      file = require.resolve('plotly.js-dist-min/plotly.min.js');
    } catch {
      throw new ArgumentError("plotly.js-dist-min is not installed (it is a dependency of ssl3d: run 'npm install')");
    }
    const source = readFileSync(file, 'utf8');
    const version = /plotly\.js v([0-9][^\s*]*)/.exec(source.slice(0, 400))?.[1] ?? 'unknown';
    plotlyCache = { file, source, version };
  }
  return plotlyCache;
}

export interface ReportOptions extends LoadRunOptions {
  /** Log-scaled loss axis (default true for pretraining runs, false otherwise). */
  logY?: boolean;
  /** At most this many points per training curve (default 5000; 0 = all). Validation points are always all kept. */
  maxPoints?: number;
  /** Page title (default: `ssl3d run report — <folder name>`). */
  title?: string;
  /** The plotly.js source to inline (default: `plotly.js-dist-min`). */
  plotlyJs?: string;
}

function fmtNumber(v: unknown, digits = 4): string {
  if (typeof v !== 'number') return v === null || v === undefined ? '–' : String(v);
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(digits - 1) : v.toFixed(digits);
}

function fmtDuration(s: unknown): string {
  if (typeof s !== 'number' || !Number.isFinite(s)) return '–';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s - 3600 * h - 60 * m;
  return `${s.toFixed(1)} s` + (s >= 60 ? ` (${h ? `${h} h ` : ''}${m} min ${sec.toFixed(0)} s)` : '');
}

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function table(rows: Array<[string, string]>): string {
  return `<table class="kv">\n${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('\n')}\n</table>`;
}

function problemNote(f: JsonFileState<unknown>, what: string): string {
  if (!f.problem) return '';
  const text = f.problem === 'missing' ? `${path.basename(f.file)} is missing${what}` : `${path.basename(f.file)} could not be read: ${f.problem}`;
  return `<p class="warn">${escapeHtml(text)}</p>`;
}

/** The figures a run's report shows (also for notebooks): losses, Dice (when validated with Dice), resources. */
export function runFigures(records: readonly MetricsRecord[], kind: string | undefined, o: ReportOptions = {}): Array<{ id: string; spec: PlotlySpec }> {
  const maxPoints = o.maxPoints === undefined ? 5000 : o.maxPoints || undefined;
  const logY = o.logY ?? kind === 'pretrain';
  const figs: Array<{ id: string; spec: PlotlySpec }> = [];
  const loss = lossCurvesSpec(records, { logY, maxPoints, title: logY ? 'Losses (log scale)' : 'Losses' });
  if (loss.data.length) figs.push({ id: 'loss', spec: loss });
  const dice = diceCurvesSpec(records, { maxPoints });
  if (dice.data.length) figs.push({ id: 'dice', spec: dice });
  const sys = systemCurvesSpec(records, { maxPoints });
  if (sys.data.length) figs.push({ id: 'system', spec: sys });
  return figs;
}

/** The report page for loaded run data (pure apart from reading plotly.js when `plotlyJs` is not given). */
export function reportHtml(run: RunData, o: ReportOptions = {}): string {
  const cfg = run.config.value;
  const sum = run.summary.value;
  const kind = (cfg?.kind ?? sum?.kind) as string | undefined;
  const title = o.title ?? `ssl3d run report — ${run.name}`;
  const plotly = o.plotlyJs !== undefined ? { source: o.plotlyJs, version: 'custom' } : plotlySource();
  const records = run.metrics.records;
  const figs = runFigures(records, kind, o);
  const ov = metricsOverview(records);

  const parts: string[] = [];
  parts.push(`<h1>${escapeHtml(title)}</h1>`);
  parts.push(`<p class="path">${escapeHtml(path.resolve(run.runDir))}</p>`);

  // Run
  const command = Array.isArray(cfg?.command) ? cfg!.command.join(' ') : cfg?.command;
  parts.push('<h2>Run</h2>');
  parts.push(problemNote(run.config, ''));
  if (cfg) {
    parts.push(
      table([
        ['kind', String(cfg.kind ?? '–')],
        ['ssl3d version', String(cfg.ssl3d_version ?? '–')],
        ['backend', String(cfg.backend ?? '–')],
        ['created', String(cfg.created ?? '–')],
        ['command', String(command ?? '–')],
      ]),
    );
  }

  // Summary
  parts.push('<h2>Summary</h2>');
  parts.push(problemNote(run.summary, ': the run is in progress, was interrupted, or crashed (what the metrics say is below)'));
  if (sum) {
    const metricName = (sum.kind ?? kind) === 'finetune' ? 'best validation Dice' : (sum.kind ?? kind) === 'pretrain' ? 'best validation loss (mean L1)' : 'best metric';
    const known = new Set(['kind', 'best_metric', 'best_step', 'steps', 'seconds', 'init', 'num_train', 'seed']);
    const rows: Array<[string, string]> = [
      ['kind', String(sum.kind ?? '–')],
      [metricName, fmtNumber(sum.best_metric)],
      ['at step', fmtNumber(sum.best_step)],
      ['steps', fmtNumber(sum.steps)],
      ['time', fmtDuration(sum.seconds)],
    ];
    if ('init' in sum) rows.push(['init', String(sum.init)]);
    if ('num_train' in sum) rows.push(['labeled training volumes', fmtNumber(sum.num_train)]);
    if ('seed' in sum) rows.push(['seed', fmtNumber(sum.seed)]);
    for (const [k, v] of Object.entries(sum)) if (!known.has(k)) rows.push([k, typeof v === 'object' && v !== null ? JSON.stringify(v) : fmtNumber(v)]);
    parts.push(table(rows));
  }
  const ovRows: Array<[string, string]> = [
    ['logged steps', `${ov.records}` + (ov.records ? ` (steps ${ov.firstStep}–${ov.lastStep})` : '')],
    ['last epoch', fmtNumber(ov.lastEpoch)],
    ['last training loss', fmtNumber(ov.lastLoss)],
    ['validations', String(ov.validations)],
  ];
  if (ov.bestValLoss) ovRows.push(['lowest validation loss', `${fmtNumber(ov.bestValLoss.value)} at step ${ov.bestValLoss.step}`]);
  if (ov.bestValDice) ovRows.push(['highest validation Dice', `${fmtNumber(ov.bestValDice.value)} at step ${ov.bestValDice.step}`]);
  parts.push('<h3>From metrics.jsonl</h3>');
  if (run.metrics.missing) parts.push('<p class="warn">metrics.jsonl is missing: nothing logged yet.</p>');
  else parts.push(table(ovRows));
  if (run.metrics.malformed) {
    const first = run.metrics.malformedLines.slice(0, 5).map((m) => `line ${m.line}: ${m.reason}`).join('; ');
    parts.push(`<p class="warn">${escapeHtml(`Skipped ${run.metrics.malformed} malformed line(s) of metrics.jsonl (${first}${run.metrics.malformed > 5 ? '; …' : ''}).`)}</p>`);
  }
  if (run.metrics.duplicates) parts.push(`<p class="note">${escapeHtml(`${run.metrics.duplicates} step(s) were logged more than once (a resumed run); the later line is shown.`)}</p>`);

  // Curves
  parts.push('<h2>Curves</h2>');
  if (!figs.length) parts.push('<p class="note">No curves: metrics.jsonl has no plottable values yet.</p>');
  for (const f of figs) parts.push(`<div class="plot" id="plot-${f.id}"></div>`);

  // Checkpoints
  parts.push('<h2>Checkpoints</h2>');
  if (!run.checkpoints.length) parts.push('<p class="note">No files in checkpoints/.</p>');
  else parts.push(table(run.checkpoints.map((c) => [c.name, `${fmtBytes(c.bytes)}, ${c.mtime}`])));

  // Config
  parts.push('<h2>Configuration</h2>');
  if (cfg) parts.push(`<details open><summary>config.json (resolved configuration)</summary>\n<pre class="json">${escapeHtml(JSON.stringify(cfg.config ?? cfg, null, 2))}</pre></details>`);
  else parts.push('<p class="note">No config.json.</p>');

  // Log
  parts.push('<h2>Log</h2>');
  if (run.logTail === null) parts.push('<p class="note">No log.txt.</p>');
  else {
    const shown = run.logTail.length;
    parts.push(`<p class="note">${escapeHtml(shown < run.logLines ? `Last ${shown} of ${run.logLines} lines of log.txt.` : `log.txt (${run.logLines} lines).`)}</p>`);
    parts.push(`<pre class="log">${escapeHtml(run.logTail.join('\n'))}</pre>`);
  }

  const figJson = jsonForScript(figs.map((f) => ({ id: `plot-${f.id}`, data: f.spec.data, layout: f.spec.layout })));
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="generator" content="ssl3d report (plotly.js ${escapeHtml(plotly.version)} inlined)">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 20px auto; max-width: 1200px; padding: 0 16px; color: #222; background: #fff; }
h1 { font-size: 1.5em; margin-bottom: 0; }
p.path { color: #666; font-family: monospace; margin-top: 4px; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 28px; }
table.kv { border-collapse: collapse; }
table.kv th { text-align: left; font-weight: 600; padding: 3px 16px 3px 0; vertical-align: top; white-space: nowrap; }
table.kv td { padding: 3px 0; font-family: monospace; word-break: break-all; }
pre { background: #f6f8fa; border: 1px solid #e1e4e8; padding: 10px; overflow: auto; font-size: 12.5px; }
pre.log { max-height: 480px; }
p.warn { color: #8a4b00; background: #fff4e0; padding: 6px 10px; border-left: 3px solid #e69500; }
p.note { color: #555; }
.plot { width: 100%; min-height: 300px; margin-bottom: 16px; }
</style>
<script>${scriptSafe(plotly.source)}</script>
</head>
<body>
${parts.filter((p) => p !== '').join('\n')}
<script>
(function () {
  var figs = ${figJson};
  for (var i = 0; i < figs.length; i++) {
    var f = figs[i];
    Plotly.newPlot(f.id, f.data, f.layout, { responsive: true, displaylogo: false });
  }
})();
</script>
</body>
</html>
`;
}

/** The report page of a run folder. */
export async function renderReport(runDir: string, o: ReportOptions = {}): Promise<string> {
  return reportHtml(await loadRun(runDir, o), o);
}

/** Write the report (default `<runDir>/report.html`, atomically); returns the path and size. */
export async function writeReport(runDir: string, out?: string, o: ReportOptions = {}): Promise<{ out: string; bytes: number; run: RunData }> {
  const run = await loadRun(runDir, o);
  const html = reportHtml(run, o);
  const file = out ?? path.join(runDir, 'report.html');
  await writeFileAtomic(file, html, { mkdir: true });
  return { out: file, bytes: Buffer.byteLength(html), run };
}
