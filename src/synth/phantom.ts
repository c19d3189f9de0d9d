/**
 * `generatePhantom`: one CT-like abdominal volume (int16 HU) with its 13-organ BTCV label map (uint8), on a grid
 * with a given stored orientation. Deterministic: the same options and seed give the same bytes.
 */
import { axcodes, matvec, spacing as affineSpacing, type Affine } from '../core/affine';
import { Random } from '../core/random';
import { sampleAnatomy, type Anatomy } from './anatomy';
import { makeGrid, orientedAffine, ORIENTATION_CYCLE, rotation, type StoredOrientation, type Vec3 } from './grid';
import { BTCV_LABEL_NAMES, NUM_ORGANS } from './labels';
import { createCanvas, noisyInt16, paintBody, paintShape, smoothAxis } from './raster';

export type PhantomPreset = 'full' | 'small';

interface PresetSpec {
  /** In-plane matrix (array axes 0 and 1). */
  matrix: number;
  inPlaneSpacing: [number, number];
  sliceSpacing: [number, number];
  slices: [number, number];
  /** Head-foot extent of the field of view, mm. */
  zExtent: [number, number];
}

/**
 * full: 256² × 100–160 slices, in-plane 1.15–1.5 mm (the field of view must hold a real-size adult abdomen, 270–330 mm
 * wide, so 256 columns need ≥ 1.15 mm), slices 1.5–3 mm. small: 96² × 48–60 slices at ~3.5 × 3.5 × 4–5 mm for quick CPU
 * runs. Both cover ≥ 240 mm head-foot and ≥ 290 mm across: after resampling to 1.5 × 1.5 × 2 mm a 96³ crop fits.
 */
export const PRESETS: Record<PhantomPreset, PresetSpec> = {
  full: { matrix: 256, inPlaneSpacing: [1.15, 1.5], sliceSpacing: [1.5, 3.0], slices: [100, 160], zExtent: [240, 300] },
  small: { matrix: 96, inPlaneSpacing: [3.2, 3.8], sliceSpacing: [4.0, 5.0], slices: [48, 60], zExtent: [240, 290] },
};

export interface PhantomOptions {
  preset?: PhantomPreset;
  /** Stored orientation; default 'LPS'. `orientationForIndex(i)` gives the data-set cycle. */
  orientation?: StoredOrientation;
}

export interface OrganStats {
  label: number;
  name: string;
  voxels: number;
  /** Centroid in voxel indices (array axes) and in world mm (RAS). */
  centroidVoxel: Vec3;
  centroidWorld: Vec3;
}

export interface Phantom {
  /** HU, C order over (X, Y, Z). */
  image: Int16Array;
  /** BTCV class ids, C order over (X, Y, Z). */
  label: Uint8Array;
  shape: Vec3;
  affine: Affine;
  spacing: Vec3;
  orientation: StoredOrientation;
  /** nibabel axis codes of the affine (e.g. 'LPS'; oblique volumes report their nearest axes). */
  axcodes: string;
  /** Rotation applied for oblique storage, degrees (0 otherwise). */
  obliqueDegrees: number;
  seed: number;
  preset: PhantomPreset;
  noiseStd: number;
  hu: Record<string, number>;
  /** Per organ (labels 1..13): voxel count and centroid; voxels = 0 when absent. */
  organs: OrganStats[];
}

export function orientationForIndex(i: number): StoredOrientation {
  return ORIENTATION_CYCLE[i % ORIENTATION_CYCLE.length];
}

function sampleGrid(rng: Random, anatomy: Anatomy, preset: PresetSpec, orientation: StoredOrientation) {
  const { body } = anatomy;
  const zExtent = rng.uniform(...preset.zExtent);
  let sliceSpacing = rng.uniform(...preset.sliceSpacing);
  let nz = Math.round(zExtent / sliceSpacing);
  if (nz < preset.slices[0] || nz > preset.slices[1]) {
    nz = Math.min(preset.slices[1], Math.max(preset.slices[0], nz));
    sliceSpacing = zExtent / nz;
  }
  const [zNeedLo, zNeedHi] = anatomy.organZRange;
  const slack = zExtent - (zNeedHi - zNeedLo);
  // Put the organs' range inside the field of view, at a random height (cut the top first if it cannot fit).
  const zLo = slack >= 0 ? zNeedLo - rng.uniform(0.1, 0.9) * slack : zNeedLo - 5;
  const zCentre = zLo + zExtent / 2;
  // In-plane spacing: the body (widest at the lowest slice) plus a margin must fit across `matrix` voxels.
  const widest = 1 + (body.taperPer100mm / 100) * Math.max(0, body.taperZ0 - zLo);
  const need = (2 * body.halfWidth * widest + 16) / preset.matrix;
  const lo = Math.max(preset.inPlaneSpacing[0], need);
  const inPlane = rng.uniform(lo, Math.max(lo, preset.inPlaneSpacing[1]));
  const centre: Vec3 = [rng.uniform(-8, 8), body.centerY + rng.uniform(-6, 10), zCentre];
  const shape: Vec3 = [preset.matrix, preset.matrix, nz];
  let obliqueDegrees = 0;
  let rot = rotation([1, 0, 0], 0);
  if (orientation === 'LPS-oblique') {
    obliqueDegrees = rng.uniform(4, 10);
    // Mostly a gantry-like tilt about the left-right axis, plus some yaw.
    rot = rotation([1, rng.uniform(-0.3, 0.3), rng.uniform(-0.5, 0.5)], obliqueDegrees);
  }
  const affine = orientedAffine(orientation, shape, [inPlane, inPlane, sliceSpacing], centre, rot);
  return { shape, affine, obliqueDegrees };
}

/** Voxel count and centroid of each organ label. */
export function organStats(label: Uint8Array, shape: Vec3, affine: Affine): OrganStats[] {
  const [X, Y, Z] = shape;
  const n = NUM_ORGANS + 1;
  const cnt = new Float64Array(n);
  const sx = new Float64Array(n);
  const sy = new Float64Array(n);
  const sz = new Float64Array(n);
  let idx = 0;
  for (let x = 0; x < X; x++) {
    for (let y = 0; y < Y; y++) {
      for (let z = 0; z < Z; z++, idx++) {
        const l = label[idx];
        if (l === 0 || l >= n) continue;
        cnt[l]++;
        sx[l] += x;
        sy[l] += y;
        sz[l] += z;
      }
    }
  }
  const out: OrganStats[] = [];
  for (let l = 1; l < n; l++) {
    const c = cnt[l];
    const v: Vec3 = c ? [sx[l] / c, sy[l] / c, sz[l] / c] : [NaN, NaN, NaN];
    const w = c ? matvec(affine, [v[0], v[1], v[2], 1]) : [NaN, NaN, NaN];
    out.push({
      label: l,
      name: BTCV_LABEL_NAMES[l],
      voxels: c,
      centroidVoxel: v,
      centroidWorld: [w[0], w[1], w[2]],
    });
  }
  return out;
}

/**
 * Generate one phantom from `rng` (pass `new Random(seed)` to reproduce a volume). The anatomy and the field of view
 * depend on the seed only, so the same seed stored in two orientations gives the same labels, reordered.
 */
export function generatePhantom(opts: PhantomOptions, rng: Random): Phantom {
  const preset = opts.preset ?? 'full';
  const orientation = opts.orientation ?? 'LPS';
  const seed = rng.seed;
  const anatomy = sampleAnatomy(rng.derive('anatomy'));
  const { shape, affine, obliqueDegrees } = sampleGrid(rng.derive('grid'), anatomy, PRESETS[preset], orientation);
  const canvas = createCanvas(makeGrid(shape, affine));
  paintBody(canvas, anatomy.body);
  for (const s of anatomy.shapes) paintShape(canvas, s);
  // Partial-volume blur in the slice plane (array axes 0 and 1 are in-plane for every stored orientation).
  smoothAxis(canvas.image, shape, 0);
  smoothAxis(canvas.image, shape, 1);
  const image = noisyInt16(canvas.image, anatomy.noiseStd, rng.derive('noise').nextUint32());
  const organs = organStats(canvas.label, shape, affine);
  return {
    image,
    label: canvas.label,
    shape,
    affine,
    spacing: affineSpacing(affine),
    orientation,
    axcodes: axcodes(affine),
    obliqueDegrees,
    seed,
    preset,
    noiseStd: anatomy.noiseStd,
    hu: anatomy.hu,
    organs,
  };
}
