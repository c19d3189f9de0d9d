/**
 * The voxel grid a phantom is drawn on, and how each stored orientation is built.
 *
 * Anatomy is described in world millimetres, RAS+ as in nibabel and MONAI: +x points to the patient's Right,
 * +y Anterior, +z Superior (the liver, on the patient's right, is at positive x). The grid's affine decides how
 * array axes map to the world, so flipped, permuted and oblique storage all come from the same anatomy: the
 * painters walk voxels and evaluate shapes at each voxel's world position.
 */
import { inverse, matmul, matvec, type Affine, type Mat3 } from '../core/affine';

export type Vec3 = [number, number, number];

/** How a volume's array axes are stored relative to the patient. */
export type StoredOrientation = 'LPS' | 'RAS' | 'LPS-oblique' | 'RPI' | 'PLS';

/** The cycle used for volume i (i mod 5): BTCV-like LPS first, then RAS, oblique, z-flipped, and axis-permuted. */
export const ORIENTATION_CYCLE: readonly StoredOrientation[] = ['LPS', 'RAS', 'LPS-oblique', 'RPI', 'PLS'];

export interface Grid {
  shape: Vec3;
  affine: Affine;
  /** Inverse affine (world → voxel). */
  inv: Affine;
  /** World step per unit of array axis 0, 1, 2 (the affine's columns). */
  col: [Vec3, Vec3, Vec3];
  /** World position of voxel (0, 0, 0). */
  origin: Vec3;
}

export function makeGrid(shape: Vec3, affine: Affine): Grid {
  const col: [Vec3, Vec3, Vec3] = [0, 1, 2].map((j) => [affine[0][j], affine[1][j], affine[2][j]] as Vec3) as [
    Vec3,
    Vec3,
    Vec3,
  ];
  return { shape, affine, inv: inverse(affine), col, origin: [affine[0][3], affine[1][3], affine[2][3]] };
}

/** Rotation by `deg` degrees about a unit `axis` (Rodrigues). */
export function rotation(axis: Vec3, deg: number): Mat3 {
  const n = Math.hypot(axis[0], axis[1], axis[2]) || 1;
  const [x, y, z] = [axis[0] / n, axis[1] / n, axis[2] / n];
  const a = (deg * Math.PI) / 180;
  const c = Math.cos(a);
  const s = Math.sin(a);
  const t = 1 - c;
  return [
    [t * x * x + c, t * x * y - s * z, t * x * z + s * y],
    [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
    [t * x * z - s * y, t * y * z + s * x, t * z * z + c],
  ];
}

/** Rotation composed from angles (degrees) about the world x, then y, then z axes. */
export function eulerRotation(ax: number, ay: number, az: number): Mat3 {
  return matmul(rotation([0, 0, 1], az), matmul(rotation([0, 1, 0], ay), rotation([1, 0, 0], ax)));
}

/**
 * Signed axis permutation of each stored orientation: entry j = [world axis, sign] of array axis j.
 * 'LPS-oblique' is LPS before its rotation is applied.
 */
const AXES: Record<StoredOrientation, [number, number][]> = {
  LPS: [
    [0, -1],
    [1, -1],
    [2, 1],
  ],
  RAS: [
    [0, 1],
    [1, 1],
    [2, 1],
  ],
  'LPS-oblique': [
    [0, -1],
    [1, -1],
    [2, 1],
  ],
  RPI: [
    [0, 1],
    [1, -1],
    [2, -1],
  ],
  PLS: [
    [1, -1],
    [0, -1],
    [2, 1],
  ],
};

/**
 * Build the affine of a grid with `shape` whose array axis j has spacing `spacing[j]`, stored as `orientation`,
 * rotated by `rot` (world frame; identity for non-oblique) and centred on world point `centre`.
 */
export function orientedAffine(
  orientation: StoredOrientation,
  shape: Vec3,
  spacing: Vec3,
  centre: Vec3,
  rot: Mat3 = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ],
): Affine {
  const lin: Mat3 = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  AXES[orientation].forEach(([w, sgn], j) => {
    lin[w][j] = sgn * spacing[j];
  });
  const l = matmul(rot, lin);
  const mid = matvec(l, [(shape[0] - 1) / 2, (shape[1] - 1) / 2, (shape[2] - 1) / 2]);
  const t = [centre[0] - mid[0], centre[1] - mid[1], centre[2] - mid[2]];
  return [
    [l[0][0], l[0][1], l[0][2], t[0]],
    [l[1][0], l[1][1], l[1][2], t[1]],
    [l[2][0], l[2][1], l[2][2], t[2]],
    [0, 0, 0, 1],
  ];
}

/** Which array axis of `orientation` runs along world axis `w` (0 = x, 1 = y, 2 = z). */
export function arrayAxisOfWorld(orientation: StoredOrientation, w: number): number {
  return AXES[orientation].findIndex(([ax]) => ax === w);
}

export interface VoxelBox {
  lo: Vec3;
  hi: Vec3; // inclusive
}

/**
 * Voxel index box (clamped to the grid) covering the world box centre ± half. Returns null when it misses the grid.
 */
export function voxelBox(g: Grid, centre: Vec3, half: Vec3): VoxelBox | null {
  const lo: Vec3 = [Infinity, Infinity, Infinity];
  const hi: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (let c = 0; c < 8; c++) {
    const p = [
      centre[0] + (c & 1 ? half[0] : -half[0]),
      centre[1] + (c & 2 ? half[1] : -half[1]),
      centre[2] + (c & 4 ? half[2] : -half[2]),
      1,
    ];
    const v = matvec(g.inv, p);
    for (let a = 0; a < 3; a++) {
      if (v[a] < lo[a]) lo[a] = v[a];
      if (v[a] > hi[a]) hi[a] = v[a];
    }
  }
  const out: VoxelBox = { lo: [0, 0, 0], hi: [0, 0, 0] };
  for (let a = 0; a < 3; a++) {
    out.lo[a] = Math.max(0, Math.floor(lo[a]) - 1);
    out.hi[a] = Math.min(g.shape[a] - 1, Math.ceil(hi[a]) + 1);
    if (out.lo[a] > out.hi[a]) return null;
  }
  return out;
}
