/**
 * Raster images for figures: window/level to 8-bit grey, a label colour map, nearest-neighbour upscaling, and a
 * grid (montage) composer with thin separators. Images are RGBA, row-major, 4 bytes per pixel (what pngjs takes).
 */
import { ArgumentError } from '../errors';
import type { Slice2D } from './slices';

export interface RgbaImage {
  width: number;
  height: number;
  /** RGBA, row-major, `4 * width * height` bytes. */
  data: Uint8Array;
}

export type Rgb = [number, number, number];

/** Display range: values ≤ min are black, ≥ max white. */
export interface Window {
  min: number;
  max: number;
}

/** Window from a radiological width/level pair (e.g. level 40, width 400 HU). */
export function windowFromLevel(level: number, width: number): Window {
  return { min: level - width / 2, max: level + width / 2 };
}

/** matshow3d's default: nan-min and nan-max over the values (finite ones), or {0, 1} when there are none. */
export function autoWindow(...arrays: ArrayLike<number>[]): Window {
  let min = Infinity;
  let max = -Infinity;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      const v = a[i];
      if (Number.isFinite(v)) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
  }
  return Number.isFinite(min) ? { min, max } : { min: 0, max: 1 };
}

/** Map values to 0..255 through a window (linear, clipped; NaN → 0). A zero-width window maps v ≥ max to 255. */
export function toGray8(values: ArrayLike<number>, w: Window): Uint8Array {
  const out = new Uint8Array(values.length);
  const span = w.max - w.min;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) out[i] = 0;
    else if (span <= 0) out[i] = v >= w.max ? 255 : 0;
    else out[i] = Math.round(255 * Math.min(1, Math.max(0, (v - w.min) / span)));
  }
  return out;
}

/** Distinct colours for label ids 1..13 (0 = background, black); ids beyond wrap around. */
export const LABEL_PALETTE: Rgb[] = [
  [0, 0, 0],
  [230, 25, 75],
  [60, 180, 75],
  [255, 225, 25],
  [0, 130, 200],
  [245, 130, 48],
  [145, 30, 180],
  [70, 240, 240],
  [240, 50, 230],
  [210, 245, 60],
  [250, 190, 212],
  [0, 128, 128],
  [220, 190, 255],
  [170, 110, 40],
];

export function labelColor(id: number, palette: Rgb[] = LABEL_PALETTE): Rgb {
  const k = Math.round(id);
  if (!(k > 0)) return palette[0];
  return palette[1 + ((k - 1) % (palette.length - 1))];
}

/** A slice as a grey RGBA image through a window. */
export function grayImage(s: Slice2D, w: Window): RgbaImage {
  const g = toGray8(s.data, w);
  const data = new Uint8Array(4 * g.length);
  for (let i = 0; i < g.length; i++) {
    data[4 * i] = data[4 * i + 1] = data[4 * i + 2] = g[i];
    data[4 * i + 3] = 255;
  }
  return { width: s.cols, height: s.rows, data };
}

/** A label slice as an RGBA image (ids rounded; 0 black). */
export function labelImage(s: Slice2D, palette: Rgb[] = LABEL_PALETTE): RgbaImage {
  const data = new Uint8Array(4 * s.data.length);
  for (let i = 0; i < s.data.length; i++) {
    const [r, g, b] = labelColor(s.data[i], palette);
    data[4 * i] = r;
    data[4 * i + 1] = g;
    data[4 * i + 2] = b;
    data[4 * i + 3] = 255;
  }
  return { width: s.cols, height: s.rows, data };
}

/** Nearest-neighbour upscaling by an integer factor. */
export function upscale(img: RgbaImage, factor: number): RgbaImage {
  if (!Number.isInteger(factor) || factor < 1) throw new ArgumentError(`scale must be a positive integer, got ${factor}`);
  if (factor === 1) return img;
  const width = img.width * factor;
  const height = img.height * factor;
  const data = new Uint8Array(4 * width * height);
  for (let y = 0; y < height; y++) {
    const sy = Math.floor(y / factor);
    for (let x = 0; x < width; x++) {
      const s = 4 * (sy * img.width + Math.floor(x / factor));
      const d = 4 * (y * width + x);
      data[d] = img.data[s];
      data[d + 1] = img.data[s + 1];
      data[d + 2] = img.data[s + 2];
      data[d + 3] = img.data[s + 3];
    }
  }
  return { width, height, data };
}

export interface MontageOptions {
  /** Separator width in pixels between tiles and around the border; default 2. */
  gap?: number;
  /** Separator colour; default a mid grey. */
  background?: Rgb;
}

/** Where each tile sits in a montage (pixels). */
export interface MontageLayout {
  width: number;
  height: number;
  cellWidth: number;
  cellHeight: number;
  gap: number;
  /** Top-left corner of tile (row r, column c): `x = gap + c * (cellWidth + gap)`, likewise for y. */
  origin(r: number, c: number): { x: number; y: number };
}

export function montageLayout(nRows: number, nCols: number, cellWidth: number, cellHeight: number, gap = 2): MontageLayout {
  return {
    width: gap + nCols * (cellWidth + gap),
    height: gap + nRows * (cellHeight + gap),
    cellWidth,
    cellHeight,
    gap,
    origin: (r, c) => ({ x: gap + c * (cellWidth + gap), y: gap + r * (cellHeight + gap) }),
  };
}

/**
 * Compose a grid of tiles (`grid[row][col]`, all rows the same length; missing tiles are left as background).
 * Cells are sized to the largest tile; smaller tiles sit at the cell's top-left corner.
 */
export function montage(grid: Array<Array<RgbaImage | null>>, opts: MontageOptions = {}): { image: RgbaImage; layout: MontageLayout } {
  const gap = opts.gap ?? 2;
  const bg = opts.background ?? [128, 128, 128];
  const nRows = grid.length;
  const nCols = Math.max(0, ...grid.map((r) => r.length));
  let cw = 0;
  let ch = 0;
  for (const row of grid) for (const t of row) if (t) ((cw = Math.max(cw, t.width)), (ch = Math.max(ch, t.height)));
  const layout = montageLayout(nRows, nCols, cw, ch, gap);
  const data = new Uint8Array(4 * layout.width * layout.height);
  for (let i = 0; i < layout.width * layout.height; i++) {
    data[4 * i] = bg[0];
    data[4 * i + 1] = bg[1];
    data[4 * i + 2] = bg[2];
    data[4 * i + 3] = 255;
  }
  grid.forEach((row, r) =>
    row.forEach((t, c) => {
      if (!t) return;
      const { x: ox, y: oy } = layout.origin(r, c);
      for (let y = 0; y < t.height; y++) {
        const src = t.data.subarray(4 * y * t.width, 4 * (y + 1) * t.width);
        data.set(src, 4 * ((oy + y) * layout.width + ox));
      }
    }),
  );
  return { image: { width: layout.width, height: layout.height, data }, layout };
}
