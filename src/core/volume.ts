import type { Affine } from './affine';
import { identity } from './affine';

/**
 * A channel-first 3-D image on a grid in world space: MONAI's `MetaTensor` reduced to what the pipeline uses.
 *
 * - `data` is float32, C-ordered over `(C, X, Y, Z)`: index = ((c·X + x)·Y + y)·Z + z, so the last NIfTI axis
 *   is fastest. X, Y, Z are the NIfTI array axes i, j, k in file order (MONAI's convention).
 * - `affine` maps voxel (x, y, z, 1) to world millimetres (RAS+).
 */
export interface Volume {
  data: Float32Array;
  shape: [number, number, number, number];
  affine: Affine;
}

export type SpatialShape = [number, number, number];

export function spatialShape(v: Volume): SpatialShape {
  return [v.shape[1], v.shape[2], v.shape[3]];
}

export function voxelCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function createVolume(shape: [number, number, number, number], affine: Affine = identity(4), fill = 0): Volume {
  const data = new Float32Array(voxelCount(shape));
  if (fill !== 0) data.fill(fill);
  return { data, shape: [...shape], affine: affine.map((r) => r.slice()) };
}

export function cloneVolume(v: Volume): Volume {
  return { data: v.data.slice(), shape: [...v.shape], affine: v.affine.map((r) => r.slice()) };
}

export interface VolumeStats {
  min: number;
  max: number;
  mean: number;
  nanCount: number;
  infCount: number;
}

/** Min, max and mean over the finite voxels, plus counts of NaN and ±Inf voxels. */
export function volumeStats(data: ArrayLike<number>): VolumeStats {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let n = 0;
  let nanCount = 0;
  let infCount = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (Number.isNaN(v)) nanCount++;
    else if (!Number.isFinite(v)) infCount++;
    else {
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
      n++;
    }
  }
  return { min: n ? min : NaN, max: n ? max : NaN, mean: n ? sum / n : NaN, nanCount, infCount };
}
