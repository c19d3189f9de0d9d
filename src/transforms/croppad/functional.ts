/** Crop/pad math shared by the array and dictionary transforms (MONAI `SpatialCrop`, `CropForeground`, `SpatialPad`). */
import { matmul, identity } from '../../core/affine';
import type { Volume } from '../../core/volume';

/** 4×4 translation by `t` voxels. */
function translate(t: readonly number[]): number[][] {
  const m = identity(4);
  for (let i = 0; i < 3; i++) m[i][3] = t[i];
  return m;
}

/**
 * Take the box [start, end) of every channel (end exclusive). Parts of the box outside the volume are filled with
 * `value` (MONAI crop_pad), so negative starts pad. The affine moves with the box: A · T(start).
 */
export function cropOrPad(v: Volume, start: readonly number[], end: readonly number[], value = 0): Volume {
  const [C, X, Y, Z] = v.shape;
  const size = [0, 1, 2].map((i) => Math.max(end[i] - start[i], 0));
  const [A, B, D] = size;
  const out = new Float32Array(C * A * B * D);
  if (value !== 0) out.fill(value);
  // index ranges (in output coordinates) that fall inside the input
  const lo = [0, 1, 2].map((i) => Math.max(0, -start[i]));
  const dims = [X, Y, Z];
  const hi = [0, 1, 2].map((i) => Math.min(size[i], dims[i] - start[i]));
  for (let c = 0; c < C; c++) {
    for (let a = lo[0]; a < hi[0]; a++) {
      for (let b = lo[1]; b < hi[1]; b++) {
        const srcRow = ((c * X + (a + start[0])) * Y + (b + start[1])) * Z + start[2];
        const dstRow = ((c * A + a) * B + b) * D;
        if (hi[2] > lo[2]) out.set(v.data.subarray(srcRow + lo[2], srcRow + hi[2]), dstRow + lo[2]);
      }
    }
  }
  return { data: out, shape: [C, A, B, D], affine: matmul(v.affine, translate(start)) };
}

/**
 * MONAI `generate_spatial_bounding_box`: the box of voxels where `select(value)` is true in any channel, grown by
 * `margin`, end exclusive; all zeros when nothing is selected. `allowSmaller` clamps the grown box to the volume.
 */
export function foregroundBox(
  v: Volume,
  select: (x: number) => boolean = (x) => x > 0,
  margin: number | readonly number[] = 0,
  allowSmaller = true,
): { start: [number, number, number]; end: [number, number, number] } {
  const [C, X, Y, Z] = v.shape;
  const m = typeof margin === 'number' ? [margin, margin, margin] : [...margin];
  const anyX = new Uint8Array(X),
    anyY = new Uint8Array(Y),
    anyZ = new Uint8Array(Z);
  const d = v.data;
  let found = false;
  for (let c = 0; c < C; c++) {
    let i = c * X * Y * Z;
    for (let x = 0; x < X; x++) {
      for (let y = 0; y < Y; y++) {
        for (let z = 0; z < Z; z++, i++) {
          if (select(d[i])) {
            anyX[x] = 1;
            anyY[y] = 1;
            anyZ[z] = 1;
            found = true;
          }
        }
      }
    }
  }
  if (!found) return { start: [0, 0, 0], end: [0, 0, 0] };
  const start = [0, 0, 0] as [number, number, number];
  const end = [0, 0, 0] as [number, number, number];
  [anyX, anyY, anyZ].forEach((flags, ax) => {
    const first = flags.indexOf(1);
    const last = flags.lastIndexOf(1);
    let s = first - m[ax];
    let e = last + m[ax] + 1;
    if (allowSmaller) {
      s = Math.max(s, 0);
      e = Math.min(e, flags.length);
    }
    start[ax] = s;
    end[ax] = e;
  });
  return { start, end };
}

/** MONAI `SpatialPad` widths: per axis max(size − n, 0), split (w//2, w − w//2) for 'symmetric', (0, w) for 'end'. */
export function padWidths(shape: readonly number[], size: readonly number[], method: 'symmetric' | 'end'): [number, number][] {
  return [0, 1, 2].map((i) => {
    const target = size[i] < 0 ? shape[i] : size[i];
    const w = Math.max(target - shape[i], 0);
    return method === 'symmetric' ? [Math.floor(w / 2), w - Math.floor(w / 2)] : [0, w];
  });
}

export function spatialPad(v: Volume, size: readonly number[], method: 'symmetric' | 'end' = 'symmetric', value = 0): Volume {
  const sp = v.shape.slice(1);
  const w = padWidths(sp, size, method);
  if (w.every(([a, b]) => a === 0 && b === 0)) return v;
  return cropOrPad(
    v,
    w.map(([lo]) => -lo),
    w.map(([, hi], i) => sp[i] + hi),
    value,
  );
}

/** MONAI `get_random_patch` start per axis: uniform over fully-inside positions (0 when the patch fills the axis). */
export function randomPatchStart(shape: readonly number[], size: readonly number[], rng: { int(lo: number, hi: number): number }): number[] {
  return shape.map((n, i) => (n > size[i] ? rng.int(0, n - size[i] + 1) : 0));
}

/**
 * MONAI `correct_crop_centers` (allow_smaller=False): move a crop centre so the crop [c − s//2, c − s//2 + s) lies
 * inside the volume. Throws when the volume is smaller than the crop.
 */
export function correctCropCenter(center: readonly number[], size: readonly number[], shape: readonly number[]): number[] {
  return center.map((c, i) => {
    const s = size[i],
      n = shape[i];
    if (n < s) throw new Error(`volume size ${n} along axis ${i} is smaller than the crop size ${s}`);
    const validStart = Math.floor(s / 2);
    let validEnd = n - s + Math.floor(s / 2) + 1; // uint16(N + 1 − S/2) for even S
    if (validStart === validEnd) validEnd += 1;
    return Math.min(Math.max(c, validStart), validEnd - 1);
  });
}

/** Crop box [start, start + size) of a crop of `size` centred at `center` (MONAI SpatialCrop(roi_center, roi_size)). */
export function centerCropStart(center: readonly number[], size: readonly number[]): number[] {
  return center.map((c, i) => Math.max(c - Math.floor(size[i] / 2), 0));
}
