/**
 * 4×4 voxel-to-world affines and the small amount of 3×3 linear algebra the spatial transforms need.
 *
 * An `Affine` is a row-major 4×4 matrix as nested arrays, `A[row][col]`, mapping a voxel index (i, j, k, 1) to
 * world coordinates (x, y, z, 1) in millimetres, RAS+ (nibabel's convention, which MONAI uses for NIfTI).
 * Everything is float64.
 */

export type Mat3 = number[][];
export type Affine = number[][];

export function identity(n = 4): number[][] {
  return Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
}

export function clone(m: number[][]): number[][] {
  return m.map((r) => r.slice());
}

export function matmul(a: number[][], b: number[][]): number[][] {
  const n = a.length;
  const k = b.length;
  const m = b[0].length;
  const out: number[][] = Array.from({ length: n }, () => new Array<number>(m).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a[i][t] * b[t][j];
      out[i][j] = s;
    }
  }
  return out;
}

export function matvec(a: number[][], v: readonly number[]): number[] {
  return a.map((row) => row.reduce((s, x, j) => s + x * v[j], 0));
}

export function transpose(a: number[][]): number[][] {
  return a[0].map((_, j) => a.map((row) => row[j]));
}

/**
 * Solve A X = B by LU decomposition with partial pivoting, in LAPACK's order of operations (dgetrf + dgetrs,
 * column-oriented substitution), so that results match numpy.linalg.solve / torch.inverse bit for bit on the
 * simple affines that occur here (e.g. exact zeros stay exact). Throws if A is singular.
 */
export function solve(a: number[][], b: number[][]): number[][] {
  const n = a.length;
  const lu = clone(a);
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let k = 0; k < n; k++) {
    let piv = k;
    for (let r = k + 1; r < n; r++) if (Math.abs(lu[r][k]) > Math.abs(lu[piv][k])) piv = r;
    if (lu[piv][k] === 0) throw new Error('matrix is singular');
    if (piv !== k) {
      [lu[k], lu[piv]] = [lu[piv], lu[k]];
      [perm[k], perm[piv]] = [perm[piv], perm[k]];
    }
    const inv = 1 / lu[k][k];
    for (let r = k + 1; r < n; r++) lu[r][k] *= inv;
    for (let j = k + 1; j < n; j++) {
      const u = lu[k][j];
      if (u !== 0) for (let r = k + 1; r < n; r++) lu[r][j] -= lu[r][k] * u;
    }
  }
  const m = b[0].length;
  const x = perm.map((p) => b[p].slice());
  for (let c = 0; c < m; c++) {
    // L y = P b (unit lower), column oriented
    for (let j = 0; j < n; j++) {
      const yj = x[j][c];
      if (yj !== 0) for (let i = j + 1; i < n; i++) x[i][c] -= yj * lu[i][j];
    }
    // U x = y, column oriented
    for (let j = n - 1; j >= 0; j--) {
      if (x[j][c] !== 0) {
        x[j][c] /= lu[j][j];
        const xj = x[j][c];
        for (let i = 0; i < j; i++) x[i][c] -= xj * lu[i][j];
      }
    }
  }
  return x;
}

/** Inverse via `solve(A, I)`. Throws if singular. */
export function inverse(a: number[][]): number[][] {
  return solve(a, identity(a.length));
}

export function det3(m: Mat3): number {
  return (
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
    m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
    m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
  );
}

/** Upper-left 3×3 block. */
export function linear(a: Affine): Mat3 {
  return [a[0].slice(0, 3), a[1].slice(0, 3), a[2].slice(0, 3)];
}

export function translation(a: Affine): number[] {
  return [a[0][3], a[1][3], a[2][3]];
}

export function fromParts(lin: Mat3, trans: readonly number[]): Affine {
  return [
    [lin[0][0], lin[0][1], lin[0][2], trans[0]],
    [lin[1][0], lin[1][1], lin[1][2], trans[1]],
    [lin[2][0], lin[2][1], lin[2][2], trans[2]],
    [0, 0, 0, 1],
  ];
}

/** Voxel spacing = L2 norm of each column of the linear part (MONAI `affine_to_spacing`). */
export function spacing(a: Affine): [number, number, number] {
  const s = [0, 1, 2].map((j) => Math.sqrt(a[0][j] ** 2 + a[1][j] ** 2 + a[2][j] ** 2));
  return [s[0], s[1], s[2]];
}

/** numpy.allclose(a, b, rtol, atol) elementwise over flat arrays. */
export function allclose(a: readonly number[], b: readonly number[], rtol = 1e-5, atol = 1e-8): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!(Math.abs(a[i] - b[i]) <= atol + rtol * Math.abs(b[i]))) return false;
  return true;
}

export function flat(m: number[][]): number[] {
  return m.flat();
}

/** Cholesky factor L (lower) of a symmetric positive-definite 3×3 matrix: M = L Lᵀ. */
export function cholesky3(m: Mat3): Mat3 {
  const l: Mat3 = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j <= i; j++) {
      let s = m[i][j];
      for (let k = 0; k < j; k++) s -= l[i][k] * l[j][k];
      if (i === j) {
        if (s <= 0) throw new Error('matrix is not positive definite');
        l[i][j] = Math.sqrt(s);
      } else {
        l[i][j] = s / l[j][j];
      }
    }
  }
  return l;
}

/**
 * Closest orthogonal matrix (polar decomposition), by Newton iteration R ← (R + R⁻ᵀ)/2.
 * Used where nibabel uses an SVD (`io_orientation`, `set_qform`).
 */
export function polarOrthogonal(m: Mat3): Mat3 {
  let r = clone(m);
  for (let it = 0; it < 100; it++) {
    const rit = transpose(inverse(r));
    const next = r.map((row, i) => row.map((x, j) => 0.5 * (x + rit[i][j])));
    let diff = 0;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) diff = Math.max(diff, Math.abs(next[i][j] - r[i][j]));
    r = next;
    if (diff < 1e-15) break;
  }
  return r;
}

/** Quaternion (w, x, y, z), w ≥ 0, of a proper rotation matrix (nibabel `mat2quat` up to sign). */
export function mat2quat(r: Mat3): [number, number, number, number] {
  const [[m00, m01, m02], [m10, m11, m12], [m20, m21, m22]] = r;
  const tr = m00 + m11 + m22;
  let w: number, x: number, y: number, z: number;
  if (tr > 0) {
    const s = Math.sqrt(tr + 1) * 2;
    w = 0.25 * s;
    x = (m21 - m12) / s;
    y = (m02 - m20) / s;
    z = (m10 - m01) / s;
  } else if (m00 > m11 && m00 > m22) {
    const s = Math.sqrt(1 + m00 - m11 - m22) * 2;
    w = (m21 - m12) / s;
    x = 0.25 * s;
    y = (m01 + m10) / s;
    z = (m02 + m20) / s;
  } else if (m11 > m22) {
    const s = Math.sqrt(1 + m11 - m00 - m22) * 2;
    w = (m02 - m20) / s;
    x = (m01 + m10) / s;
    y = 0.25 * s;
    z = (m12 + m21) / s;
  } else {
    const s = Math.sqrt(1 + m22 - m00 - m11) * 2;
    w = (m10 - m01) / s;
    x = (m02 + m20) / s;
    y = (m12 + m21) / s;
    z = 0.25 * s;
  }
  const n = Math.hypot(w, x, y, z);
  const sign = w < 0 ? -1 : 1;
  return [(sign * w) / n, (sign * x) / n, (sign * y) / n, (sign * z) / n];
}

/** Rotation matrix of a quaternion (w, x, y, z) (nibabel `quat2mat`). */
export function quat2mat(q: readonly number[]): Mat3 {
  const [w, x, y, z] = q;
  const nq = w * w + x * x + y * y + z * z;
  if (nq < 2.220446049250313e-16) return identity(3);
  const s = 2 / nq;
  const X = x * s,
    Y = y * s,
    Z = z * s;
  const wX = w * X,
    wY = w * Y,
    wZ = w * Z;
  const xX = x * X,
    xY = x * Y,
    xZ = x * Z;
  const yY = y * Y,
    yZ = y * Z,
    zZ = z * Z;
  return [
    [1 - (yY + zZ), xY - wZ, xZ + wY],
    [xY + wZ, 1 - (xX + zZ), yZ - wX],
    [xZ - wY, yZ + wX, 1 - (xX + yY)],
  ];
}

/** Orientation: for each array axis, [world axis index, +1 | -1] (nibabel's `ornt`). */
export type Ornt = [number, number][];

/** nibabel `io_orientation`: nearest world axis (and direction) for each voxel axis. */
export function ioOrientation(a: Affine): Ornt {
  const rzs = linear(a);
  const zooms = spacing(a).map((z) => (z === 0 ? 1 : z));
  const rs = rzs.map((row) => row.map((x, j) => x / zooms[j]));
  const r = det3(rs) === 0 ? rs : polarOrthogonal(rs);
  const ornt: Ornt = [];
  const used = [false, false, false];
  for (let inAx = 0; inAx < 3; inAx++) {
    let best = -1;
    let bestVal = 0;
    for (let outAx = 0; outAx < 3; outAx++) {
      if (used[outAx]) continue;
      const v = Math.abs(r[outAx][inAx]);
      if (v > bestVal) {
        bestVal = v;
        best = outAx;
      }
    }
    if (best < 0) throw new Error('affine has a degenerate axis; orientation is undefined');
    used[best] = true;
    ornt.push([best, r[best][inAx] < 0 ? -1 : 1]);
  }
  return ornt;
}

const LABELS: [string, string][] = [
  ['L', 'R'],
  ['P', 'A'],
  ['I', 'S'],
];

/** 'RAS', 'LPS', ... → orientation (nibabel `axcodes2ornt`). */
export function axcodesToOrnt(codes: string): Ornt {
  const up = codes.toUpperCase();
  if (up.length !== 3) throw new Error(`axcodes must have 3 letters, got '${codes}'`);
  const ornt: Ornt = [];
  const seen = new Set<number>();
  for (const ch of up) {
    const axis = LABELS.findIndex((p) => p.includes(ch));
    if (axis < 0) throw new Error(`invalid axcode '${ch}' in '${codes}' (use letters from L/R, P/A, I/S)`);
    if (seen.has(axis)) throw new Error(`axcodes '${codes}' name the same world axis twice`);
    seen.add(axis);
    ornt.push([axis, LABELS[axis][1] === ch ? 1 : -1]);
  }
  return ornt;
}

/** Orientation → 'RAS'-style code (nibabel `aff2axcodes`). */
export function orntToAxcodes(ornt: Ornt): string {
  return ornt.map(([ax, dir]) => LABELS[ax][dir > 0 ? 1 : 0]).join('');
}

export function axcodes(a: Affine): string {
  return orntToAxcodes(ioOrientation(a));
}

/** nibabel `ornt_transform(start, end)`: the orientation change taking `start` to `end`. */
export function orntTransform(start: Ornt, end: Ornt): Ornt {
  const result: Ornt = new Array(start.length);
  end.forEach(([endOut, endFlip], endIn) => {
    const startIn = start.findIndex(([startOut]) => startOut === endOut);
    if (startIn < 0) throw new Error('orientations do not share world axes');
    result[startIn] = [endIn, start[startIn][1] === endFlip ? 1 : -1];
  });
  return result;
}

/** nibabel `inv_ornt_aff(ornt, shape)`: the voxel affine that undoes applying `ornt` to an array of `shape`. */
export function invOrntAff(ornt: Ornt, shape: readonly number[]): Affine {
  const p = ornt.length;
  const undoFlip = identity(p + 1);
  for (let i = 0; i < p; i++) {
    const f = ornt[i][1];
    const c = -(shape[i] - 1) / 2;
    undoFlip[i][i] = f;
    undoFlip[i][p] = f * c - c;
  }
  const eye = identity(p + 1);
  const undoReorder = [...ornt.map(([ax]) => eye[ax]), eye[p]];
  return matmul(undoFlip, undoReorder);
}
