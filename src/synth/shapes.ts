/**
 * Shape descriptions the phantom painter understands. All positions and sizes are world millimetres (RAS+).
 * Shapes are plain data so a phantom's anatomy can be inspected, logged and tested apart from rasterisation.
 */
import type { Mat3 } from '../core/affine';
import type { Vec3 } from './grid';

/** A concentric layer: voxels whose normalised radius (0 = centre/axis, 1 = surface) is below `upTo` get `hu`. */
export interface Layer {
  upTo: number;
  hu: number;
}

/** Body-region codes written by `paintBody`, growing inwards; `within: r` restricts a shape to regions ≥ r. */
export const REGION = { outside: 0, subcutaneousFat: 1, muscleWall: 2, cavity: 3 } as const;
export type Region = (typeof REGION)[keyof typeof REGION];

/** Number of coefficients of the smooth radial perturbation of a blob (see `perturbationBasis`). */
export const PERT_TERMS = 9;

/**
 * A deformed ellipsoid: the surface is at local radius d(u) = 1 + Σ pert[i]·basis_i(u) along unit direction u, in
 * coordinates q = diag(1/axes)·rotᵀ·(p − center). The basis is the smooth polynomials of degree ≤ 3 in u (see
 * `perturbationBasis`), so the surface stays smooth and star-shaped.
 */
export interface BlobShape {
  kind: 'blob';
  name: string;
  /** Label written (0 = unlabeled tissue). */
  label: number;
  center: Vec3;
  /** Semi-axes in mm, along rot's columns. */
  axes: Vec3;
  /** Columns are the blob's local axes in world coordinates. */
  rot: Mat3;
  pert: number[];
  layers: Layer[];
  /** Optional gas cap: inside the normalised radius `upTo`, voxels more than `above` mm along world `dir` get `hu`. */
  cap?: { dir: Vec3; above: number; upTo: number; hu: number };
  /** Paint only where the body region is at least this deep (REGION codes grow inwards). */
  within?: Region;
  /** Paint only over voxels that already carry this label (e.g. vessels inside the liver). */
  insideLabel?: number;
}

/** A capsule around the segment a→b with radius ra at a and rb at b (linear in between, round ends). */
export interface CapsuleShape {
  kind: 'capsule';
  name: string;
  label: number;
  a: Vec3;
  b: Vec3;
  ra: number;
  rb: number;
  layers: Layer[];
  within?: Region;
  insideLabel?: number;
}

export type Shape = BlobShape | CapsuleShape;

/** Body outline: elliptic cylinder along z with subcutaneous fat, a muscle wall and the cavity inside. */
export interface BodyShape {
  /** Half-width (left-right) and half-depth (antero-posterior) of the skin outline, mm. */
  halfWidth: number;
  halfDepth: number;
  /** y of the body's centre. */
  centerY: number;
  /** Subcutaneous fat thickness at the sides and front/back, mm. */
  fatLateral: number;
  fatAP: number;
  muscleThickness: number;
  /** Relative change of the outline per 100 mm of z (the abdomen widens towards the pelvis). */
  taperPer100mm: number;
  /** z where the taper is zero. */
  taperZ0: number;
  fatHU: number;
  muscleHU: number;
  cavityHU: number;
  airHU: number;
}

/**
 * The capsule chain through `points` with `radii`, as separate capsules (named `name`), sharing label and layers.
 */
export function tube(
  name: string,
  label: number,
  points: Vec3[],
  radii: number[],
  layers: Layer[],
  within?: Region,
): CapsuleShape[] {
  const out: CapsuleShape[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    out.push({ kind: 'capsule', name, label, a: points[i], b: points[i + 1], ra: radii[i], rb: radii[i + 1], layers, within });
  }
  return out;
}

/** Upper bound of a blob's normalised radius: 1 + Σ|pert_i|·max|basis_i|. */
export function maxBlobRadius(pert: readonly number[]): number {
  // max |basis| over the unit sphere: 1 for the first six, 1 for x²−y², 2 for 2z²−x²−y², ~0.577 for 3√3·xyz/√3.
  const bound = [1, 1, 1, 0.5, 0.5, 0.5, 1, 2, 1];
  let s = 1;
  for (let i = 0; i < pert.length; i++) s += Math.abs(pert[i]) * bound[i];
  return s;
}
