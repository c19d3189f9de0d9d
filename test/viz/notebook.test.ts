/** Notebook display helpers (src/viz/notebook.ts), CT figures (src/viz/ct.ts) and reconstructions (src/viz/reconstruction.ts). */
import * as tf from '@tensorflow/tfjs';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { identity } from '../../src/core/affine';
import type { Volume } from '../../src/core/volume';
import { ViTAutoEnc } from '../../src/nn';
import {
  CT_WINDOWS,
  LivePlot,
  ctSlicesSpec,
  diceBarSpec,
  foregroundSlices,
  overlaySpec,
  plotHtml,
  plotlyHtml,
  plotlyLoaded,
  reconstruct,
  showPlot,
  trainingCurvesSpecs,
  trainingMonitor,
  type HtmlDisplay,
} from '../../src/viz';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ssl3d-nbviz-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A display that records what it was given. */
function recorder(): HtmlDisplay & { shown: string[] } {
  const shown: string[] = [];
  return { shown, html: (s: string) => void shown.push(s) };
}

const spec = { data: [{ type: 'scatter', x: [1, 2], y: [3, 4], name: '</script><b>x' }], layout: { title: { text: 't' }, height: 300 } };

/** The inline scripts of an HTML snippet. */
function scripts(html: string): string[] {
  return [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
}

describe('plotHtml', () => {
  it('is a div and one script that draws into it, with the data escaped for <script>', () => {
    const html = plotHtml(spec, { id: 'p1', name: 'main' });
    expect(html).toMatch(/^<div id="p1" class="ssl3d-plot" data-ssl3d-figure="main" style="width:100%;min-height:300px"><\/div>/);
    const s = scripts(html);
    expect(s).toHaveLength(1);
    expect(s[0]).not.toContain('</script');
    expect(s[0]).toContain('\\u003c/script>');
  });

  it('draws at once when Plotly is there, else queues until plotly.js loads', () => {
    const html = plotHtml(spec, { id: 'p2' });
    const calls: unknown[][] = [];
    const el = { id: 'p2', isConnected: true };
    const makeWindow = (withPlotly: boolean) => {
      const w: Record<string, unknown> = {};
      if (withPlotly) w.Plotly = { newPlot: (...a: unknown[]) => calls.push(a) };
      return w;
    };
    // Plotly present
    let w = makeWindow(true);
    vm.runInNewContext(scripts(html)[0], { window: w, document: { currentScript: { previousElementSibling: el }, getElementById: () => el }, setTimeout });
    expect(calls).toHaveLength(1);
    expect(calls[0][0]).toBe(el);
    expect((calls[0][1] as Array<{ name: string }>)[0].name).toBe('</script><b>x');
    // Plotly not yet loaded: queued, drawn by the bundle's last script
    w = makeWindow(false);
    vm.runInNewContext(scripts(html)[0], { window: w, document: { currentScript: null, getElementById: () => el }, setTimeout });
    expect((w.__ssl3dPlotlyQueue as unknown[]).length).toBe(1);
    w.Plotly = { newPlot: (...a: unknown[]) => calls.push(a) };
    const last = scripts(plotlyHtml()).at(-1)!;
    vm.runInNewContext(last, { window: w });
    expect(calls).toHaveLength(2);
    expect(w.__ssl3dPlotlyQueue).toEqual([]);
  });
});

describe('plotlyHtml / showPlot', () => {
  it('inlines plotly.js with AMD define hidden while it loads', () => {
    const html = plotlyHtml();
    const s = scripts(html);
    expect(s).toHaveLength(3);
    expect(s[0]).toContain('window.define = undefined');
    expect(s[1].length).toBeGreaterThan(1_000_000);
    expect(s[1]).not.toMatch(/<\/script/i);
    expect(s[2]).toContain('window.define = window.__ssl3dDefine');
    expect(plotlyLoaded()).toBe(true);
  });

  it('showPlot shows a chart (the bundle only when this session has not shown it)', () => {
    const d = recorder();
    showPlot(d, [spec, spec], { name: 'two' });
    expect(d.shown).toHaveLength(1);
    expect((d.shown[0].match(/data-ssl3d-figure="two"/g) ?? []).length).toBe(2);
  });
});

describe('LivePlot', () => {
  it('redraws at most every everyMs; flush draws the latest', () => {
    const d = recorder();
    const live = new LivePlot(d, 60_000, 'live');
    live.update(spec);
    live.update({ ...spec, layout: { height: 123 } });
    expect(d.shown).toHaveLength(1);
    live.flush();
    expect(d.shown).toHaveLength(2);
    expect(d.shown[1]).toContain('min-height:123px');
    live.flush();
    expect(d.shown).toHaveLength(2);
    live.update(spec, true);
    expect(d.shown).toHaveLength(3);
  });
});

describe('trainingMonitor', () => {
  it('shows status, curves from metrics.jsonl and log lines; options plug into the training loops', () => {
    const runDir = path.join(tmp, 'run');
    const displays: Array<HtmlDisplay & { shown: string[] }> = [];
    const m = trainingMonitor(() => (displays.push(recorder()), displays.at(-1)!), { runDir, kind: 'finetune', everyMs: 0, name: 'main' });
    expect(displays).toHaveLength(3);
    expect(m.options.quiet).toBe(true);
    m.progress.start(4, 0, 'finetune (pretrained)');
    expect(displays[0].shown.at(-1)).toContain('finetune (pretrained)');
    mkdirSync(runDir, { recursive: true });
    writeFileSync(path.join(runDir, 'metrics.jsonl'), JSON.stringify({ step: 1, epoch: 0, loss: 2.5 }) + '\n');
    m.progress.update(1, 'loss 2.5');
    appendFileSync(path.join(runDir, 'metrics.jsonl'), JSON.stringify({ step: 2, epoch: 0, loss: null, val_dice: 0.2, val_dice_per_class: [0.1, 0.3] }) + '\n');
    m.log('step 2: validation Dice 0.2 <best>');
    m.progress.stop();
    const charts = displays[1].shown;
    expect(charts.length).toBeGreaterThanOrEqual(2);
    expect(charts.at(-1)).toContain('data-ssl3d-figure="main"');
    expect(charts.at(-1)).toContain('mean Dice');
    expect(m.records().map((r) => r.step)).toEqual([1, 2]);
    expect(displays[2].shown.at(-1)).toContain('validation Dice 0.2 &lt;best&gt;');
    expect(m.lines).toEqual(['step 2: validation Dice 0.2 <best>']);
  });

  it('runDir null: status and log only', () => {
    const displays: Array<HtmlDisplay & { shown: string[] }> = [];
    const m = trainingMonitor(() => (displays.push(recorder()), displays.at(-1)!), { runDir: null });
    expect(displays).toHaveLength(2);
    m.progress.start(2, 0, 'x');
    m.progress.update(2, 'done');
    m.progress.stop();
    expect(displays[0].shown.at(-1)).toContain('2/2');
  });

  it('trainingCurvesSpecs: pretraining losses on a log axis; fine-tuning adds Dice', () => {
    const recs = [{ step: 1, loss: 1, loss_l1: 0.5, loss_contrastive: 0.4 }, { step: 1, val_loss: 0.6 }];
    const [p] = trainingCurvesSpecs(recs, 'pretrain');
    expect((p.layout.yaxis as { type: string }).type).toBe('log');
    expect(p.data.map((t) => t.name)).toEqual(['train loss (total)', 'train L1 (reconstruction)', 'train contrastive', 'validation loss (mean L1)']);
    expect(trainingCurvesSpecs(recs, 'finetune')).toHaveLength(2);
  });
});

/** A (1, 8, 6, 5) volume with values = voxel index, and a label map with organ 6 in z 2..3 and organ 1 at z 3. */
function phantom(): { image: Volume; labels: { data: Uint8Array; shape: number[] } } {
  const shape: [number, number, number, number] = [1, 8, 6, 5];
  const n = 8 * 6 * 5;
  const data = new Float32Array(n).map((_, i) => i);
  const labels = new Uint8Array(n);
  for (let x = 2; x < 5; x++) for (let y = 1; y < 4; y++) for (const z of [2, 3]) labels[(x * 6 + y) * 5 + z] = 6;
  labels[(1 * 6 + 1) * 5 + 3] = 1;
  return { image: { data, shape, affine: identity(4) }, labels: { data: labels, shape: [1, 8, 6, 5] } };
}

describe('overlaySpec', () => {
  it('a grey tile per row and slice, labels on top with background transparent, a legend entry per organ', () => {
    const { image, labels } = phantom();
    const s = overlaySpec(image, [{ name: 'CT' }, { name: 'reference', labels }], { slices: 2 });
    const heat = s.data.filter((t) => t.type === 'heatmap');
    expect(heat).toHaveLength(2 + 2 * 2);
    const legend = s.data.filter((t) => t.type === 'scatter').map((t) => t.name);
    expect(legend).toEqual(['1 spleen', '6 liver']);
    const lab = heat.find((t) => String(t.name).startsWith('reference labels'))!;
    const z = lab.z as Array<Array<number | null>>;
    expect(z.flat().filter((v) => v !== null).every((v) => v === 6 || v === 1)).toBe(true);
    expect(z.flat()).toContain(null);
    // slices are taken within the labelled slab z 2..3
    expect(s.layout.annotations as Array<{ text: string }>).toEqual(expect.arrayContaining([expect.objectContaining({ text: 'z = 2' }), expect.objectContaining({ text: 'z = 3' })]));
  });

  it('rejects a label map of another shape', () => {
    const { image } = phantom();
    expect(() => overlaySpec(image, [{ name: 'bad', labels: { data: new Uint8Array(10), shape: [2, 5, 1] } }])).toThrow(/does not match/);
  });

  it('foregroundSlices: spread over the labelled slab, or the whole depth without labels', () => {
    const { labels } = phantom();
    expect(foregroundSlices(5, 2, [labels])).toEqual([2, 3]);
    expect(foregroundSlices(10, 2)).toEqual([2, 7]);
  });

  it('subsamples large tiles', () => {
    const shape: [number, number, number, number] = [1, 300, 200, 3];
    const s = overlaySpec({ data: new Float32Array(300 * 200 * 3), shape, affine: identity(4) }, [{ name: 'CT' }], { slices: 1, maxTile: 100, orientation: 'matshow' });
    const z = s.data[0].z as number[][];
    expect([z.length, z[0].length]).toEqual([100, 67]);
  });
});

describe('ctSlicesSpec / diceBarSpec', () => {
  it('window buttons restyle the grey range of every tile', () => {
    const { image } = phantom();
    const s = ctSlicesSpec(image, { slices: 3 });
    const menu = (s.layout.updatemenus as Array<{ buttons: Array<{ label: string; args: [Record<string, number>, number[]] }> }>)[0];
    expect(menu.buttons.map((b) => b.label)).toEqual(CT_WINDOWS.map((w) => w.name));
    expect(menu.buttons[1].args).toEqual([{ zmin: -57, zmax: 164 }, [0, 1, 2]]);
    expect(s.data[0].zmin).toBe(-160);
  });

  it('one bar per organ, n/a for missing values, the mean as a line', () => {
    const s = diceBarSpec([0.5, null, 0.25], { mean: 0.4 });
    expect(s.data[0].x).toEqual(['1 spleen', '2 rkid', '3 lkid']);
    expect(s.data[0].text).toEqual(['0.50', 'n/a', '0.25']);
    expect((s.layout.shapes as Array<{ y0: number }>)[0].y0).toBe(0.4);
  });
});

describe('reconstruct', () => {
  it('returns (C, X, Y, Z) volumes of the input shape and leaks no tensors', () => {
    const ae = new ViTAutoEnc({ in_channels: 1, img_size: [16, 16, 16], patch_size: [16, 16, 16], hidden_size: 24, mlp_dim: 48, num_layers: 2, num_heads: 2, deconv_chns: 4 }, 0);
    const v: Volume = { data: new Float32Array(16 ** 3).map((_, i) => (i % 7) / 7), shape: [1, 16, 16, 16], affine: identity(4) };
    const before = tf.memory().numTensors;
    const [r] = reconstruct(ae, [v]);
    expect(tf.memory().numTensors).toBe(before);
    expect(r.shape).toEqual([1, 16, 16, 16]);
    expect(r.data.every(Number.isFinite)).toBe(true);
    expect(ae.training).toBe(true);
    ae.dispose();
  });
});

describe('trainingCurvesSpecs: validation records do not cut the training curves', () => {
  it('drops the NaN/null training losses of validation-only records', () => {
    const recs = [
      { step: 1, loss: 1.0 },
      { step: 2, loss: 0.9 },
      { step: 2, loss: null, val_dice: 0.3, val_dice_per_class: [0.3] },
      { step: 3, loss: 0.8 },
    ];
    const [loss, dice] = trainingCurvesSpecs(recs, 'finetune');
    const train = loss.data.find((t) => String(t.name).startsWith('train loss'))!;
    expect(train.y).toEqual([1.0, 0.9, 0.8]);
    expect(dice.data[0].y).toEqual([0.3]);
  });
});
