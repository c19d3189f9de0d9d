/**
 * Axial slices of a channel-first volume, as 2-D row-major images ready for display.
 *
 * Orientation `'matshow'` (default) reproduces MONAI's `matshow3d(volume, frame_dim=-1)` on a `(C, X, Y, Z)` array:
 * each frame is `volume[c, :, :, z]`, shown with row = X index (row 0 at the top) and column = Y index. For RAS data
 * (the fine-tuning pipeline reorients to RAS) that puts the patient's left at the top and anterior on the right.
 *
 * Orientation `'radiological'` uses the affine: anterior at the top, the patient's right on the viewer's left, seen
 * from the feet (the usual axial CT view). It needs the two in-plane voxel axes to be the L-R and A-P world axes
 * (true for any axial acquisition, e.g. RAS, LPS, PLS); otherwise it falls back to `'matshow'`.
 */
import { ioOrientation } from '../core/affine';
import type { Volume } from '../core/volume';
import { ArgumentError } from '../errors';

export type SliceOrientation = 'matshow' | 'radiological';

/** A 2-D image, row-major: `data[r * cols + c]`. */
export interface Slice2D {
  data: Float32Array;
  rows: number;
  cols: number;
  /** The Z (third spatial axis) index this slice was taken at. */
  z: number;
}

export interface SliceOptions {
  /** Channel to take; default 0. */
  channel?: number;
  orientation?: SliceOrientation;
}

/** `n` evenly spaced indices in [0, depth): the centres of n equal bins (so never both edges). n is capped at depth. */
export function sliceIndices(depth: number, n: number): number[] {
  if (!Number.isInteger(n) || n < 1) throw new ArgumentError(`number of slices must be a positive integer, got ${n}`);
  if (depth < 1) throw new ArgumentError(`volume has no slices (depth ${depth})`);
  const k = Math.min(n, depth);
  return Array.from({ length: k }, (_, i) => Math.min(depth - 1, Math.floor(((i + 0.5) * depth) / k)));
}

/** The display size and the map from display (row, col) to voxel (x, y) for the requested orientation. */
function planeMap(v: Volume, orientation: SliceOrientation): { rows: number; cols: number; at: (r: number, c: number) => [number, number] } {
  const [, X, Y] = v.shape;
  if (orientation === 'radiological') {
    const ornt = ioOrientation(v.affine);
    const a0 = ornt[0][0];
    const a1 = ornt[1][0];
    if (ornt[2][0] === 2 && ((a0 === 0 && a1 === 1) || (a0 === 1 && a1 === 0))) {
      // world axis 0 = L→R (+ towards R), world axis 1 = P→A (+ towards A).
      // display: rows go from A (top) to P; cols go from R (left) to L.
      const lrAxis = a0 === 0 ? 0 : 1; // voxel axis along L-R
      const apAxis = 1 - lrAxis;
      const lrSign = ornt[lrAxis][1];
      const apSign = ornt[apAxis][1];
      const size = [X, Y];
      const rows = size[apAxis];
      const cols = size[lrAxis];
      return {
        rows,
        cols,
        at: (r, c) => {
          // row 0 = most anterior: voxel index along apAxis largest when apSign>0
          const ia = apSign > 0 ? rows - 1 - r : r;
          // col 0 = most right: voxel index along lrAxis largest when lrSign>0
          const il = lrSign > 0 ? cols - 1 - c : c;
          const idx = [0, 0];
          idx[apAxis] = ia;
          idx[lrAxis] = il;
          return [idx[0], idx[1]];
        },
      };
    }
  } else if (orientation !== 'matshow') {
    throw new ArgumentError(`unknown slice orientation '${orientation as string}'; use matshow or radiological`);
  }
  return { rows: X, cols: Y, at: (r, c) => [r, c] };
}

/** The axial slice at Z index `z` (see the module comment for the orientation). */
export function axialSlice(v: Volume, z: number, opts: SliceOptions = {}): Slice2D {
  const [C, X, Y, Z] = v.shape;
  const ch = opts.channel ?? 0;
  if (!(ch >= 0 && ch < C)) throw new ArgumentError(`channel ${ch} out of range for a volume with ${C} channel(s)`);
  if (!(Number.isInteger(z) && z >= 0 && z < Z)) throw new ArgumentError(`slice index ${z} out of range [0, ${Z})`);
  const { rows, cols, at } = planeMap(v, opts.orientation ?? 'matshow');
  const out = new Float32Array(rows * cols);
  const base = ch * X * Y * Z;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const [x, y] = at(r, c);
      out[r * cols + c] = v.data[base + (x * Y + y) * Z + z];
    }
  }
  return { data: out, rows, cols, z };
}

/** `n` evenly spaced axial slices (`sliceIndices`), top to bottom of the Z axis in index order. */
export function axialSlices(v: Volume, n: number, opts: SliceOptions = {}): Slice2D[] {
  return sliceIndices(v.shape[3], n).map((z) => axialSlice(v, z, opts));
}

/** A slice as nested rows (for JSON/plotly): `rows[r][c]`; NaN (and, with `zeroAsNull`, label 0) becomes null. */
export function sliceToRows(s: Slice2D, digits = 4, zeroAsNull = false): Array<Array<number | null>> {
  const f = 10 ** digits;
  const out: Array<Array<number | null>> = [];
  for (let r = 0; r < s.rows; r++) {
    const row: Array<number | null> = new Array(s.cols);
    for (let c = 0; c < s.cols; c++) {
      const v = s.data[r * s.cols + c];
      row[c] = !Number.isFinite(v) || (zeroAsNull && Math.round(v) === 0) ? null : Math.round(v * f) / f;
    }
    out.push(row);
  }
  return out;
}
