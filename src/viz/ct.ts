/**
 * CT figures for the notebooks (plotly specs `{data, layout}`, interactive):
 *
 * - `ctSlicesSpec`: axial slices of a CT in Hounsfield units with window/level buttons (soft tissue, the tutorial's
 *   pretraining window, the fine-tuning window, lung, bone);
 * - `overlaySpec`: rows of axial slices of one CT, each row optionally with a label map drawn over it (ground truth,
 *   prediction), one colour per organ, organ names in the legend;
 * - `diceBarSpec`: per-organ Dice as a bar chart.
 *
 * Volumes are MONAI-layout `(C, X, Y, Z)`; slices use `slices.ts` (default orientation 'radiological' when the affine
 * allows it: anterior up, the patient's right on the viewer's left).
 */
import type { Volume } from '../core/volume';
import { ArgumentError } from '../errors';
import { BTCV_LABEL_NAMES } from '../synth/labels';
import type { PlotlySpec } from './figures';
import { LABEL_PALETTE, windowFromLevel, type Window } from './image';
import { axialSlice, sliceIndices, sliceToRows, type Slice2D, type SliceOrientation } from './slices';

/** A named grey window. */
export interface WindowPreset {
  name: string;
  window: Window;
}

/** Common CT windows (level/width in HU), and the two ranges the tutorial scales to [0, 1] (min…max HU). */
export const CT_WINDOWS: readonly WindowPreset[] = [
  { name: 'soft tissue 40/400', window: windowFromLevel(40, 400) },
  { name: 'pretraining −57…164', window: { min: -57, max: 164 } },
  { name: 'fine-tuning −175…250', window: { min: -175, max: 250 } },
  { name: 'lung −600/1500', window: windowFromLevel(-600, 1500) },
  { name: 'bone 400/1800', window: windowFromLevel(400, 1800) },
];

/** A label map on the same grid as the image: `(1, X, Y, Z)` or `(X, Y, Z)` class ids (any numeric array). */
export interface LabelMap {
  data: ArrayLike<number>;
  shape: readonly number[];
}

export interface OverlayRow {
  name: string;
  /** Class ids to draw over the CT; null/undefined = the CT alone. */
  labels?: LabelMap | null;
}

export interface CtFigureOptions {
  /** Number of axial slices (columns), default 5. */
  slices?: number;
  /** Explicit Z indices (overrides `slices`). */
  zIndices?: number[];
  /** Grey window; default soft tissue (W 400, L 40). */
  window?: Window;
  /** Default 'radiological'. */
  orientation?: SliceOrientation;
  /** Tiles larger than this many pixels on a side are subsampled (nearest) for a lighter figure; default 128. */
  maxTile?: number;
  title?: string;
  /** Label opacity, default 0.45. */
  opacity?: number;
  /** Names by class id (default the BTCV names). */
  classNames?: readonly string[];
  /** Decimals kept for image values (default 1). */
  digits?: number;
}

function toVolume(v: LabelMap, like: Volume): Volume {
  const s = v.shape.length === 4 ? v.shape.slice(1) : v.shape;
  const want = like.shape.slice(1);
  if (s.length !== 3 || s.some((d, i) => d !== want[i])) {
    throw new ArgumentError(`label map shape [${v.shape.join(', ')}] does not match the image's spatial shape [${want.join(', ')}]`);
  }
  const data = v.data instanceof Float32Array ? v.data : Float32Array.from(v.data);
  return { data, shape: [1, s[0], s[1], s[2]], affine: like.affine };
}

function subsample(s: Slice2D, step: number): Slice2D {
  if (step <= 1) return s;
  const rows = Math.ceil(s.rows / step);
  const cols = Math.ceil(s.cols / step);
  const data = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) data[r * cols + c] = s.data[r * step * s.cols + c * step];
  return { data, rows, cols, z: s.z };
}


/** Z indices of `n` slices spread over the slab where any of the label maps has foreground (else the whole depth). */
export function foregroundSlices(depth: number, n: number, labels: readonly LabelMap[] = []): number[] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const l of labels) {
    const Z = l.shape[l.shape.length - 1];
    if (Z !== depth) continue;
    for (let i = 0; i < l.data.length; i++) {
      if (l.data[i] > 0.5) {
        const z = i % Z;
        if (z < lo) lo = z;
        if (z > hi) hi = z;
      }
    }
  }
  if (!Number.isFinite(lo)) return sliceIndices(depth, n);
  return sliceIndices(hi - lo + 1, n).map((z) => z + lo);
}

function rgb(id: number): string {
  const [r, g, b] = LABEL_PALETTE[1 + ((id - 1) % (LABEL_PALETTE.length - 1))];
  return `rgb(${r},${g},${b})`;
}

/** Discrete colourscale for ids 1..K (use with zmin 0.5, zmax K + 0.5). */
function paletteScale(k: number): Array<[number, string]> {
  const cs: Array<[number, string]> = [];
  for (let i = 1; i <= k; i++) cs.push([(i - 1) / k, rgb(i)], [i / k, rgb(i)]);
  return cs;
}

/**
 * Rows of axial slices of `image` (HU or any scale), each row optionally with a label map over it. Trace order: for
 * each tile, the grey image heatmap, then (if the row has labels) the label heatmap (background transparent); then
 * one legend entry per class present. Tiles share axes layout like `figurePlotlySpec` (`x{k}`/`y{k}`, y reversed,
 * equal aspect).
 */
export function overlaySpec(image: Volume, rows: readonly OverlayRow[], o: CtFigureOptions = {}): PlotlySpec {
  if (!rows.length) throw new ArgumentError('overlaySpec: give at least one row');
  const depth = image.shape[3];
  const labelVols = rows.map((r) => (r.labels ? toVolume(r.labels, image) : null));
  const zs = o.zIndices ?? foregroundSlices(depth, o.slices ?? 5, labelVols.filter((v): v is Volume => !!v));
  for (const z of zs) if (!(Number.isInteger(z) && z >= 0 && z < depth)) throw new ArgumentError(`slice index ${z} out of range [0, ${depth})`);
  const orientation = o.orientation ?? 'radiological';
  const window = o.window ?? CT_WINDOWS[0].window;
  const names = o.classNames ?? BTCV_LABEL_NAMES;
  const digits = o.digits ?? 1;
  const opacity = o.opacity ?? 0.45;
  const first = axialSlice(image, zs[0], { orientation });
  const step = Math.max(1, Math.ceil(Math.max(first.rows, first.cols) / (o.maxTile ?? 128)));
  let maxId = 0;
  for (const v of labelVols) if (v) for (let i = 0; i < v.data.length; i++) if (v.data[i] > maxId) maxId = Math.round(v.data[i]);
  const K = Math.max(1, maxId);
  const present = new Set<number>();

  const nR = rows.length;
  const nC = zs.length;
  const left = 0.05;
  const top = 0.08;
  const hGap = 0.01;
  const vGap = 0.03;
  const cw = (1 - left - hGap * (nC - 1)) / nC;
  const ch = (1 - top - vGap * (nR - 1)) / nR;
  const tilePx = 150;
  const data: Array<Record<string, unknown>> = [];
  const annotations: Array<Record<string, unknown>> = [];
  const layout: Record<string, unknown> = {
    title: { text: o.title ?? 'Axial slices' },
    width: Math.round(tilePx * nC / (1 - left) + 40),
    height: Math.round(tilePx * nR / (1 - top) + 120),
    margin: { l: 20, r: 20, t: 60, b: 40 },
    plot_bgcolor: 'rgb(0,0,0)',
    legend: { orientation: 'h', y: -0.02, yanchor: 'top' },
  };
  rows.forEach((row, r) => {
    const y1 = 1 - top - r * (ch + vGap);
    const y0 = y1 - ch;
    annotations.push({ text: row.name, xref: 'paper', yref: 'paper', x: left / 2, y: (y0 + y1) / 2, textangle: -90, showarrow: false, font: { size: 13 } });
    zs.forEach((z, c) => {
      const k = r * nC + c + 1;
      const ax = k === 1 ? '' : String(k);
      const x0 = left + c * (cw + hGap);
      const img = subsample(axialSlice(image, z, { orientation }), step);
      data.push({
        type: 'heatmap',
        name: `${row.name}, z=${z}`,
        z: sliceToRows(img, digits),
        xaxis: `x${ax}`,
        yaxis: `y${ax}`,
        showscale: false,
        colorscale: [[0, 'rgb(0,0,0)'], [1, 'rgb(255,255,255)']],
        zmin: window.min,
        zmax: window.max,
        hovertemplate: `${row.name}, z ${z}<br>row %{y}, col %{x}<br>value %{z}<extra></extra>`,
      });
      const lv = labelVols[r];
      if (lv) {
        const ls = subsample(axialSlice(lv, z, { orientation }), step);
        for (let i = 0; i < ls.data.length; i++) if (ls.data[i] > 0.5) present.add(Math.round(ls.data[i]));
        data.push({
          type: 'heatmap',
          name: `${row.name} labels, z=${z}`,
          z: sliceToRows(ls, 0, true),
          xaxis: `x${ax}`,
          yaxis: `y${ax}`,
          showscale: false,
          opacity,
          colorscale: paletteScale(K),
          zmin: 0.5,
          zmax: K + 0.5,
          hoverinfo: 'skip',
        });
      }
      layout[`xaxis${ax}`] = { domain: [x0, x0 + cw], visible: false, constrain: 'domain' };
      layout[`yaxis${ax}`] = { domain: [y0, y1], visible: false, autorange: 'reversed', scaleanchor: `x${ax}`, constrain: 'domain' };
      if (r === 0) annotations.push({ text: `z = ${z}`, xref: 'paper', yref: 'paper', x: x0 + cw / 2, y: 1 - top / 2, showarrow: false, font: { size: 12 } });
    });
  });
  for (const id of [...present].sort((a, b) => a - b)) {
    data.push({ type: 'scatter', mode: 'markers', x: [null], y: [null], name: `${id} ${names[id] ?? `class ${id}`}`, marker: { color: rgb(id), size: 12, symbol: 'square' }, showlegend: true, hoverinfo: 'skip' });
  }
  layout.showlegend = present.size > 0;
  layout.annotations = annotations;
  return { data, layout };
}

/**
 * Axial slices of a CT with window/level buttons: the grey window of every image tile switches between `presets`
 * (default `CT_WINDOWS`; the first is shown first).
 */
export function ctSlicesSpec(image: Volume, o: CtFigureOptions & { presets?: readonly WindowPreset[] } = {}): PlotlySpec {
  const presets = o.presets ?? CT_WINDOWS;
  if (!presets.length) throw new ArgumentError('ctSlicesSpec: give at least one window preset');
  const spec = overlaySpec(image, [{ name: 'CT' }], {
    ...o,
    window: o.window ?? presets[0].window,
    zIndices: o.zIndices ?? sliceIndices(image.shape[3], o.slices ?? 5),
    title: o.title ?? 'Axial slices',
  });
  const idx = spec.data.map((t, i) => (t.type === 'heatmap' ? i : -1)).filter((i) => i >= 0);
  spec.layout.updatemenus = [
    {
      type: 'buttons',
      direction: 'right',
      x: 0,
      xanchor: 'left',
      y: 1.0,
      yanchor: 'bottom',
      pad: { t: 4, b: 4 },
      buttons: presets.map((p) => ({ label: p.name, method: 'restyle', args: [{ zmin: p.window.min, zmax: p.window.max }, idx] })),
    },
  ];
  spec.layout.margin = { l: 20, r: 20, t: 100, b: 20 };
  spec.layout.height = (spec.layout.height as number) + 40;
  spec.layout.width = Math.max(spec.layout.width as number, 170 * presets.length + 60);
  return spec;
}

/** Per-class Dice (index j = class j + 1, as `val_dice_per_class` and `SegmentationScores.perClass.slice(1)`). */
export function diceBarSpec(perClass: ReadonlyArray<number | null>, o: { classNames?: readonly string[]; title?: string; mean?: number | null } = {}): PlotlySpec {
  const names = o.classNames ?? BTCV_LABEL_NAMES;
  const x = perClass.map((_, j) => `${j + 1} ${names[j + 1] ?? `class ${j + 1}`}`);
  const data: Array<Record<string, unknown>> = [
    {
      type: 'bar',
      x,
      y: perClass.map((v) => (v === null || !Number.isFinite(v) ? null : v)),
      marker: { color: perClass.map((_, j) => rgb(j + 1)) },
      text: perClass.map((v) => (v === null || !Number.isFinite(v) ? 'n/a' : v.toFixed(2))),
      textposition: 'outside',
      name: 'Dice',
      hovertemplate: '%{x}: %{y:.3f}<extra></extra>',
    },
  ];
  const layout: Record<string, unknown> = {
    title: { text: o.title ?? 'Dice per organ' },
    yaxis: { title: { text: 'Dice' }, range: [0, 1.1] },
    xaxis: { tickangle: -30 },
    showlegend: false,
    height: 380,
    margin: { l: 60, r: 20, t: 50, b: 90 },
  };
  if (o.mean !== undefined && o.mean !== null && Number.isFinite(o.mean)) {
    layout.shapes = [{ type: 'line', xref: 'paper', x0: 0, x1: 1, y0: o.mean, y1: o.mean, line: { color: '#444', dash: 'dash', width: 1.5 } }];
    layout.annotations = [{ xref: 'paper', x: 1, y: o.mean, yanchor: 'bottom', xanchor: 'right', text: `mean ${o.mean.toFixed(3)}`, showarrow: false }];
  }
  return { data, layout };
}
