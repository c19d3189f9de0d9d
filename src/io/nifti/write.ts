/**
 * Writing NIfTI-1 (`.nii`, or `.nii.gz` when the name ends in `.gz`), little endian, with the affine stored both as
 * the sform and as the qform (codes 1, scanner), pixdim = the affine's column norms, units mm. nibabel, ITK-SNAP and
 * 3D Slicer then agree on the geometry. The file is written to a temporary name and renamed, so a crash never leaves
 * a half-written file under the final name.
 */
import * as zlib from 'node:zlib';
import { det3, linear, mat2quat, polarOrthogonal, spacing, type Affine, type Mat3 } from '../../core/affine';
import { ArgumentError, NiftiWriteError, Ssl3dError } from '../../errors';
import { cToFortran } from './transpose';
import { WRITE_CODES, type WritableDtype } from './datatypes';
import { writeFileAtomic } from '../atomic';

export interface SaveNiftiOptions {
  dtype?: WritableDtype;
  /** Free text stored in the header's `descrip` field (max 79 characters). */
  description?: string;
}

const HEADER_BYTES = 348;
const VOX_OFFSET = 352;

/** Encode a 3-D volume (float32, C-ordered over (X, Y, Z)) as NIfTI-1 bytes. */
export function encodeNifti(
  data: ArrayLike<number>,
  shape: readonly [number, number, number],
  affine: Affine,
  options: SaveNiftiOptions = {},
): Uint8Array {
  const dtype = options.dtype ?? 'float32';
  const [X, Y, Z] = shape;
  const n = X * Y * Z;
  if (!WRITE_CODES[dtype]) throw new ArgumentError(`cannot write dtype '${dtype}' (use float32, int16 or uint8)`);
  if (!shape.every((d) => Number.isInteger(d) && d >= 1 && d <= 32767)) {
    throw new ArgumentError(`shape [${shape.join(', ')}] cannot be stored in a NIfTI-1 header (sizes 1..32767)`);
  }
  if (data.length !== n) throw new ArgumentError(`data has ${data.length} values, shape ${shape.join('×')} needs ${n}`);
  const finiteRow = (row: number[] | undefined) => !!row && row.length >= 4 && row.slice(0, 4).every(Number.isFinite);
  if (![0, 1, 2].every((i) => finiteRow(affine[i]))) {
    throw new ArgumentError(`affine must be a finite 4×4 matrix, got ${JSON.stringify(affine)}`);
  }
  if (!(Math.abs(det3(linear(affine))) > 0)) {
    throw new ArgumentError(`affine ${JSON.stringify(affine)} is singular: it does not map voxels to a 3-D grid`);
  }
  const { code, bytes } = WRITE_CODES[dtype];
  const buf = new ArrayBuffer(VOX_OFFSET + n * bytes);
  const dv = new DataView(buf);
  const le = true;
  dv.setInt32(0, HEADER_BYTES, le);
  dv.setUint8(39, 0); // dim_info
  const dims = [3, X, Y, Z, 1, 1, 1, 1];
  dims.forEach((d, i) => dv.setInt16(40 + 2 * i, d, le));
  dv.setInt16(70, code, le);
  dv.setInt16(72, bytes * 8, le);

  const zooms = spacing(affine);
  // qform: nibabel set_qform (qfac from the determinant's sign, shears stripped by polar decomposition).
  const r: Mat3 = linear(affine).map((row) => row.map((x, j) => x / (zooms[j] || 1)));
  const qfac = det3(r) > 0 ? 1 : -1;
  if (qfac < 0) for (let i = 0; i < 3; i++) r[i][2] *= -1;
  const quat = mat2quat(polarOrthogonal(r));
  const pixdim = [qfac, zooms[0], zooms[1], zooms[2], 1, 1, 1, 1];
  pixdim.forEach((p, i) => dv.setFloat32(76 + 4 * i, p, le));
  dv.setFloat32(108, VOX_OFFSET, le);
  dv.setFloat32(112, 1, le); // scl_slope
  dv.setFloat32(116, 0, le); // scl_inter
  dv.setUint8(123, 2 + 8); // xyzt_units: mm, s
  const desc = (options.description ?? 'ssl3d').slice(0, 79);
  for (let i = 0; i < desc.length; i++) dv.setUint8(148 + i, desc.charCodeAt(i) & 0x7f);
  dv.setInt16(252, 1, le); // qform_code: scanner
  dv.setInt16(254, 1, le); // sform_code: scanner
  dv.setFloat32(256, quat[1], le);
  dv.setFloat32(260, quat[2], le);
  dv.setFloat32(264, quat[3], le);
  dv.setFloat32(268, affine[0][3], le);
  dv.setFloat32(272, affine[1][3], le);
  dv.setFloat32(276, affine[2][3], le);
  for (let row = 0; row < 3; row++) for (let c = 0; c < 4; c++) dv.setFloat32(280 + row * 16 + c * 4, affine[row][c], le);
  const magic = 'n+1\0';
  for (let i = 0; i < 4; i++) dv.setUint8(344 + i, magic.charCodeAt(i));
  // bytes 348..351: extension flag = 0 (no extensions)

  // Voxels: C order (X, Y, Z) → file (Fortran) order. Typed arrays are little endian on every platform Node runs on.
  // Integer outputs round to nearest and saturate (typed-array assignment alone would truncate or wrap).
  const out =
    dtype === 'float32'
      ? new Float32Array(buf, VOX_OFFSET, n)
      : dtype === 'int16'
        ? new Int16Array(buf, VOX_OFFSET, n)
        : new Uint8Array(buf, VOX_OFFSET, n);
  cToFortran(data, [X, Y, Z], out, dtype === 'int16' ? { lo: -32768, hi: 32767 } : dtype === 'uint8' ? { lo: 0, hi: 255 } : null);
  return new Uint8Array(buf);
}


/** Write a 3-D volume to `file` (gzip when it ends in `.gz`), atomically (temp file + rename). */
export async function saveNifti(
  file: string,
  data: ArrayLike<number>,
  shape: readonly [number, number, number],
  affine: Affine,
  options: SaveNiftiOptions = {},
): Promise<void> {
  let bytes: Uint8Array;
  try {
    bytes = encodeNifti(data, shape, affine, options);
  } catch (e) {
    if (e instanceof Ssl3dError) throw new NiftiWriteError(file, e.message);
    throw e;
  }
  if (file.endsWith('.gz')) bytes = zlib.gzipSync(bytes, { level: 6 });
  try {
    await writeFileAtomic(file, bytes, { mkdir: true });
  } catch (e) {
    throw new NiftiWriteError(file, (e as Error).message);
  }
}
