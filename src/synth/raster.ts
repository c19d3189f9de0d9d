/**
 * Rasterising shapes onto a voxel grid. Every painter walks only the voxel box around its shape and steps the
 * shape-local coordinates incrementally along the fastest (last) array axis: no per-voxel closures or allocations.
 * Later paints overwrite earlier ones, image and label together, so the label always matches the image.
 */
import { matvec, transpose } from '../core/affine';
import { voxelBox, type Grid, type Vec3 } from './grid';
import { maxBlobRadius, type BlobShape, type BodyShape, type CapsuleShape, type Layer, type Shape } from './shapes';

export interface Canvas {
  grid: Grid;
  /** HU, float32, C order over (X, Y, Z). */
  image: Float32Array;
  /** Class ids, C order. */
  label: Uint8Array;
  /** Body region of each voxel (REGION codes), written by paintBody. */
  region: Uint8Array;
}

export function createCanvas(grid: Grid): Canvas {
  const n = grid.shape[0] * grid.shape[1] * grid.shape[2];
  return { grid, image: new Float32Array(n), label: new Uint8Array(n), region: new Uint8Array(n) };
}

/**
 * The integer k in [lo, hi] with A·k² + 2B·k + C < 0 (A ≥ 0): the voxels of one grid row inside a quadric.
 * Writes [first, last] into `out` and returns false when there are none.
 */
function quadRange(A: number, B: number, C: number, lo: number, hi: number, out: number[]): boolean {
  if (A < 1e-12) {
    // Degenerate (row along the shape's axis): linear or constant in k.
    if (Math.abs(B) < 1e-12) {
      if (C >= 0) return false;
      out[0] = lo;
      out[1] = hi;
      return true;
    }
    const k = -C / (2 * B);
    [out[0], out[1]] = B > 0 ? [lo, Math.min(hi, Math.ceil(k) - 1)] : [Math.max(lo, Math.floor(k) + 1), hi];
    return out[0] <= out[1];
  }
  const disc = B * B - A * C;
  if (disc <= 0) return false;
  const sq = Math.sqrt(disc);
  out[0] = Math.max(lo, Math.floor((-B - sq) / A));
  out[1] = Math.min(hi, Math.ceil((-B + sq) / A));
  return out[0] <= out[1];
}

/** Intersect [out0, out1] with the k where s0 + k·ds lies in (smin, smax). */
function linearRange(s0: number, ds: number, smin: number, smax: number, out: number[]): boolean {
  if (Math.abs(ds) < 1e-12) return s0 > smin && s0 < smax && out[0] <= out[1];
  let a = (smin - s0) / ds;
  let b = (smax - s0) / ds;
  if (a > b) [a, b] = [b, a];
  out[0] = Math.max(out[0], Math.floor(a));
  out[1] = Math.min(out[1], Math.ceil(b));
  return out[0] <= out[1];
}

function layerHU(layers: readonly Layer[], rn: number): number {
  for (let i = 0; i < layers.length; i++) if (rn < layers[i].upTo) return layers[i].hu;
  return layers[layers.length - 1].hu;
}

/** Air, subcutaneous fat, muscle wall and cavity, everywhere in the grid. */
export function paintBody(c: Canvas, body: BodyShape): void {
  const { grid, image, label, region } = c;
  const [X, Y, Z] = grid.shape;
  const [c0, c1, c2] = grid.col;
  const o = grid.origin;
  const taper = body.taperPer100mm / 100;
  // Inverse squared semi-axes of skin, fat/muscle and muscle/cavity boundaries.
  const bw = body.halfWidth;
  const bd = body.halfDepth;
  const fw = bw - body.fatLateral;
  const fd = bd - body.fatAP;
  const mw = fw - body.muscleThickness;
  const md = fd - body.muscleThickness;
  const [ibw, ibd, ifw, ifd, imw, imd] = [bw, bd, fw, fd, mw, md].map((v) => 1 / (v * v));
  const { airHU, fatHU, muscleHU, cavityHU } = body;
  let idx = 0;
  for (let i = 0; i < X; i++) {
    for (let j = 0; j < Y; j++) {
      let x = o[0] + i * c0[0] + j * c1[0];
      let y = o[1] + i * c0[1] + j * c1[1] - body.centerY;
      let z = o[2] + i * c0[2] + j * c1[2];
      for (let k = 0; k < Z; k++, idx++, x += c2[0], y += c2[1], z += c2[2]) {
        // The outline scales by s(z) = 1 + taper·(z0 − z): compare (x/s, y/s) with the nominal ellipses.
        const is = 1 / (1 + taper * (body.taperZ0 - z));
        const xx = x * x * is * is;
        const yy = y * y * is * is;
        label[idx] = 0;
        if (xx * ibw + yy * ibd > 1) {
          image[idx] = airHU;
          region[idx] = 0;
        } else if (xx * ifw + yy * ifd > 1) {
          image[idx] = fatHU;
          region[idx] = 1;
        } else if (xx * imw + yy * imd > 1) {
          image[idx] = muscleHU;
          region[idx] = 2;
        } else {
          image[idx] = cavityHU;
          region[idx] = 3;
        }
      }
    }
  }
}

export function paintBlob(c: Canvas, b: BlobShape): number {
  const { grid, image, label, region } = c;
  const [, Y, Z] = grid.shape;
  const rmax = maxBlobRadius(b.pert);
  const rot = b.rot;
  // World half-extent of the ellipsoid of semi-axes rmax·axes.
  const half: Vec3 = [0, 1, 2].map(
    (w) => rmax * Math.hypot(rot[w][0] * b.axes[0], rot[w][1] * b.axes[1], rot[w][2] * b.axes[2]),
  ) as Vec3;
  const box = voxelBox(grid, b.center, half);
  if (!box) return 0;
  // q = M (p − center), M = diag(1/axes)·rotᵀ; p = origin + i·c0 + j·c1 + k·c2.
  const rt = transpose(rot);
  const M = rt.map((row, l) => row.map((v) => v / b.axes[l]));
  const d0 = matvec(M, grid.col[0]);
  const d1 = matvec(M, grid.col[1]);
  const d2 = matvec(M, grid.col[2]);
  const q0 = matvec(M, [grid.origin[0] - b.center[0], grid.origin[1] - b.center[1], grid.origin[2] - b.center[2]]);
  const [p0, p1, p2, p3, p4, p5, p6, p7, p8] = b.pert;
  const k8 = p8 * 3 * Math.sqrt(3);
  const rmax2 = rmax * rmax;
  const layers = b.layers;
  const within = b.within ?? 0;
  const inside = b.insideLabel ?? -1;
  // Gas cap: (p − center)·dir = q·w with w = diag(axes)·rotᵀ·dir.
  const cap = b.cap;
  const w = cap ? matvec(rt, cap.dir).map((v, l) => v * b.axes[l]) : [0, 0, 0];
  const lbl = b.label;
  let painted = 0;
  const A = d2[0] * d2[0] + d2[1] * d2[1] + d2[2] * d2[2];
  const range = [0, 0];
  for (let i = box.lo[0]; i <= box.hi[0]; i++) {
    for (let j = box.lo[1]; j <= box.hi[1]; j++) {
      // Only the k inside the bounding ellipsoid |q| < rmax.
      const ax = q0[0] + i * d0[0] + j * d1[0];
      const ay = q0[1] + i * d0[1] + j * d1[1];
      const az = q0[2] + i * d0[2] + j * d1[2];
      const B = ax * d2[0] + ay * d2[1] + az * d2[2];
      const C = ax * ax + ay * ay + az * az - rmax2;
      if (!quadRange(A, B, C, box.lo[2], box.hi[2], range)) continue;
      const k0 = range[0];
      let qx = ax + k0 * d2[0];
      let qy = ay + k0 * d2[1];
      let qz = az + k0 * d2[2];
      let idx = (i * Y + j) * Z + k0;
      for (let k = k0; k <= range[1]; k++, idx++, qx += d2[0], qy += d2[1], qz += d2[2]) {
        const r2 = qx * qx + qy * qy + qz * qz;
        if (r2 >= rmax2) continue;
        if (region[idx] < within || (inside >= 0 && label[idx] !== inside)) continue;
        const r = Math.sqrt(r2);
        let d = 1;
        if (r > 1e-9) {
          const ux = qx / r;
          const uy = qy / r;
          const uz = qz / r;
          d +=
            p0 * ux +
            p1 * uy +
            p2 * uz +
            p3 * ux * uy +
            p4 * uy * uz +
            p5 * uz * ux +
            p6 * (ux * ux - uy * uy) +
            p7 * (2 * uz * uz - ux * ux - uy * uy) +
            k8 * ux * uy * uz;
        }
        if (r >= d) continue;
        const rn = r / d;
        let hu = layerHU(layers, rn);
        if (cap && rn < cap.upTo && qx * w[0] + qy * w[1] + qz * w[2] > cap.above) hu = cap.hu;
        image[idx] = hu;
        label[idx] = lbl;
        painted++;
      }
    }
  }
  return painted;
}

export function paintCapsule(c: Canvas, s: CapsuleShape): number {
  const { grid, image, label, region } = c;
  const [, Y, Z] = grid.shape;
  const ab: Vec3 = [s.b[0] - s.a[0], s.b[1] - s.a[1], s.b[2] - s.a[2]];
  const len2 = ab[0] * ab[0] + ab[1] * ab[1] + ab[2] * ab[2] || 1e-12;
  const rmax = Math.max(s.ra, s.rb);
  const centre: Vec3 = [(s.a[0] + s.b[0]) / 2, (s.a[1] + s.b[1]) / 2, (s.a[2] + s.b[2]) / 2];
  const half: Vec3 = [Math.abs(ab[0]) / 2 + rmax, Math.abs(ab[1]) / 2 + rmax, Math.abs(ab[2]) / 2 + rmax];
  const box = voxelBox(grid, centre, half);
  if (!box) return 0;
  const [c0, c1, c2] = grid.col;
  const o = grid.origin;
  const dr = s.rb - s.ra;
  const layers = s.layers;
  const within = s.within ?? 0;
  const inside = s.insideLabel ?? -1;
  const lbl = s.label;
  let painted = 0;
  // Row culling: inside the cylinder of radius rmax around the axis, and within rmax of the segment along it.
  const len = Math.sqrt(len2);
  const e = [ab[0] / len, ab[1] / len, ab[2] / len];
  const ce = c2[0] * e[0] + c2[1] * e[1] + c2[2] * e[2];
  const wc = [c2[0] - ce * e[0], c2[1] - ce * e[1], c2[2] - ce * e[2]];
  const A = wc[0] * wc[0] + wc[1] * wc[1] + wc[2] * wc[2];
  const range = [0, 0];
  for (let i = box.lo[0]; i <= box.hi[0]; i++) {
    for (let j = box.lo[1]; j <= box.hi[1]; j++) {
      // v = p − a at k = 0
      const ax = o[0] + i * c0[0] + j * c1[0] - s.a[0];
      const ay = o[1] + i * c0[1] + j * c1[1] - s.a[1];
      const az = o[2] + i * c0[2] + j * c1[2] - s.a[2];
      const ve = ax * e[0] + ay * e[1] + az * e[2];
      const wx = ax - ve * e[0];
      const wy = ay - ve * e[1];
      const wz = az - ve * e[2];
      const B = wx * wc[0] + wy * wc[1] + wz * wc[2];
      const C = wx * wx + wy * wy + wz * wz - rmax * rmax;
      if (!quadRange(A, B, C, box.lo[2], box.hi[2], range)) continue;
      if (!linearRange(ve, ce, -rmax, len + rmax, range)) continue;
      const k0 = range[0];
      let vx = ax + k0 * c2[0];
      let vy = ay + k0 * c2[1];
      let vz = az + k0 * c2[2];
      let idx = (i * Y + j) * Z + k0;
      for (let k = k0; k <= range[1]; k++, idx++, vx += c2[0], vy += c2[1], vz += c2[2]) {
        let t = (vx * ab[0] + vy * ab[1] + vz * ab[2]) / len2;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        const ex = vx - t * ab[0];
        const ey = vy - t * ab[1];
        const ez = vz - t * ab[2];
        const rad = s.ra + t * dr;
        const dist2 = ex * ex + ey * ey + ez * ez;
        if (dist2 >= rad * rad) continue;
        if (region[idx] < within || (inside >= 0 && label[idx] !== inside)) continue;
        image[idx] = layerHU(layers, Math.sqrt(dist2) / rad);
        label[idx] = lbl;
        painted++;
      }
    }
  }
  return painted;
}

export function paintShape(c: Canvas, s: Shape): number {
  return s.kind === 'blob' ? paintBlob(c, s) : paintCapsule(c, s);
}

/**
 * In-place [1, 2, 1]/4 smoothing along array axis `axis` (edges replicate): a cheap partial-volume blur.
 * Works on whole contiguous rows (length = product of the dims after `axis`), so memory access stays sequential.
 */
export function smoothAxis(data: Float32Array, shape: Vec3, axis: 0 | 1 | 2): void {
  const n = shape[axis];
  if (n < 3) return;
  const L = axis === 0 ? shape[1] * shape[2] : axis === 1 ? shape[2] : 1;
  const outer = axis === 0 ? 1 : axis === 1 ? shape[0] : shape[0] * shape[1];
  let prev = new Float32Array(L);
  let cur = new Float32Array(L);
  for (let o = 0; o < outer; o++) {
    const base = o * n * L;
    prev.set(data.subarray(base, base + L));
    cur.set(prev);
    for (let t = 0; t < n; t++) {
      const row = base + t * L;
      const nextRow = t + 1 < n ? row + L : -1;
      for (let m = 0; m < L; m++) {
        const next = nextRow >= 0 ? data[nextRow + m] : cur[m];
        data[row + m] = 0.25 * (prev[m] + next) + 0.5 * cur[m];
      }
      const tmp = prev;
      prev = cur;
      cur = tmp;
      if (nextRow >= 0) cur.set(data.subarray(nextRow, nextRow + L));
    }
  }
}

/**
 * Add approximately Gaussian noise (sum of four uniform bytes, Irwin-Hall, sd `std`) from a xorshift32 stream seeded
 * with `seed`, then round and saturate to int16 in [lo, hi].
 */
export function noisyInt16(data: Float32Array, std: number, seed: number, lo = -1024, hi = 3071): Int16Array {
  const out = new Int16Array(data.length);
  let s = seed | 0 || 0x2545f491;
  // Sum of 4 bytes: mean 510, sd sqrt(4·(256²−1)/12) ≈ 147.80. Rounding: floor(v + 0.5) via an offset that keeps
  // the operand positive, so `| 0` truncation equals floor.
  const scale = std / 147.7996;
  const off = 510 * scale - 65536.5;
  for (let i = 0; i < data.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const sum = (s & 255) + ((s >>> 8) & 255) + ((s >>> 16) & 255) + ((s >>> 24) & 255);
    let v = ((data[i] + sum * scale - off) | 0) - 65536;
    if (v < lo) v = lo;
    else if (v > hi) v = hi;
    out[i] = v;
  }
  return out;
}
