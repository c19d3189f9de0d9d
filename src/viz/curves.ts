/**
 * Training curves from a run's `metrics.jsonl` (one JSON object per logged step, written by the training loops):
 * a robust reader (malformed lines are skipped and counted, never fatal: a run still writing its last line, or a
 * crash mid-write, must not break the report) and plotly figure specs `{data, layout}` for
 *
 * - the losses (`lossCurvesSpec`): total, L1 and contrastive training loss per logged step, validation loss (mean L1)
 *   at the validation steps; optionally log-scaled (the contrastive term is ~100× smaller than the others), and
 * - the validation Dice (`diceCurvesSpec`): the mean over classes and cases, the tutorial's running-mean variant and
 *   one trace per organ (class 1..K−1, BTCV names),
 * - throughput and resources (`systemCurvesSpec`): samples/s, learning rate, RSS and live tensor count.
 *
 * These are pure functions of the parsed records; `report.ts` puts them on a page, the notebooks reuse them
 * (`Plotly.newPlot(div, spec.data, spec.layout)`).
 */
import { promises as fsp } from 'node:fs';
import { BTCV_LABEL_NAMES } from '../synth/labels';
import type { PlotlySpec } from './figures';

/** One line of `metrics.jsonl`. Numeric fields may be `null` where the value was NaN/∞ (JSON has no NaN). */
export interface MetricsRecord {
  step: number;
  epoch?: number;
  loss?: number | null;
  lr?: number | null;
  time_s?: number | null;
  samples_per_s?: number | null;
  /** Pretraining: the reconstruction (L1) term. */
  loss_l1?: number | null;
  /** Pretraining: the contrastive term. */
  loss_contrastive?: number | null;
  /** Pretraining validation: mean L1 over the validation batches. */
  val_loss?: number | null;
  /** Fine-tuning validation: mean Dice over classes and cases. */
  val_dice?: number | null;
  /** Fine-tuning validation: Dice per class 1..K−1 (index j = class j+1). */
  val_dice_per_class?: Array<number | null>;
  /** Fine-tuning validation: the tutorial's `mean_dice_val` (running mean over cases). */
  val_dice_running_mean?: number | null;
  num_tensors?: number | null;
  rss_mb?: number | null;
  [key: string]: unknown;
}

export interface MalformedLine {
  /** 1-based line number in the file. */
  line: number;
  reason: string;
}

export interface ParsedMetrics {
  /**
   * Valid records, sorted by step. Lines of one step are merged, the later line's non-null values winning: a
   * validation line (`loss: null`, `val_*` set) completes its step's training line, and a step redone after a
   * resume replaces the earlier values.
   */
  records: MetricsRecord[];
  /** Lines skipped because they are not a JSON object with a finite numeric `step` (blank lines are not counted). */
  malformed: number;
  malformedLines: MalformedLine[];
  /** Later training lines that replaced an earlier training line of the same step (a resumed run). */
  duplicates: number;
}

/** Parse the text of a `metrics.jsonl`. Never throws. */
export function parseMetricsJsonl(text: string): ParsedMetrics {
  const byStep = new Map<number, MetricsRecord>();
  const malformedLines: MalformedLine[] = [];
  let duplicates = 0;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      malformedLines.push({ line: i + 1, reason: `not JSON (${(e as Error).message})` });
      return;
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      malformedLines.push({ line: i + 1, reason: 'not a JSON object' });
      return;
    }
    const rec = v as Record<string, unknown>;
    if (typeof rec.step !== 'number' || !Number.isFinite(rec.step)) {
      malformedLines.push({ line: i + 1, reason: "no numeric 'step'" });
      return;
    }
    const prev = byStep.get(rec.step);
    if (!prev) {
      byStep.set(rec.step, rec as MetricsRecord);
      return;
    }
    if (typeof rec.loss === 'number' && typeof prev.loss === 'number') duplicates++;
    const merged: Record<string, unknown> = { ...prev };
    for (const [k, val] of Object.entries(rec)) if (val !== null && val !== undefined) merged[k] = val;
    byStep.set(rec.step, merged as MetricsRecord);
  });
  const records = [...byStep.values()].sort((a, b) => a.step - b.step);
  return { records, malformed: malformedLines.length, malformedLines, duplicates };
}

/** Read and parse `metrics.jsonl`; a missing file is an empty log (the run has not logged yet). */
export async function readMetrics(file: string): Promise<ParsedMetrics & { missing: boolean }> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], malformed: 0, malformedLines: [], duplicates: 0, missing: true };
    throw e;
  }
  return { ...parseMetricsJsonl(text), missing: false };
}

/** A finite number, or null (missing, null, NaN, ∞, not a number). */
export function finiteOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export type XAxis = 'step' | 'epoch';

export interface Series {
  x: number[];
  y: Array<number | null>;
}

/**
 * The (x, y) points of one field: every record that has the key (so a NaN loss, logged as null, is a gap in the
 * line), x = step or epoch. `x = 'epoch'` uses the record's `epoch` (records without one are left out).
 */
export function series(records: readonly MetricsRecord[], key: string, x: XAxis = 'step'): Series {
  const xs: number[] = [];
  const ys: Array<number | null> = [];
  for (const r of records) {
    if (!(key in r)) continue;
    const xv = x === 'step' ? r.step : finiteOrNull(r.epoch);
    if (xv === null) continue;
    xs.push(xv);
    ys.push(finiteOrNull(r[key]));
  }
  return { x: xs, y: ys };
}

/** Per-class Dice series: element j is class j+1; x = the steps where `val_dice_per_class` was logged. */
export function perClassSeries(records: readonly MetricsRecord[], x: XAxis = 'step'): Series[] {
  const rows = records.filter((r) => Array.isArray(r.val_dice_per_class));
  const k = rows.reduce((m, r) => Math.max(m, (r.val_dice_per_class as unknown[]).length), 0);
  const out: Series[] = Array.from({ length: k }, () => ({ x: [], y: [] }));
  for (const r of rows) {
    const xv = x === 'step' ? r.step : finiteOrNull(r.epoch);
    if (xv === null) continue;
    const a = r.val_dice_per_class as unknown[];
    for (let j = 0; j < k; j++) {
      out[j].x.push(xv);
      out[j].y.push(finiteOrNull(a[j]));
    }
  }
  return out;
}

/**
 * At most `maxPoints` points: consecutive buckets of ⌈n/maxPoints⌉ points become one point (mean x, mean of the
 * finite y values, null if none). Returns the input unchanged when it is short enough. `bucket` is the bucket size.
 */
export function decimate(s: Series, maxPoints?: number): Series & { bucket: number } {
  const n = s.x.length;
  if (!maxPoints || maxPoints < 1 || n <= maxPoints) return { ...s, bucket: 1 };
  const b = Math.ceil(n / maxPoints);
  const x: number[] = [];
  const y: Array<number | null> = [];
  for (let i = 0; i < n; i += b) {
    const end = Math.min(n, i + b);
    let sx = 0;
    let sy = 0;
    let ny = 0;
    for (let j = i; j < end; j++) {
      sx += s.x[j];
      const v = s.y[j];
      if (v !== null) {
        sy += v;
        ny++;
      }
    }
    x.push(sx / (end - i));
    y.push(ny ? sy / ny : null);
  }
  return { x, y, bucket: b };
}

export interface CurveOptions {
  /** x axis: logged step (default) or epoch. */
  x?: XAxis;
  /** Log-scaled y axis (losses). */
  logY?: boolean;
  /** Decimate training traces (one point per logged step) to at most this many points; validation traces are kept. */
  maxPoints?: number;
  title?: string;
  height?: number;
}

const COLORS = {
  total: '#1f77b4',
  l1: '#2ca02c',
  contrastive: '#9467bd',
  val: '#d62728',
  dice: '#d62728',
  running: '#ff7f0e',
};

function hasAny(s: Series): boolean {
  return s.y.some((v) => v !== null);
}

function lineTrace(name: string, s: Series & { bucket?: number }, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const label = s.bucket && s.bucket > 1 ? `${name} (mean of ${s.bucket} points)` : name;
  return { type: 'scatter', mode: 'lines', name: label, x: s.x, y: s.y, connectgaps: false, ...extra };
}

function baseLayout(title: string, xTitle: string, yTitle: string, o: CurveOptions): Record<string, unknown> {
  return {
    title: { text: title },
    xaxis: { title: { text: xTitle }, showgrid: true },
    yaxis: { title: { text: yTitle }, showgrid: true, type: o.logY ? 'log' : 'linear' },
    legend: { orientation: 'h', y: -0.2 },
    hovermode: 'x unified',
    margin: { l: 70, r: 20, t: 50, b: 80 },
    height: o.height ?? 420,
  };
}

/**
 * Loss curves: training total `loss`, `loss_l1` and `loss_contrastive` (when logged) per logged step, and the
 * validation loss `val_loss` (markers + lines) at the validation steps. Empty `data` when nothing was logged.
 */
export function lossCurvesSpec(records: readonly MetricsRecord[], o: CurveOptions = {}): PlotlySpec {
  const x = o.x ?? 'step';
  const data: Array<Record<string, unknown>> = [];
  const train: Array<[string, string, string]> = [
    ['loss', 'train loss (total)', COLORS.total],
    ['loss_l1', 'train L1 (reconstruction)', COLORS.l1],
    ['loss_contrastive', 'train contrastive', COLORS.contrastive],
  ];
  for (const [key, name, color] of train) {
    const s = series(records, key, x);
    if (hasAny(s)) data.push(lineTrace(name, decimate(s, o.maxPoints), { line: { color, width: 1.5 } }));
  }
  const v = series(records, 'val_loss', x);
  if (hasAny(v)) data.push(lineTrace('validation loss (mean L1)', v, { mode: 'lines+markers', line: { color: COLORS.val, width: 2 }, marker: { size: 5 } }));
  return { data, layout: baseLayout(o.title ?? 'Losses', x, o.logY ? 'loss (log scale)' : 'loss', o) };
}

export interface DiceCurveOptions extends CurveOptions {
  /** Names by class id (0 = background); default the BTCV names. Classes without a name are called `class k`. */
  classNames?: readonly string[];
  /** Add one trace per class (default true). */
  perClass?: boolean;
  /** Show the per-class traces (default false: listed in the legend, one click shows them). */
  perClassVisible?: boolean;
  /** Add the tutorial's running-mean variant when logged (default true). */
  runningMean?: boolean;
}

/**
 * Validation Dice: `val_dice` (mean over classes and cases), `val_dice_running_mean` (the tutorial's variant,
 * dashed) and one trace per class from `val_dice_per_class` (class j+1 at index j), y in [0, 1].
 */
export function diceCurvesSpec(records: readonly MetricsRecord[], o: DiceCurveOptions = {}): PlotlySpec {
  const x = o.x ?? 'step';
  const names = o.classNames ?? BTCV_LABEL_NAMES;
  const data: Array<Record<string, unknown>> = [];
  const mean = series(records, 'val_dice', x);
  if (hasAny(mean)) data.push(lineTrace('mean Dice', mean, { mode: 'lines+markers', line: { color: COLORS.dice, width: 3 }, marker: { size: 5 } }));
  if (o.runningMean !== false) {
    const rm = series(records, 'val_dice_running_mean', x);
    if (hasAny(rm)) data.push(lineTrace("mean Dice (tutorial's running mean)", rm, { line: { color: COLORS.running, width: 2, dash: 'dash' } }));
  }
  if (o.perClass !== false) {
    perClassSeries(records, x).forEach((s, j) => {
      const name = names[j + 1] ?? `class ${j + 1}`;
      data.push(lineTrace(`${j + 1} ${name}`, s, { line: { width: 1 }, visible: o.perClassVisible ? true : 'legendonly', legendgroup: 'classes' }));
    });
  }
  const layout = baseLayout(o.title ?? 'Validation Dice', x, 'Dice', o);
  if (!o.logY) (layout.yaxis as Record<string, unknown>).range = [0, 1];
  return { data, layout };
}

/**
 * Throughput and resources, one stacked panel per logged field: samples/s, learning rate, RSS (MiB) and the number of
 * live tensors (a leak shows as a rising line). Panels only for fields with at least one finite value.
 */
export function systemCurvesSpec(records: readonly MetricsRecord[], o: CurveOptions = {}): PlotlySpec {
  const x = o.x ?? 'step';
  const fields: Array<[string, string]> = [
    ['samples_per_s', 'samples/s'],
    ['lr', 'learning rate'],
    ['rss_mb', 'RSS (MiB)'],
    ['num_tensors', 'live tensors'],
  ];
  const present = fields.map(([k, t]) => [k, t, series(records, k, x)] as const).filter(([, , s]) => hasAny(s));
  const n = present.length;
  const gap = 0.06;
  const h = n ? (1 - gap * (n - 1)) / n : 1;
  const data: Array<Record<string, unknown>> = [];
  const layout: Record<string, unknown> = {
    title: { text: o.title ?? 'Throughput and resources' },
    showlegend: false,
    hovermode: 'x unified',
    margin: { l: 80, r: 20, t: 50, b: 50 },
    height: o.height ?? Math.max(260, 170 * n + 80),
  };
  present.forEach(([, title, s], i) => {
    const ax = i === 0 ? '' : String(i + 1);
    data.push(lineTrace(title, decimate(s, o.maxPoints), { xaxis: `x${ax}`, yaxis: `y${ax}`, line: { width: 1.5 } }));
    const top = 1 - i * (h + gap);
    layout[`yaxis${ax}`] = { domain: [top - h, top], title: { text: title }, showgrid: true };
    layout[`xaxis${ax}`] = { anchor: `y${ax}`, showgrid: true, matches: i === 0 ? undefined : 'x', showticklabels: i === n - 1, title: i === n - 1 ? { text: x } : undefined };
  });
  return { data, layout };
}

/** What the metrics say about a run (useful while it has no summary.json yet). */
export interface MetricsOverview {
  records: number;
  firstStep: number | null;
  lastStep: number | null;
  lastEpoch: number | null;
  lastLoss: number | null;
  validations: number;
  /** Lowest `val_loss` (pretraining) and its step. */
  bestValLoss: { value: number; step: number } | null;
  /** Highest `val_dice` (fine-tuning) and its step. */
  bestValDice: { value: number; step: number } | null;
}

export function metricsOverview(records: readonly MetricsRecord[]): MetricsOverview {
  const last = records[records.length - 1];
  let bestValLoss: MetricsOverview['bestValLoss'] = null;
  let bestValDice: MetricsOverview['bestValDice'] = null;
  let validations = 0;
  for (const r of records) {
    const vl = finiteOrNull(r.val_loss);
    const vd = finiteOrNull(r.val_dice);
    if ('val_loss' in r || 'val_dice' in r) validations++;
    if (vl !== null && (bestValLoss === null || vl < bestValLoss.value)) bestValLoss = { value: vl, step: r.step };
    if (vd !== null && (bestValDice === null || vd > bestValDice.value)) bestValDice = { value: vd, step: r.step };
  }
  return {
    records: records.length,
    firstStep: records.length ? records[0].step : null,
    lastStep: last ? last.step : null,
    lastEpoch: last ? finiteOrNull(last.epoch) : null,
    lastLoss: last ? finiteOrNull(last.loss) : null,
    validations,
    bestValLoss,
    bestValDice,
  };
}
