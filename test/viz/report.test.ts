/** Run report: metrics.jsonl parsing, curve specs, the self-contained HTML page and `ssl3d report`. */
import { Command } from 'commander';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { register, runReport } from '../../src/cli/commands/report';
import { ArgumentError } from '../../src/errors';
import {
  decimate,
  diceCurvesSpec,
  escapeHtml,
  jsonForScript,
  lossCurvesSpec,
  metricsOverview,
  parseMetricsJsonl,
  plotlySource,
  renderReport,
  scriptSafe,
  systemCurvesSpec,
  writeReport,
} from '../../src/viz';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ssl3d-report-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const PLOTLY_VERSION = (JSON.parse(readFileSync(require.resolve('plotly.js-dist-min/package.json'), 'utf8')) as { version: string }).version;

function pretrainLines(): string[] {
  const lines: string[] = [];
  for (let s = 1; s <= 6; s++) {
    const r: Record<string, unknown> = { step: s, epoch: Math.floor((s - 1) / 2), loss: 1 / s, lr: 1e-4, time_s: 0.5, samples_per_s: 16, loss_l1: 0.9 / s, loss_contrastive: 0.01 / s, rss_mb: 500 + s, num_tensors: 300 };
    if (s % 2 === 0) r.val_loss = 0.5 / s;
    lines.push(JSON.stringify(r));
  }
  return lines;
}

function finetuneLines(): string[] {
  const lines: string[] = [];
  for (let s = 0; s < 5; s++) {
    const r: Record<string, unknown> = { step: s, epoch: s, loss: 2 - 0.1 * s, lr: 1e-4, time_s: 1, samples_per_s: 4 };
    if (s === 2 || s === 4) {
      r.val_dice = s / 10;
      r.val_dice_per_class = [s / 10, s / 20, 0];
      r.val_dice_running_mean = s / 11;
    }
    lines.push(JSON.stringify(r));
  }
  return lines;
}

function makeRun(name: string, files: Record<string, string>): string {
  const dir = path.join(tmp, name);
  mkdirSync(path.join(dir, 'checkpoints'), { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text);
  return dir;
}

/** The JSON array of figures the page hands to Plotly.newPlot. */
function pageFigures(html: string): Array<{ id: string; data: Array<Record<string, unknown>>; layout: Record<string, unknown> }> {
  const m = /var figs = (.*);\n/.exec(html);
  expect(m).not.toBeNull();
  return JSON.parse(m![1]);
}

describe('metrics.jsonl parsing', () => {
  it('skips and counts malformed lines (blank lines are not counted), sorts by step, later duplicate wins', () => {
    const text = [
      '{"step": 2, "loss": 0.5}',
      '',
      '{"step": 1, "loss": 0.7}',
      '{"step": 3, "loss": 0.4', // truncated (a crash mid-write)
      '[1, 2]',
      '{"loss": 1}',
      'garbage',
      '{"step": 2, "loss": 0.45}',
      '{"step": 4, "loss": null}',
      '   ',
    ].join('\n');
    const p = parseMetricsJsonl(text);
    expect(p.records.map((r) => [r.step, r.loss])).toEqual([
      [1, 0.7],
      [2, 0.45],
      [4, null],
    ]);
    expect(p.malformed).toBe(4);
    expect(p.malformedLines.map((m) => m.line)).toEqual([4, 5, 6, 7]);
    expect(p.malformedLines[2].reason).toMatch(/step/);
    expect(p.duplicates).toBe(1);
    expect(parseMetricsJsonl('').records).toEqual([]);
  });

  it('overview: best validation values and their steps', () => {
    const o = metricsOverview(parseMetricsJsonl(finetuneLines().join('\n')).records);
    expect(o).toMatchObject({ records: 5, firstStep: 0, lastStep: 4, lastEpoch: 4, validations: 2, bestValDice: { value: 0.4, step: 4 }, bestValLoss: null });
    expect(o.lastLoss).toBeCloseTo(1.6, 12);
  });
});

describe('curve specs', () => {
  const pre = parseMetricsJsonl(pretrainLines().join('\n')).records;
  const ft = parseMetricsJsonl(finetuneLines().join('\n')).records;

  it('losses: total, L1, contrastive per step and validation at the validation steps; log scale option', () => {
    const s = lossCurvesSpec(pre, { logY: true });
    expect(s.data.map((t) => t.name)).toEqual(['train loss (total)', 'train L1 (reconstruction)', 'train contrastive', 'validation loss (mean L1)']);
    expect(s.data[0].x).toEqual([1, 2, 3, 4, 5, 6]);
    expect(s.data[0].y).toEqual([1, 1 / 2, 1 / 3, 1 / 4, 1 / 5, 1 / 6]);
    expect(s.data[2].y).toEqual([0.01, 0.01 / 2, 0.01 / 3, 0.01 / 4, 0.01 / 5, 0.01 / 6]);
    expect(s.data[3].x).toEqual([2, 4, 6]);
    expect(s.data[3].y).toEqual([0.25, 0.125, 0.5 / 6]);
    expect((s.layout.yaxis as { type: string }).type).toBe('log');
    expect((lossCurvesSpec(pre).layout.yaxis as { type: string }).type).toBe('linear');
    const byEpoch = lossCurvesSpec(pre, { x: 'epoch' });
    expect(byEpoch.data[3].x).toEqual([0, 1, 2]);
    // fine-tuning: only the total loss
    expect(lossCurvesSpec(ft).data.map((t) => t.name)).toEqual(['train loss (total)']);
    expect(lossCurvesSpec([]).data).toEqual([]);
  });

  it('decimation: bucket means, validation traces untouched', () => {
    const d = decimate({ x: [1, 2, 3, 4, 5], y: [1, null, 3, null, null] }, 2);
    expect(d).toEqual({ x: [2, 4.5], y: [2, null], bucket: 3 });
    const s = lossCurvesSpec(pre, { maxPoints: 3 });
    expect(s.data[0].x).toEqual([1.5, 3.5, 5.5]);
    expect(s.data[0].name).toBe('train loss (total) (mean of 2 points)');
    expect(s.data[3].x).toEqual([2, 4, 6]);
  });

  it('Dice: mean, running mean, per-class traces named by BTCV class', () => {
    const s = diceCurvesSpec(ft);
    expect(s.data.map((t) => t.name)).toEqual(['mean Dice', "mean Dice (tutorial's running mean)", '1 spleen', '2 rkid', '3 lkid']);
    expect(s.data[0]).toMatchObject({ x: [2, 4], y: [0.2, 0.4] });
    expect(s.data[3]).toMatchObject({ x: [2, 4], y: [0.1, 0.2], visible: 'legendonly' });
    expect((s.layout.yaxis as { range: number[] }).range).toEqual([0, 1]);
    const custom = diceCurvesSpec(ft, { classNames: ['bg', 'a'], perClassVisible: true, runningMean: false });
    expect(custom.data.map((t) => t.name)).toEqual(['mean Dice', '1 a', '2 class 2', '3 class 3']);
    expect(custom.data[1].visible).toBe(true);
    expect(diceCurvesSpec(pre).data).toEqual([]);
  });

  it('system panels only for logged fields', () => {
    const s = systemCurvesSpec(pre);
    expect(s.data.map((t) => t.name)).toEqual(['samples/s', 'learning rate', 'RSS (MiB)', 'live tensors']);
    expect(s.data[2]).toMatchObject({ yaxis: 'y3', y: [501, 502, 503, 504, 505, 506] });
    expect(systemCurvesSpec(ft).data).toHaveLength(2);
  });
});

describe('escaping helpers', () => {
  it('HTML, JSON in <script>, and inlined JS', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    const j = jsonForScript({ s: '</script><!-- \u2028' });
    expect(j).not.toMatch(/<|\u2028/);
    expect(JSON.parse(j)).toEqual({ s: '</script><!-- \u2028' });
    const js = scriptSafe('var a = "</SCRIPT>", b = /<!--x/, c = `<script>`;');
    expect(js).not.toMatch(/<\/script|<!--|<script/i);
    const ctx: Record<string, unknown> = {};
    vm.runInNewContext(js + '; out = [a, b.source, b.test("<!--x"), c];', ctx);
    expect(ctx.out).toEqual(['</SCRIPT>', '\\x3C!--x', true, '<script>']);
  });
});

describe('HTML report', () => {
  const config = {
    kind: 'finetune',
    ssl3d_version: '0.1.0',
    backend: 'cpu',
    created: '2026-11-26T12:00:00Z',
    command: 'ssl3d finetune --config x.json',
    config: { seed: 0, init: 'random', data: { json_path: 'json_files/btcv/dataset_0_init_6.json' }, note: '<script>alert("x")</script> & more' },
  };
  const summary = { kind: 'finetune', best_metric: 0.4, best_step: 4, steps: 5, seconds: 3725, init: 'random', num_train: 6, seed: 0 };
  const log = Array.from({ length: 100 }, (_, i) => `line ${i + 1}${i === 99 ? ' <done> & "ok"' : ''}`).join('\n') + '\n';
  const ftDir = makeRun('finetune', {
    'config.json': JSON.stringify(config),
    'summary.json': JSON.stringify(summary),
    'metrics.jsonl': [...finetuneLines().slice(0, 3), '{"step": 3, "loss": 1.', ...finetuneLines().slice(3)].join('\n') + '\n',
    'log.txt': log,
    'checkpoints/best.safetensors': 'x'.repeat(2048),
    'checkpoints/best.json': '{}',
  });
  let full = '';
  let html = ''; // the page without the inlined plotly.js (small failure messages)

  it('is self-contained: plotly.js inlined, no external scripts or links, every script parses', async () => {
    full = await renderReport(ftDir, { logLines: 20 });
    expect(full.startsWith('<!DOCTYPE html>')).toBe(true);
    const scripts = [...full.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
    expect(scripts).toHaveLength(2); // plotly + the plots
    expect(full.match(/<\/script>/gi)).toHaveLength(2); // nothing inside ends a script early
    expect(full.match(/<script\b/gi)).toHaveLength(2);
    expect(full.match(/<!--/g)).toBeNull(); // the HTML parser never enters the escaped script state
    for (const s of scripts) expect(() => new vm.Script(s)).not.toThrow();
    expect(scripts[0].startsWith(`/**\n* plotly.js v${PLOTLY_VERSION}`)).toBe(true);
    expect(plotlySource().version).toBe(PLOTLY_VERSION);
    expect(scripts[0].length).toBe(plotlySource().source.length + 3); // only the one '<!--' became '\x3C!--'
    html = full.replace(scripts[0], '/* plotly */');
    expect(html.length).toBeLessThan(50_000);
    expect(html).not.toMatch(/<script[^>]*\bsrc=/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//i);
  });

  it('plots the metrics: loss, Dice (mean, per class), throughput', () => {
    const figs = pageFigures(html);
    expect(figs.map((f) => f.id)).toEqual(['plot-loss', 'plot-dice', 'plot-system']);
    for (const f of figs) expect(html).toContain(`<div class="plot" id="${f.id}"></div>`);
    const loss = figs[0].data[0];
    expect(loss.x).toEqual([0, 1, 2, 3, 4]);
    expect((loss.y as number[]).map((v) => +v.toFixed(6))).toEqual([2, 1.9, 1.8, 1.7, 1.6]);
    expect((figs[0].layout.yaxis as { type: string }).type).toBe('linear'); // fine-tuning: linear by default
    const dice = figs[1].data;
    expect(dice[0]).toMatchObject({ name: 'mean Dice', x: [2, 4], y: [0.2, 0.4] });
    expect(dice.map((t) => t.name)).toContain('1 spleen');
  });

  it('shows the config (escaped), summary, checkpoints, malformed-line count and the end of log.txt (escaped)', () => {
    expect(html).toContain('&lt;script&gt;alert(\\&quot;x\\&quot;)&lt;/script&gt; &amp; more');
    expect(html).not.toContain('<script>alert');
    expect(html).toContain('&quot;json_path&quot;: &quot;json_files/btcv/dataset_0_init_6.json&quot;'); // pretty JSON
    expect(html).toContain('ssl3d finetune --config x.json');
    expect(html).toMatch(/best validation Dice<\/th><td>0\.4000/);
    expect(html).toContain('3725.0 s (1 h 2 min 5 s)');
    expect(html).toContain('Skipped 1 malformed line(s) of metrics.jsonl (line 4: not JSON');
    expect(html).toContain('best.safetensors</th><td>2.0 KiB');
    expect(html).toContain('Last 20 of 100 lines of log.txt.');
    expect(html).toContain('line 81\n');
    expect(html).not.toContain('line 80\n');
    expect(html).toContain('line 100 &lt;done&gt; &amp; &quot;ok&quot;</pre>');
  });

  it('a pretraining run in progress: no summary (said so), log-scale losses incl. validation, no Dice plot', async () => {
    const dir = makeRun('pretrain', {
      'config.json': JSON.stringify({ kind: 'pretrain', ssl3d_version: '0.1.0', backend: 'wasm', created: 'now', command: 'ssl3d pretrain', config: { seed: 1 } }),
      'metrics.jsonl': pretrainLines().join('\n') + '\n{"step": 7, "lo',
    });
    const h = await renderReport(dir, { plotlyJs: '/* stub */' });
    expect(h).toContain('summary.json is missing: the run is in progress');
    expect(h).toContain('No log.txt.');
    expect(h).toContain('No files in checkpoints/.');
    const figs = pageFigures(h);
    expect(figs.map((f) => f.id)).toEqual(['plot-loss', 'plot-system']);
    expect((figs[0].layout.yaxis as { type: string }).type).toBe('log');
    expect(figs[0].data.map((t) => t.name)).toContain('validation loss (mean L1)');
    expect(h).toContain('lowest validation loss</th><td>0.0833 at step 6');
  });

  it('errors: not a folder, not a run folder; corrupt config.json is reported on the page', async () => {
    await expect(renderReport(path.join(tmp, 'nope'))).rejects.toThrow(ArgumentError);
    const empty = makeRun('empty', {});
    await expect(renderReport(empty)).rejects.toThrow(/not a run folder/);
    const bad = makeRun('bad', { 'config.json': '{"kind": ', 'metrics.jsonl': '' });
    const h = await renderReport(bad, { plotlyJs: '' });
    expect(h).toContain('config.json could not be read: not valid JSON');
    expect(h).toContain('No curves');
  });

  it('writeReport writes RUN_DIR/report.html by default', async () => {
    const r = await writeReport(ftDir, undefined, { plotlyJs: '' });
    expect(r.out).toBe(path.join(ftDir, 'report.html'));
    expect(readFileSync(r.out).length).toBe(r.bytes);
  });
});

describe('ssl3d report', () => {
  const program = () => {
    const p = new Command();
    p.exitOverride();
    register(p);
    return p;
  };

  it('--help has an example', () => {
    let text = '';
    const cmd = program().commands.find((c) => c.name() === 'report')!;
    cmd.configureOutput({ writeOut: (s) => void (text += s) });
    cmd.outputHelp();
    expect(text).toMatch(/Usage: .*report \[options\] <run_dir>/);
    expect(text).toMatch(/Examples:\n {2}ssl3d report runs\/pretrain/);
    expect(text).toContain('--out <file>');
  });

  it('writes the page with -o and says what it found', async () => {
    const dir = makeRun('cli', { 'metrics.jsonl': finetuneLines().join('\n') + '\nnot json\n' });
    const out = path.join(tmp, 'out', 'r.html');
    const r = await runReport(dir, { out, logLines: 10, maxPoints: 0 });
    expect(r.message).toMatch(/^wrote .*r\.html \([\d.]+ MiB; 5 logged steps; 1 malformed metrics line\(s\) skipped; no summary\.json yet; no config\.json\)$/);
    expect(readFileSync(out, 'utf8')).toContain(`plotly.js v${PLOTLY_VERSION}`);
  });
});

describe('metrics.jsonl merging', () => {
  it("a validation line completes its step's training line; a redone step replaces it", () => {
    const text = [
      '{"step":1,"epoch":0,"loss":3,"lr":0.1,"time_s":1,"samples_per_s":2}',
      '{"step":2,"epoch":0,"loss":2.5,"lr":0.1,"time_s":2,"samples_per_s":2}',
      '{"step":2,"epoch":0,"loss":null,"lr":0.1,"time_s":2.5,"samples_per_s":null,"val_dice":0.4}',
      '{"step":2,"epoch":0,"loss":2.4,"lr":0.1,"time_s":3,"samples_per_s":2}',
    ].join('\n');
    const p = parseMetricsJsonl(text);
    expect(p.records).toHaveLength(2);
    expect(p.records[1]).toMatchObject({ step: 2, loss: 2.4, val_dice: 0.4, samples_per_s: 2 });
    expect(p.duplicates).toBe(1);
  });
});
