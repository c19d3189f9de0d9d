/**
 * Plotly figures in Jupyter notebooks (the tslab kernel) without internet access: a plotly spec becomes a
 * self-contained HTML snippet (`plotHtml`), plotly.js itself is inlined once per kernel session (`plotlyHtml`), and a
 * training run gets a live-updating panel (`trainingMonitor`) that plugs into `pretrain`/`finetune` as their
 * `progress` and `log` options and redraws the loss (and Dice) curves from the run's `metrics.jsonl`.
 *
 * The snippets work in the classic Notebook (where require.js defines `define`: plotly is loaded with `define` hidden
 * so it becomes the global `Plotly`), JupyterLab and VS Code (scripts of an output may run before the output is in
 * the page: a chart waits until its element is attached), and in nbconvert's HTML export (a chart whose script runs
 * before plotly.js has loaded is queued and drawn once it is).
 *
 * Nothing here imports tslab: pass `tslab.display` or `tslab.newDisplay` (anything with an `html(s)` method).
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Progress } from '../train/progress';
import { diceCurvesSpec, lossCurvesSpec, parseMetricsJsonl, type MetricsRecord } from './curves';
import type { PlotlySpec } from './figures';
import { escapeHtml, jsonForScript, plotlySource, scriptSafe } from './report';

/** What the notebook helpers need from a display: tslab's `display` and `newDisplay()` both fit. */
export interface HtmlDisplay {
  html(s: string): void;
}

let plotlyShown = false;
let plotCounter = 0;

/** True once `plotlyHtml()` (or a helper that calls it) has produced the plotly.js bundle in this process. */
export function plotlyLoaded(): boolean {
  return plotlyShown;
}

/**
 * The plotly.js bundle as HTML (`<script>`s, about 4.8 MB), to show once per kernel session before any chart:
 * hides an AMD `define` while plotly loads (so it sets `window.Plotly` under require.js too), then draws every chart
 * that was queued waiting for it. Marks plotly as loaded (`plotlyLoaded()`).
 */
export function plotlyHtml(): string {
  const { source, version } = plotlySource();
  plotlyShown = true;
  return (
    `<script>window.__ssl3dDefine = window.define; window.define = undefined;</script>\n` +
    `<script>${scriptSafe(source)}</script>\n` +
    `<script>window.define = window.__ssl3dDefine; (window.__ssl3dPlotlyQueue || []).splice(0).forEach(function (f) { f(); });</script>\n` +
    `<div style="color:#777;font-size:12px">plotly.js ${escapeHtml(version)} loaded (inlined, works offline)</div>`
  );
}

/** Show the plotly.js bundle on `display` (the first code cell of a notebook does this). */
export function loadPlotly(display: HtmlDisplay): void {
  display.html(plotlyHtml());
}

export interface PlotHtmlOptions {
  /** Element id (default: a fresh unique one). */
  id?: string;
  /** plotly config; default `{responsive: true, displaylogo: false}`. */
  config?: Record<string, unknown>;
  /** A marker put in the container's `data-ssl3d-figure` attribute (tests and screenshots find figures by it). */
  name?: string;
}

function freshId(): string {
  plotCounter++;
  return `ssl3d-plot-${Date.now().toString(36)}-${plotCounter}-${Math.floor(Math.random() * 1e9).toString(36)}`;
}

/**
 * One chart as an HTML snippet: a `<div>` and a `<script>` calling `Plotly.newPlot` on it (after plotly.js has loaded
 * and the element is in the page). Needs `plotlyHtml()` shown before it in the page (see `showPlot`).
 */
export function plotHtml(spec: PlotlySpec, o: PlotHtmlOptions = {}): string {
  const id = o.id ?? freshId();
  const config = o.config ?? { responsive: true, displaylogo: false };
  const height = typeof spec.layout.height === 'number' ? spec.layout.height : 450;
  const name = o.name ? ` data-ssl3d-figure="${escapeHtml(o.name)}"` : '';
  return (
    `<div id="${id}" class="ssl3d-plot"${name} style="width:100%;min-height:${height}px"></div>\n` +
    `<script>(function () {\n` +
    `  var me = document.currentScript;\n` +
    `  var data = ${jsonForScript(spec.data)}, layout = ${jsonForScript(spec.layout)}, config = ${jsonForScript(config)};\n` +
    `  var tries = 0;\n` +
    `  function el() { var p = me && me.previousElementSibling; return p && p.id === ${jsonForScript(id)} ? p : document.getElementById(${jsonForScript(id)}); }\n` +
    `  function draw() {\n` +
    `    var gd = el();\n` +
    `    if ((!gd || !gd.isConnected) && tries++ < 100) { setTimeout(draw, 50); return; }\n` +
    `    if (gd) window.Plotly.newPlot(gd, data, layout, config);\n` +
    `  }\n` +
    `  if (window.Plotly) draw(); else (window.__ssl3dPlotlyQueue = window.__ssl3dPlotlyQueue || []).push(draw);\n` +
    `})();</script>`
  );
}

/** Several charts one below the other, as one snippet. */
export function plotsHtml(specs: readonly PlotlySpec[], o: Omit<PlotHtmlOptions, 'id'> = {}): string {
  return specs.map((s) => plotHtml(s, o)).join('\n');
}

/** Show a chart; loads plotly.js first (in its own output) if this kernel session has not done so yet. */
export function showPlot(display: HtmlDisplay, spec: PlotlySpec | readonly PlotlySpec[], o: Omit<PlotHtmlOptions, 'id'> = {}): void {
  if (!plotlyShown) loadPlotly(display);
  display.html(Array.isArray(spec) ? plotsHtml(spec as PlotlySpec[], o) : plotHtml(spec as PlotlySpec, o));
}

/**
 * A chart that is redrawn in place (tslab's `newDisplay()`): `update(spec)` redraws at most every `everyMs`
 * milliseconds (the latest spec wins), `flush()` draws the latest spec now.
 */
export class LivePlot {
  private latest: PlotlySpec | PlotlySpec[] | null = null;
  private last = 0;
  private dirty = false;

  constructor(
    readonly display: HtmlDisplay,
    readonly everyMs = 2000,
    readonly name?: string,
  ) {}

  update(spec: PlotlySpec | PlotlySpec[], force = false): void {
    this.latest = spec;
    this.dirty = true;
    const now = Date.now();
    if (force || now - this.last >= this.everyMs) this.flush();
  }

  flush(): void {
    if (!this.latest || !this.dirty) return;
    this.display.html(Array.isArray(this.latest) ? plotsHtml(this.latest, { name: this.name }) : plotHtml(this.latest, { name: this.name }));
    this.last = Date.now();
    this.dirty = false;
  }
}

export interface TrainingMonitorOptions {
  /**
   * The run folder (the config's `logdir`): the curves are read from its `metrics.jsonl`. null: status and log only
   * (e.g. for `runExperiment`, which trains several runs one after the other).
   */
  runDir: string | null;
  /** 'pretrain': losses (total, L1, contrastive, validation), log-scaled; 'finetune': loss and validation Dice. */
  kind?: 'pretrain' | 'finetune';
  /** Redraw the curves at most this often (default 2000 ms); the status line updates at most every 500 ms. */
  everyMs?: number;
  /** How many log lines to keep on screen (default 12). */
  logLines?: number;
  /** Log-scaled loss axis (default: true for pretraining). */
  logY?: boolean;
  /** `data-ssl3d-figure` marker of the curves (default `<kind>-curves`). */
  name?: string;
}

/** Live status, curves and log of a training run in a notebook; `options` go straight into `pretrain`/`finetune`. */
export interface TrainingMonitor {
  /** `{ progress, log, quiet: true }`: spread into the training options. */
  options: { progress: Progress; log: (line: string) => void; quiet: true };
  progress: Progress;
  log: (line: string) => void;
  /** Every line logged so far. */
  lines: string[];
  /** The records of `metrics.jsonl` at the last redraw. */
  records(): MetricsRecord[];
  /** Redraw the curves now. */
  redraw(): void;
}

function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(0)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

const TRAIN_KEYS = ['loss', 'loss_l1', 'loss_contrastive'];

/**
 * The records with the training-loss fields removed from validation records (the loops log those as NaN/null, which
 * would otherwise break the training curves into segments at every validation).
 */
function withoutValidationGaps(records: readonly MetricsRecord[]): MetricsRecord[] {
  return records.map((r) => {
    if (!('val_loss' in r || 'val_dice' in r) || TRAIN_KEYS.some((k) => typeof r[k] === 'number' && Number.isFinite(r[k]))) return r;
    const c: MetricsRecord = { ...r };
    for (const k of TRAIN_KEYS) delete c[k];
    return c;
  });
}

/** The loss (and Dice) figures of a run's records, as the live monitor and the notebooks show them. */
export function trainingCurvesSpecs(records: readonly MetricsRecord[], kind: 'pretrain' | 'finetune', o: { logY?: boolean; height?: number } = {}): PlotlySpec[] {
  const logY = o.logY ?? kind === 'pretrain';
  const height = o.height ?? 380;
  const title = kind === 'pretrain' ? 'Pretraining losses' : 'Fine-tuning loss (DiceCE)';
  const recs = withoutValidationGaps(records);
  const specs = [lossCurvesSpec(recs, { logY, height, title: logY ? `${title} (log scale)` : title })];
  if (kind === 'finetune') {
    const dice = diceCurvesSpec(recs, { height, title: 'Validation Dice (click an organ in the legend to show its curve)' });
    // 15 legend entries: a column on the right instead of rows under the plot.
    dice.layout.legend = { orientation: 'v', x: 1.02, xanchor: 'left', y: 1, font: { size: 11 } };
    dice.layout.margin = { l: 70, r: 20, t: 50, b: 50 };
    specs.push(dice);
  }
  return specs;
}

/**
 * A live panel for a training run: a status line (step, elapsed, ETA, the loop's own status), the curves from
 * `metrics.jsonl` (redrawn as the run logs), and the last log lines (validation results, checkpoints).
 *
 * ```ts
 * const monitor = viz.trainingMonitor(tslab.newDisplay, { runDir: config.logdir, kind: 'pretrain' });
 * await pretrain(config, monitor.options);
 * ```
 */
export function trainingMonitor(newDisplay: () => HtmlDisplay, o: TrainingMonitorOptions): TrainingMonitor {
  const kind = o.kind ?? 'pretrain';
  // plotly.js goes in an output of its own: the others are overwritten on every update.
  if (o.runDir !== null && !plotlyShown) loadPlotly(newDisplay());
  const status = newDisplay();
  const chart = o.runDir === null ? null : new LivePlot(newDisplay(), o.everyMs ?? 2000, o.name ?? `${kind}-curves`);
  const logDisplay = newDisplay();
  const metricsFile = o.runDir === null ? null : path.join(path.resolve(o.runDir), 'metrics.jsonl');
  const lines: string[] = [];
  const keep = o.logLines ?? 12;
  let records: MetricsRecord[] = [];
  let total = 0;
  let label = '';
  let t0 = Date.now();
  let startValue = 0;
  let lastStatus = 0;

  const read = () => {
    if (!metricsFile) return;
    try {
      records = parseMetricsJsonl(readFileSync(metricsFile, 'utf8')).records;
    } catch {
      records = [];
    }
  };
  const draw = (force: boolean) => {
    if (!chart) return;
    read();
    if (records.length) chart.update(trainingCurvesSpecs(records, kind, { logY: o.logY }), force);
  };
  const showStatus = (value: number, text: string, force = false) => {
    const now = Date.now();
    if (!force && now - lastStatus < 500) return;
    lastStatus = now;
    const el = (now - t0) / 1000;
    const done = value - startValue;
    const eta = done > 0 ? (el / done) * (total - value) : NaN;
    const pct = total ? Math.round((100 * value) / total) : 0;
    status.html(
      `<div style="font-family:monospace;font-size:13px"><b>${escapeHtml(label)}</b> ` +
        `<progress value="${value}" max="${total || 1}" style="width:240px;vertical-align:middle"></progress> ` +
        `${value}/${total} (${pct} %) | ${fmtSeconds(el)} elapsed | ETA ${fmtSeconds(eta)}<br>${escapeHtml(text)}</div>`,
    );
  };
  const showLog = () => {
    logDisplay.html(`<pre style="font-size:12px;margin:0">${escapeHtml(lines.slice(-keep).join('\n'))}</pre>`);
  };
  const log = (line: string) => {
    lines.push(line);
    showLog();
  };
  const progress: Progress = {
    start(t, value, l) {
      total = t;
      label = l;
      startValue = value;
      t0 = Date.now();
      showStatus(value, 'starting…', true);
    },
    update(value, text) {
      showStatus(value, text, value >= total);
      draw(false);
    },
    stop() {
      showStatus(total, 'finished', true);
      draw(true);
    },
    line: log,
  };
  return {
    options: { progress, log, quiet: true },
    progress,
    log,
    lines,
    records: () => records,
    redraw: () => draw(true),
  };
}
