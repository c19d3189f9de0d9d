/**
 * The voxel-to-world affine of a NIfTI header, exactly as nibabel's `img.affine` (`get_best_affine`), and MONAI's
 * header repair (`correct_nifti_header_if_necessary` / `rectify_header_sform_qform`, spec §1.2 LoadImaged).
 */
import { allclose, det3, fromParts, identity, polarOrthogonal, quat2mat, spacing, type Affine, type Mat3 } from '../../core/affine';
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
 * MONAI `NibabelReader` + `correct_nifti_header_if_necessary`: when the header's zooms disagree with the affine's
 * column norms, keep whichever of sform/qform matches the zooms; if neither matches, reset the zooms to the
 * affine's column norms. The affine MONAI uses afterwards is returned.
 */
export function monaiAffine(h: NiftiHeader, shape: readonly number[]): RepairedGeometry {
  const ndim = Math.min(h.dim[0], 3);
  const zooms: [number, number, number] = [h.pixdim[1], h.pixdim[2], h.pixdim[3]];
  const affine = bestAffine(h, shape);
  const repairs: string[] = [];
  if (h.dim[0] >= 5) return { affine, zooms, repairs };
  const pix = zooms.slice(0, ndim);
  const norm = spacing(affine).slice(0, ndim);
  if (allclose(pix, norm)) return { affine, zooms, repairs };

  const sform = sformAffine(h);
  const qform = qformAffine(h);
  const sformMismatch = !allclose(spacing(sform).slice(0, ndim), pix);
  const qformMismatch = !allclose(spacing(qform).slice(0, ndim), pix);
  if (h.sformCode !== 0) {
    if (!sformMismatch) return { affine, zooms, repairs };
    if (!qformMismatch) {
      repairs.push('sform spacing disagrees with pixdim; using the qform as the sform (MONAI header repair)');
      return { affine: qform, zooms, repairs };
    }
  }
  if (h.qformCode !== 0) {
    if (!qformMismatch) return { affine, zooms, repairs };
    if (!sformMismatch) {
      // nibabel set_qform(sform) stores the shear-free part of the sform as the new qform, and the affine
      // becomes that qform (sform_code is 0 here).
      repairs.push('qform spacing disagrees with pixdim; rebuilding the qform from the sform (MONAI header repair)');
      return { affine: orthogonalizedSform(sform), zooms, repairs };
    }
  }
  const fixed = spacing(affine);
  repairs.push(`pixdim ${JSON.stringify(pix)} does not match the affine; setting pixdim to ${JSON.stringify(fixed.slice(0, ndim))}`);
  return { affine, zooms: fixed, repairs };
}

/** The affine nibabel's qform round-trip gives for `a`: columns kept at their norms, rotation made orthogonal. */
function orthogonalizedSform(a: Affine): Affine {
  // Written via the same route as nibabel set_qform → get_qform (polar decomposition of the normalised columns).
  const zooms = spacing(a);
  const r: Mat3 = [0, 1, 2].map((i) => [0, 1, 2].map((j) => a[i][j] / zooms[j]));
  const qfac = det3(r) > 0 ? 1 : -1;
  if (qfac < 0) for (let i = 0; i < 3; i++) r[i][2] *= -1;
  const pr = polarOrthogonal(r);
  const vox = [zooms[0], zooms[1], zooms[2] * qfac];
  return fromParts(
    pr.map((row) => row.map((x, j) => x * vox[j])),
    [a[0][3], a[1][3], a[2][3]],
  );
}
