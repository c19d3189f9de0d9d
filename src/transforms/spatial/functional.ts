/**
 * Spatial math shared by the array and dictionary transforms: reorientation (MONAI `Orientation`) and resampling
 * to a voxel size (MONAI `Spacing`: `zoom_affine`, `compute_shape_offset`, `spatial_resample` with grid_sample
 * semantics: align_corners=False voxel-centre mapping, border padding, float64 arithmetic, float32 output).
 */
import {
  allclose,
  axcodesToOrnt,
  cholesky3,
  clone,
  flat,
  fromParts,
  identity,
  inverse,
  invOrntAff,
  ioOrientation,
  linear,
  matmul,
  orntTransform,
  solve,
  spacing as affineSpacing,
  transpose,
  type Affine,
  type Ornt,
} from '../../core/affine';
import type { Volume } from '../../core/volume';

/** MONAI `AFFINE_TOL`. */
export const AFFINE_TOL = 1e-3;

// ---------------------------------------------------------------------------------------------------------------
// Orientation

/** The orientation change that brings `affine` to `axcodes` (nibabel `ornt_transform(io_orientation(A), dst)`). */
export function orientationTransform(affine: Affine, axcodes: string): Ornt {
  return orntTransform(ioOrientation(affine), axcodesToOrnt(axcodes));
}

/** Apply an orientation change to a volume: flip the axes with −1, then permute; affine ← affine · inv_ornt_aff. */
export function applyOrientation(v: Volume, ornt: Ornt): Volume {
  const [C, X, Y, Z] = v.shape;
  const inShape = [X, Y, Z];
  const isIdentity = ornt.every(([ax, f], i) => ax === i && f === 1);
  const affine = matmul(v.affine, invOrntAff(ornt, inShape));
  if (isIdentity) return { data: v.data, shape: [...v.shape], affine };
  // output axis k comes from input axis perm[k]
  const perm = [0, 1, 2].map((k) => ornt.findIndex(([ax]) => ax === k));
  const outShape = perm.map((i) => inShape[i]);
  const inStride = [Y * Z, Z, 1];
  // For each output axis: the input stride it walks, and where it starts (flipped axes walk backwards).
  const stride = perm.map((i) => (ornt[i][1] === -1 ? -inStride[i] : inStride[i]));
  const start = perm.reduce((s, i) => s + (ornt[i][1] === -1 ? (inShape[i] - 1) * inStride[i] : 0), 0);
  const [A, B, Cc] = outShape;
  const out = new Float32Array(v.data.length);
  const vox = X * Y * Z;
  let o = 0;
  for (let c = 0; c < C; c++) {
    const base = c * vox + start;
    for (let a = 0; a < A; a++) {
      const ba = base + a * stride[0];
      for (let b = 0; b < B; b++) {
        let s = ba + b * stride[1];
        const s2 = stride[2];
        for (let k = 0; k < Cc; k++, s += s2) out[o++] = v.data[s];
      }
    }
  }
  return { data: out, shape: [C, A, B, Cc], affine };
}

// ---------------------------------------------------------------------------------------------------------------
// Spacing

/**
 * MONAI `zoom_affine(affine, scale, diagonal=False)`: keep the rotation of `affine` (shear dropped via the
 * Cholesky factor of AᵀA), set the column norms to `scale`. Translation is zero.
 */
export function zoomAffine(affine: Affine, scale: readonly number[]): Affine {
  const rzs = linear(affine);
  const zs = transpose(cholesky3(matmul(transpose(rzs), rzs))); // upper triangular, positive diagonal
  const rotation = matmul(rzs, inverse(zs));
  const s = [0, 1, 2].map((i) => Math.sign(zs[i][i]) * Math.abs(scale[i] === 0 ? 1 : scale[i]));
  const lin = rotation.map((row) => row.map((x, j) => x * s[j]));
  return fromParts(lin, [0, 0, 0]);
}

/** numpy round (half to even). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * MONAI `compute_shape_offset(spatial_shape, in_affine, out_affine, scale_extent=False)`: the output shape that
 * covers the input's voxel centres, and the world position of the output's first voxel.
 */
export function computeShapeOffset(
  shape: readonly number[],
  inAffine: Affine,
  outAffine: Affine,
): { shape: [number, number, number]; offset: [number, number, number] } {
  // corners in meshgrid 'ij' order: first axis slowest
  const corners: number[][] = [];
  for (const a of [0, shape[0] - 1]) for (const b of [0, shape[1] - 1]) for (const c of [0, shape[2] - 1]) corners.push([a, b, c, 1]);
  const toOut = solve(outAffine, inAffine);
  const cornersOut = corners.map((p) => toOut.map((row) => row[0] * p[0] + row[1] * p[1] + row[2] * p[2] + row[3] * p[3]));
  const cornersWorld = corners.map((p) => inAffine.map((row) => row[0] * p[0] + row[1] * p[1] + row[2] * p[2] + row[3] * p[3]));
  const outShape = [0, 1, 2].map((d) => {
    const vals = cornersOut.map((c) => c[d] / c[3]);
    return roundHalfEven(Math.max(...vals) - Math.min(...vals) + 1);
  }) as [number, number, number];
  let offset: number[] | undefined;
  for (let i = 0; i < corners.length && !offset; i++) {
    const minCorner = [0, 1, 2].map((d) => Math.min(...cornersOut.map((c) => c[d] - cornersOut[i][d])));
    if (allclose(minCorner, [0, 0, 0], AFFINE_TOL, 1e-8)) offset = cornersWorld[i].slice(0, 3);
  }
  if (!offset) {
    // centre-aligned fallback (oblique/sheared inputs)
    offset = [0, 1, 2].map(
      (r) =>
        inAffine[r][0] * (shape[0] / 2) +
        inAffine[r][1] * (shape[1] / 2) +
        inAffine[r][2] * (shape[2] / 2) +
        inAffine[r][3] -
        (outAffine[r][0] * (outShape[0] / 2) + outAffine[r][1] * (outShape[1] / 2) + outAffine[r][2] * (outShape[2] / 2)),
    );
  }
  return { shape: outShape, offset: [offset[0], offset[1], offset[2]] };
}

export type InterpolationMode = 'bilinear' | 'nearest';

export interface SpacingPlan {
  /** Output spacing actually used (input spacing kept where within AFFINE_TOL of the target). */
  pixdim: [number, number, number];
  shape: [number, number, number];
  affine: Affine;
  /** Input continuous voxel index = xform · (output index, 1). */
  xform: Affine;
  /** True when MONAI would return the input unchanged. */
  unchanged: boolean;
}

/** Everything `Spacing` decides before touching voxels (shared by image and label, and by the inverse later). */
export function planSpacing(inShape: readonly number[], inAffine: Affine, pixdim: readonly number[]): SpacingPlan {
  const orig = affineSpacing(inAffine);
  const outD = [0, 1, 2].map((i) => (Math.abs(orig[i] - pixdim[i]) <= AFFINE_TOL ? orig[i] : pixdim[i])) as [
    number,
    number,
    number,
  ];
  const newAffine = zoomAffine(inAffine, outD);
  const { shape, offset } = computeShapeOffset(inShape, inAffine, newAffine);
  for (let r = 0; r < 3; r++) newAffine[r][3] = offset[r];
  const xform = solve(inAffine, newAffine);
  const sameShape = shape.every((s, i) => s === inShape[i]);
  const unchanged =
    sameShape && (allclose(flat(inAffine), flat(newAffine), 1e-5, AFFINE_TOL) || allclose(flat(xform), flat(identity(4)), 1e-5, AFFINE_TOL));
  return { pixdim: outD, shape, affine: newAffine, xform, unchanged };
}

/** a·b + c with a single rounding (Dekker two-product + two-sum; exact except in rare double-rounding cases). */
export function fma(a: number, b: number, c: number): number {
  const p = a * b;
  if (!Number.isFinite(p) || p === 0) return p + c;
  const SPLIT = 134217729; // 2^27 + 1
  const ta = SPLIT * a,
    ah = ta - (ta - a),
    al = a - ah;
  const tb = SPLIT * b,
    bh = tb - (tb - b),
    bl = b - bh;
  const e = al * bl - (((p - ah * bh) - al * bh) - ah * bl); // a·b = p + e exactly
  const s = p + c;
  const bb = s - p;
  const t = (p - (s - bb)) + (c - bb); // p + c = s + t exactly
  return s + (t + e);
}

/** `torch.linspace(start, end, steps, dtype=float64)` bit for bit (its CPU kernel evaluates both halves with FMA). */
export function torchLinspace(start: number, end: number, steps: number): Float64Array {
  const out = new Float64Array(steps);
  if (steps === 1) {
    out[0] = start;
    return out;
  }
  const step = (end - start) / (steps - 1);
  const half = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) out[i] = i < half ? fma(step, i, start) : fma(-step, steps - i - 1, end);
  return out;
}

/**
 * Input voxel coordinate of every output index along each axis, computed the way MONAI's resampler does
 * (AffineTransform → normalised theta = S_in · xform · S_out⁻¹, affine_grid base grid from torch.linspace,
 * grid_sample un-normalisation), so that nearest-neighbour ties (a coordinate exactly half-way between two input
 * voxels, e.g. 3 mm → 1.5 mm) break the same way as in MONAI. Returns a function (i, j, k, axis) → coordinate.
 */
function monaiSampler(inShape: readonly number[], outShape: readonly number[], xform: Affine) {
  const norm = (shape: readonly number[]) => {
    const m = identity(4);
    for (let r = 0; r < 3; r++) {
      m[r][r] = 2 / shape[r];
      m[r][3] = 1 / shape[r] - 1;
    }
    return m;
  };
  const theta = matmul(matmul(norm(inShape), xform), inverse(norm(outShape)));
  const base = outShape.map((w) => Float64Array.from(torchLinspace(-1, 1, w), (b) => (b * (w - 1)) / w));
  return { theta, base };
}

/**
 * Resample `v` onto the grid of `plan` (grid_sample semantics: continuous index p = xform·j, clamped to
 * [0, N−1] (border padding); trilinear or nearest (round half to even)). float64 arithmetic, float32 result.
 */
export function resample(v: Volume, plan: SpacingPlan, mode: InterpolationMode): Volume {
  if (plan.unchanged) return { data: v.data, shape: [...v.shape], affine: clone(v.affine) };
  const [C, X, Y, Z] = v.shape;
  const [OX, OY, OZ] = plan.shape;
  const { theta: t, base } = monaiSampler([X, Y, Z], plan.shape, plan.xform);
  const [bx, by, bz] = base;
  const out = new Float32Array(C * OX * OY * OZ);
  const src = v.data;
  const YZ = Y * Z;
  const vox = X * YZ;
  const xMax = X - 1,
    yMax = Y - 1,
    zMax = Z - 1;
  // grid value g (normalised) → voxel coordinate ((g + 1)·N − 1)/2, clamped to the volume (border padding)
  const unnorm = (g: number, n: number, max: number) => {
    const u = ((g + 1) * n - 1) / 2;
    return u < 0 ? 0 : u > max ? max : u;
  };
  const separable = [0, 1, 2].every((r) => [0, 1, 2].every((c) => r === c || t[r][c] === 0));
  if (separable) return resampleSeparable(v, plan, mode, base, t);
  let o = 0;
  for (let c = 0; c < C; c++) {
    const cb = c * vox;
    for (let i = 0; i < OX; i++) {
      for (let j = 0; j < OY; j++) {
        for (let k = 0; k < OZ; k++) {
          // affine_grid sums the base grid's (z, y, x, 1) terms in that order (reverse indexing)
          const x = unnorm(bz[k] * t[0][2] + by[j] * t[0][1] + bx[i] * t[0][0] + t[0][3], X, xMax);
          const y = unnorm(bz[k] * t[1][2] + by[j] * t[1][1] + bx[i] * t[1][0] + t[1][3], Y, yMax);
          const z = unnorm(bz[k] * t[2][2] + by[j] * t[2][1] + bx[i] * t[2][0] + t[2][3], Z, zMax);
          if (mode === 'nearest') {
            out[o++] = src[cb + roundHalfEven(x) * YZ + roundHalfEven(y) * Z + roundHalfEven(z)];
            continue;
          }
          const x0 = Math.floor(x),
            y0 = Math.floor(y),
            z0 = Math.floor(z);
          const fx = x - x0,
            fy = y - y0,
            fz = z - z0;
          const x1 = x0 < xMax ? x0 + 1 : x0,
            y1 = y0 < yMax ? y0 + 1 : y0,
            z1 = z0 < zMax ? z0 + 1 : z0;
          const b00 = cb + x0 * YZ + y0 * Z,
            b01 = cb + x0 * YZ + y1 * Z,
            b10 = cb + x1 * YZ + y0 * Z,
            b11 = cb + x1 * YZ + y1 * Z;
          const gx = 1 - fx,
            gy = 1 - fy,
            gz = 1 - fz;
          out[o++] =
            gx * gy * gz * src[b00 + z0] +
            gx * gy * fz * src[b00 + z1] +
            gx * fy * gz * src[b01 + z0] +
            gx * fy * fz * src[b01 + z1] +
            fx * gy * gz * src[b10 + z0] +
            fx * gy * fz * src[b10 + z1] +
            fx * fy * gz * src[b11 + z0] +
            fx * fy * fz * src[b11 + z1];
        }
      }
    }
  }
  return { data: out, shape: [C, OX, OY, OZ], affine: clone(plan.affine) };
}

/**
 * Axis-aligned case (no rotation between input and output grids): each output axis samples one input axis, so the
 * coordinates (computed exactly as in the general path, whose other terms are exact zeros) are tabulated per axis.
 */
function resampleSeparable(v: Volume, plan: SpacingPlan, mode: InterpolationMode, base: Float64Array[], t: Affine): Volume {
  const [C, X, Y, Z] = v.shape;
  const [OX, OY, OZ] = plan.shape;
  const dims = [X, Y, Z];
  const coord = [0, 1, 2].map((r) =>
    Float64Array.from(base[r], (b) => {
      const u = ((b * t[r][r] + t[r][3] + 1) * dims[r] - 1) / 2;
      return u < 0 ? 0 : u > dims[r] - 1 ? dims[r] - 1 : u;
    }),
  );
  const out = new Float32Array(C * OX * OY * OZ);
  const src = v.data;
  const YZ = Y * Z;
  const vox = X * YZ;
  if (mode === 'nearest') {
    const [nx, ny, nz] = coord.map((cs) => Int32Array.from(cs, (u) => roundHalfEven(u)));
    let o = 0;
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < OX; i++) {
        for (let j = 0; j < OY; j++) {
          const row = c * vox + nx[i] * YZ + ny[j] * Z;
          for (let k = 0; k < OZ; k++) out[o++] = src[row + nz[k]];
        }
      }
    }
    return { data: out, shape: [C, OX, OY, OZ], affine: clone(plan.affine) };
  }
  // trilinear: lower index, upper index (clamped) and fraction per axis
  const tab = coord.map((cs, r) => {
    const lo = new Int32Array(cs.length),
      hi = new Int32Array(cs.length),
      f = new Float64Array(cs.length);
    cs.forEach((u, n) => {
      const l = Math.floor(u);
      lo[n] = l;
      hi[n] = l < dims[r] - 1 ? l + 1 : l;
      f[n] = u - l;
    });
    return { lo, hi, f };
  });
  const [tx, ty, tz] = tab;
  let o = 0;
  for (let c = 0; c < C; c++) {
    const cb = c * vox;
    for (let i = 0; i < OX; i++) {
      const fx = tx.f[i],
        gx = 1 - fx;
      const ax0 = cb + tx.lo[i] * YZ,
        ax1 = cb + tx.hi[i] * YZ;
      for (let j = 0; j < OY; j++) {
        const fy = ty.f[j],
          gy = 1 - fy;
        const b00 = ax0 + ty.lo[j] * Z,
          b01 = ax0 + ty.hi[j] * Z,
          b10 = ax1 + ty.lo[j] * Z,
          b11 = ax1 + ty.hi[j] * Z;
        const w00 = gx * gy,
          w01 = gx * fy,
          w10 = fx * gy,
          w11 = fx * fy;
        for (let k = 0; k < OZ; k++) {
          const z0 = tz.lo[k],
            z1 = tz.hi[k],
            fz = tz.f[k],
            gz = 1 - fz;
          out[o++] =
            w00 * (gz * src[b00 + z0] + fz * src[b00 + z1]) +
            w01 * (gz * src[b01 + z0] + fz * src[b01 + z1]) +
            w10 * (gz * src[b10 + z0] + fz * src[b10 + z1]) +
            w11 * (gz * src[b11 + z0] + fz * src[b11 + z1]);
        }
      }
    }
  }
  return { data: out, shape: [C, OX, OY, OZ], affine: clone(plan.affine) };
}
