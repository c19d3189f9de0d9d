/**
 * The voxel-to-world affine of a NIfTI header, exactly as nibabel's `img.affine` (`get_best_affine`), and MONAI's
 * header repair (`correct_nifti_header_if_necessary` / `rectify_header_sform_qform`, spec §1.2 LoadImaged).
 */
import {
  allclose,
  det3,
  fromParts,
  identity,
  mat2quat,
  polarOrthogonal,
  quat2mat,
  spacing,
  type Affine,
  type Mat3,
} from '../../core/affine';
import type { NiftiHeader } from './header';
import { HeaderProblem } from './header';

/** nibabel `quaternion_threshold` for float32 headers: −3·eps(float32). */
const QUAT_THRESHOLD = -3 * 1.1920928955078125e-7;

/** nibabel `get_qform()` (uncoded): rotation from the quaternion, zooms from pixdim, qfac on the last axis. */
export function qformAffine(h: NiftiHeader): Affine {
  const [b, c, d] = h.quatern;
  let w2 = 1 - (b * b + c * c + d * d);
  // nibabel fillpositive: a slightly negative w² (rounding) is clamped, a clearly negative one is an error.
  const thresh = h.version === 1 ? QUAT_THRESHOLD : -3 * 2.220446049250313e-16;
  if (w2 < 0) {
    if (w2 < thresh) throw new HeaderProblem(`qform quaternion (b, c, d) = (${b}, ${c}, ${d}) has norm > 1`);
    w2 = 0;
  }
  const r = quat2mat([Math.sqrt(w2), b, c, d]);
  const vox = [h.pixdim[1], h.pixdim[2], h.pixdim[3] * h.pixdim[0]];
  const m: Mat3 = r.map((row) => row.map((x, j) => x * vox[j]));
  return fromParts(m, h.qoffset);
}

/** nibabel `get_sform()` (uncoded): the srow rows as stored. */
export function sformAffine(h: NiftiHeader): Affine {
  return [...h.srow.map((r) => r.slice()), [0, 0, 0, 1]];
}

/** nibabel `get_base_affine()`: pixdim zooms, x flipped, centre of the grid at the origin. */
export function baseAffine(h: NiftiHeader, shape: readonly number[]): Affine {
  const zooms = [-h.pixdim[1], h.pixdim[2], h.pixdim[3]];
  const a = identity(4);
  for (let i = 0; i < 3; i++) {
    a[i][i] = zooms[i];
    a[i][3] = (-(shape[i] - 1) / 2) * zooms[i];
  }
  return a;
}

/** nibabel `img.affine`: sform if sform_code > 0, else qform if qform_code > 0, else the pixdim-based fallback. */
export function bestAffine(h: NiftiHeader, shape: readonly number[]): Affine {
  if (h.sformCode !== 0) return sformAffine(h);
  if (h.qformCode !== 0) return qformAffine(h);
  return baseAffine(h, shape);
}

export interface RepairedGeometry {
  affine: Affine;
  /** Header zooms (pixdim[1..3]) after MONAI's repair. */
  zooms: [number, number, number];
  /** What was changed, if anything (empty when the header was consistent). */
  repairs: string[];
}

/**
 * MONAI `affine_to_spacing(affine, r)`: column norms of `affine[:r, :r]`, zeros replaced by 1. Note that for a 4-D
 * image MONAI calls it with r = 4 on the 4×4 affine, so the 4th "spacing" is the norm of the translation column
 * including the homogeneous 1, i.e. sqrt(|t|² + 1).
 */
export function affineToSpacing(a: Affine, r: number): number[] {
  const out: number[] = [];
  for (let j = 0; j < r; j++) {
    let s = 0;
    for (let i = 0; i < r; i++) s += a[i][j] * a[i][j];
    out.push(Math.sqrt(s) || 1);
  }
  return out;
}

/**
 * MONAI `NibabelReader` + `correct_nifti_header_if_necessary` / `rectify_header_sform_qform`, step by step:
 * - dim[0] ≥ 5: nothing. Otherwise, with d = dim[0], if `allclose(pixdim[1..d], affine_to_spacing(img.affine, d))`
 *   nothing.
 * - sform_code ≠ 0: if the sform's spacing matches pixdim keep it; else if the (uncoded) qform's does, `set_sform(qform)`
 *   and the affine becomes the qform (stored as float32 srow rows in NIfTI-1).
 * - qform_code ≠ 0: if the qform's spacing matches keep it; else if the sform's does, `set_qform(sform)`: the qform is
 *   rebuilt from the sform (shears stripped, stored as float32 in NIfTI-1) and, sform_code being 0, becomes the affine.
 * - otherwise the zooms are reset to `affine_to_spacing(img.affine, d)`; the affine is unchanged.
 * In 3-D the qform's spacing always equals pixdim, so only the first repair can happen; with d = 4 the translation
 * column takes part in the comparison (see affineToSpacing) and all three branches occur.
 */
export function monaiAffine(h: NiftiHeader, shape: readonly number[]): RepairedGeometry {
  const d = h.dim[0];
  const zooms: [number, number, number] = [h.pixdim[1], h.pixdim[2], h.pixdim[3]];
  const affine = bestAffine(h, shape);
  const repairs: string[] = [];
  if (d >= 5) return { affine, zooms, repairs };
  const pix = h.pixdim.slice(1, d + 1);
  if (allclose(pix, affineToSpacing(affine, d))) return { affine, zooms, repairs };

  const sform = sformAffine(h);
  const qform = qformAffine(h);
  const sformMismatch = !allclose(affineToSpacing(sform, d), pix);
  const qformMismatch = !allclose(affineToSpacing(qform, d), pix);
  if (h.sformCode !== 0) {
    if (!sformMismatch) return { affine, zooms, repairs };
    if (!qformMismatch) {
      repairs.push('sform spacing disagrees with pixdim; using the qform as the sform (MONAI header repair)');
      const stored = h.version === 1 ? qform.map((row) => row.map((v) => Math.fround(v))) : qform;
      return { affine: stored, zooms, repairs };
    }
  }
  if (h.qformCode !== 0) {
    if (!qformMismatch) return { affine, zooms, repairs };
    if (!sformMismatch) {
      repairs.push('qform spacing disagrees with pixdim; rebuilding the qform from the sform (MONAI header repair)');
      const q = qformFromAffine(h, sform);
      return { affine: qformAffine(q), zooms: [q.pixdim[1], q.pixdim[2], q.pixdim[3]], repairs };
    }
  }
  const fixed = affineToSpacing(affine, d);
  repairs.push(
    `pixdim ${JSON.stringify(pix)} does not match the affine; setting pixdim to ${JSON.stringify(fixed)} (MONAI header repair)`,
  );
  return { affine, zooms: [fixed[0], fixed[1], fixed[2]], repairs };
}

/**
 * nibabel `Nifti1Header.set_qform(a)`: zooms = column norms, qfac from the determinant's sign, the closest rotation
 * (polar decomposition) as a quaternion; stored with the header's precision (float32 for NIfTI-1).
 */
function qformFromAffine(h: NiftiHeader, a: Affine): NiftiHeader {
  const store = h.version === 1 ? Math.fround : (v: number) => v;
  const zooms = spacing(a);
  const r: Mat3 = [0, 1, 2].map((i) => [0, 1, 2].map((j) => a[i][j] / zooms[j]));
  const qfac = det3(r) > 0 ? 1 : -1;
  if (qfac < 0) for (let i = 0; i < 3; i++) r[i][2] *= -1;
  let pr: Mat3;
  try {
    pr = polarOrthogonal(r);
  } catch {
    throw new HeaderProblem('sform is singular: cannot rebuild the qform from it (MONAI header repair)');
  }
  const quat = mat2quat(pr);
  const pixdim = h.pixdim.slice();
  pixdim[0] = qfac;
  for (let i = 0; i < 3; i++) pixdim[i + 1] = store(zooms[i]);
  return {
    ...h,
    pixdim,
    quatern: [store(quat[1]), store(quat[2]), store(quat[3])],
    qoffset: [store(a[0][3]), store(a[1][3]), store(a[2][3])],
  };
}
