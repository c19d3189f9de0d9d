/**
 * The tutorial's augmentation figure (spec §8, `SSL_Different_Augviews.png`): rows = volumes (original patch,
 * augmented view 1, augmented view 2; or image crop and label crop), columns = evenly spaced axial slices.
 * Three renderings of one `Figure`: a PNG (clean grid with thin grey separators, no text), a self-contained HTML page
 * (the PNG inlined as base64, with row and column labels), and a plotly-ready JSON spec (heatmap subplots).
 */
import type { Volume } from '../core/volume';
import { ArgumentError } from '../errors';
import { autoWindow, grayImage, labelImage, LABEL_PALETTE, montage, upscale, type MontageLayout, type RgbaImage, type Window } from './image';
import { axialSlice, sliceIndices, sliceToRows, type Slice2D, type SliceOrientation } from './slices';

export interface FigureRow {
  /** Row title, e.g. "Original patch". */
  name: string;
  volume: Volume;
  /** 'image' (grey, windowed) or 'label' (colour per label id); default 'image'. */
  kind?: 'image' | 'label';
}

export interface FigureOptions {
  /** Number of axial slices (columns); default 9 (the tutorial's 3×3 grid). */
  slices?: number;
  orientation?: SliceOrientation;
  /** Grey window shared by all image rows; default: min/max over all image rows (matshow3d's nan-min/nan-max). */
  window?: Window;
  /** Integer nearest-neighbour upscaling of each tile; default: so a tile is about 192 px. */
  scale?: number;
  /** Separator width in (upscaled) pixels; default 2. */
  gap?: number;
  title?: string;
}

export interface Figure {
  title: string;
  rows: Array<{ name: string; kind: 'image' | 'label'; slices: Slice2D[] }>;
  /** Z index of each column. */
  zIndices: number[];
  window: Window;
  orientation: SliceOrientation;
  scale: number;
  /** The montage (RGBA) and where each tile sits in it. */
  image: RgbaImage;
  layout: MontageLayout;
  rowLabels: string[];
  colLabels: string[];
}

export function defaultScale(rows: number, cols: number): number {
  return Math.max(1, Math.floor(192 / Math.max(rows, cols)));
}

export function buildFigure(rows: FigureRow[], opts: FigureOptions = {}): Figure {
  if (rows.length === 0) throw new ArgumentError('a figure needs at least one row');
  const depth = rows[0].volume.shape[3];
  for (const r of rows) {
    const s = r.volume.shape.slice(1).join('×');
    const s0 = rows[0].volume.shape.slice(1).join('×');
    if (s !== s0) throw new ArgumentError(`figure rows must share a spatial shape: '${r.name}' is ${s}, '${rows[0].name}' is ${s0}`);
  }
  const orientation = opts.orientation ?? 'matshow';
  const zIndices = sliceIndices(depth, opts.slices ?? 9);
  const built = rows.map((r) => ({
    name: r.name,
    kind: r.kind ?? 'image',
    slices: zIndices.map((z) => axialSlice(r.volume, z, { orientation })),
  }));
  const window = opts.window ?? autoWindow(...built.filter((r) => r.kind === 'image').flatMap((r) => r.slices.map((s) => s.data)));
  const first = built[0].slices[0];
  const scale = opts.scale ?? defaultScale(first.rows, first.cols);
  const grid = built.map((r) => r.slices.map((s) => upscale(r.kind === 'label' ? labelImage(s) : grayImage(s, window), scale)));
  const { image, layout } = montage(grid, { gap: opts.gap ?? 2 });
  return {
    title: opts.title ?? 'Augmented views',
    rows: built,
    zIndices,
    window,
    orientation,
    scale,
    image,
    layout,
    rowLabels: built.map((r) => r.name),
    colLabels: zIndices.map((z) => `z = ${z}`),
  };
}

export interface PlotlySpec {
  data: Array<Record<string, unknown>>;
  layout: Record<string, unknown>;
}

/** Plotly colorscale mapping integer label ids 0..n-1 to the palette (use with zmin −0.5, zmax n−0.5). */
function labelColorscale(n: number): Array<[number, string]> {
  const cs: Array<[number, string]> = [];
  for (let i = 0; i < n; i++) {
    const [r, g, b] = LABEL_PALETTE[i % LABEL_PALETTE.length];
    const c = `rgb(${r},${g},${b})`;
    cs.push([i / n, c], [(i + 1) / n, c]);
  }
  return cs;
}

/**
 * The figure as a plotly JSON spec `{data, layout}`: one heatmap per tile (row-major: trace k = row ⌊k/cols⌋,
 * column k mod cols), each on its own axes `x{k+1}`/`y{k+1}`, y reversed (row 0 at the top, like matshow), equal
 * aspect, grey colorscale over the shared window for image rows, a discrete palette for label rows; row and column
 * titles as annotations. Render with `Plotly.newPlot(div, spec.data, spec.layout)`.
 */
export function figurePlotlySpec(fig: Figure, digits = 4): PlotlySpec {
  const nR = fig.rows.length;
  const nC = fig.zIndices.length;
  const hGap = 0.01;
  const vGap = 0.03;
  const left = 0.06;
  const top = 0.06;
  const cw = (1 - left - hGap * (nC - 1)) / nC;
  const ch = (1 - top - vGap * (nR - 1)) / nR;
  const nLabels = Math.max(LABEL_PALETTE.length, 1);
  const data: Array<Record<string, unknown>> = [];
  const layout: Record<string, unknown> = {
    title: { text: fig.title },
    showlegend: false,
    width: Math.round(160 * nC + 120),
    height: Math.round(170 * nR + 80),
    margin: { l: 20, r: 20, t: 60, b: 20 },
    plot_bgcolor: 'rgb(128,128,128)',
  };
  const annotations: Array<Record<string, unknown>> = [];
  fig.rows.forEach((row, r) => {
    const y1 = 1 - top - r * (ch + vGap);
    const y0 = y1 - ch;
    annotations.push({ text: row.name, xref: 'paper', yref: 'paper', x: left / 2, y: (y0 + y1) / 2, textangle: -90, showarrow: false, font: { size: 14 } });
    row.slices.forEach((s, c) => {
      const k = r * nC + c + 1;
      const x0 = left + c * (cw + hGap);
      const ax = k === 1 ? '' : String(k);
      const trace: Record<string, unknown> = {
        type: 'heatmap',
        name: `${row.name}, z=${s.z}`,
        z: sliceToRows(s, digits),
        xaxis: `x${ax}`,
        yaxis: `y${ax}`,
        showscale: false,
        hovertemplate: `${row.name}<br>row %{y}, col %{x}, z ${s.z}<br>value %{z}<extra></extra>`,
      };
      if (row.kind === 'label') Object.assign(trace, { colorscale: labelColorscale(nLabels), zmin: -0.5, zmax: nLabels - 0.5 });
      else Object.assign(trace, { colorscale: [[0, 'rgb(0,0,0)'], [1, 'rgb(255,255,255)']], zmin: fig.window.min, zmax: fig.window.max });
      data.push(trace);
      layout[`xaxis${ax}`] = { domain: [x0, x0 + cw], visible: false, constrain: 'domain' };
      layout[`yaxis${ax}`] = { domain: [y0, y1], visible: false, autorange: 'reversed', scaleanchor: `x${ax}`, constrain: 'domain' };
      if (r === 0) annotations.push({ text: fig.colLabels[c], xref: 'paper', yref: 'paper', x: x0 + cw / 2, y: 1 - top / 2, showarrow: false, font: { size: 12 } });
    });
  });
  layout.annotations = annotations;
  return { data, layout };
}

const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);

/**
 * A self-contained HTML page (no external resources): the PNG inlined as a base64 data URI, row labels to its left
 * and column labels above, aligned to the montage's cells; pixelated scaling.
 */
export function figureHtml(fig: Figure, png: Uint8Array, caption = ''): string {
  const L = fig.layout;
  const labelW = 150;
  const labelH = 24;
  const rowLabels = fig.rowLabels
    .map((t, r) => {
      const { y } = L.origin(r, 0);
      return `<div class="rl" style="top:${labelH + y}px;height:${L.cellHeight}px">${esc(t)}</div>`;
    })
    .join('\n');
  const colLabels = fig.colLabels
    .map((t, c) => {
      const { x } = L.origin(0, c);
      return `<div class="cl" style="left:${labelW + x}px;width:${L.cellWidth}px">${esc(t)}</div>`;
    })
    .join('\n');
  const b64 = Buffer.from(png).toString('base64');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(fig.title)}</title>
<style>
body { font-family: sans-serif; margin: 16px; background: #fff; color: #222; }
.fig { position: relative; width: ${labelW + L.width}px; height: ${labelH + L.height}px; }
.fig img { position: absolute; left: ${labelW}px; top: ${labelH}px; width: ${L.width}px; height: ${L.height}px; image-rendering: pixelated; }
.rl { position: absolute; left: 0; width: ${labelW - 8}px; display: flex; align-items: center; justify-content: flex-end; text-align: right; font-weight: bold; }
.cl { position: absolute; top: 0; height: ${labelH}px; text-align: center; font-size: 13px; }
p.caption { color: #555; font-size: 13px; max-width: ${labelW + L.width}px; }
</style>
</head>
<body>
<h2>${esc(fig.title)}</h2>
<div class="fig">
<img alt="${esc(fig.title)}" src="data:image/png;base64,${b64}">
${colLabels}
${rowLabels}
</div>
<p class="caption">${esc(caption)}</p>
</body>
</html>
`;
}
