/**
 * NIfTI-1 / NIfTI-2 header parsing. nifti-reader-js detects the version and byte order and parses the fields;
 * this module adds the fields it does not expose (the raw `srow_*` rows, needed for nibabel's `get_sform()`),
 * validates everything against the file's size, and applies the same automatic fixes nibabel applies on load
 * (`Nifti1Header.check_fix`): qfac ∉ {−1, 1} → 1, zero pixdims → 1, negative pixdims → abs, invalid xform codes → 0.
 */
import { NIFTI_DTYPES, UNSUPPORTED_DTYPE_NAMES, type NiftiDtype } from './datatypes';

export interface NiftiHeader {
  version: 1 | 2;
  littleEndian: boolean;
  /** `dim[0..7]`. */
  dim: number[];
  dtype: NiftiDtype;
  /** `pixdim[0..7]` after nibabel's automatic fixes. */
  pixdim: number[];
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
  qformCode: number;
  sformCode: number;
  quatern: [number, number, number];
  qoffset: [number, number, number];
  /** `srow_x`, `srow_y`, `srow_z` as stored (whatever `sform_code` says). */
  srow: number[][];
  xyztUnits: number;
  description: string;
  /** Fixes applied on load, as nibabel would report them. */
  fixes: string[];
}

/** Thrown by the parser; the reader turns it into a NiftiReadError naming the file. */
export class HeaderProblem extends Error {}

type NiftiModule = typeof import('nifti-reader-js', { with: { 'resolution-mode': 'import' } });
let niftiModule: Promise<NiftiModule> | undefined;
/** nifti-reader-js is an ES module; ssl3d is CommonJS, so it is loaded with a dynamic import once. */
export function niftiReader(): Promise<NiftiModule> {
  niftiModule ??= import('nifti-reader-js');
  return niftiModule;
}

const VALID_XFORM_CODES = new Set([0, 1, 2, 3, 4, 5]);

/**
 * Parse the header at the start of `bytes` (already decompressed). `fileLength` is the number of bytes available,
 * used to check that the voxel data fits.
 */
export async function parseHeader(bytes: Uint8Array): Promise<NiftiHeader> {
  const nifti = await niftiReader();
  if (bytes.byteLength < 348) {
    throw new HeaderProblem(`file is ${bytes.byteLength} bytes, shorter than a NIfTI-1 header (348 bytes): truncated?`);
  }
  // Only the fixed-size header goes to nifti-reader-js (348 or 540 bytes): given more, it parses header extensions
  // itself and its extension loop can read out of range or run backwards on corrupt sizes. ssl3d ignores
  // extensions (nibabel reads them but does not use them for the image).
  const head = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + Math.min(bytes.byteLength, 540)) as ArrayBuffer;
  const dv = new DataView(head);
  const sizeLE = dv.getInt32(0, true);
  const sizeBE = dv.getInt32(0, false);
  const isV1 = sizeLE === 348 || sizeBE === 348;
  const isV2 = sizeLE === 540 || sizeBE === 540;
  if (!isV1 && !isV2) {
    throw new HeaderProblem(`not a NIfTI file: sizeof_hdr is ${sizeLE} (expected 348 for NIfTI-1 or 540 for NIfTI-2)`);
  }
  if (isV2 && bytes.byteLength < 540) {
    throw new HeaderProblem(`file is ${bytes.byteLength} bytes, shorter than a NIfTI-2 header (540 bytes): truncated?`);
  }
  const ab = head.slice(0, isV2 ? 540 : 348);
  if (isV1 && !nifti.isNIFTI1(ab)) {
    const m = String.fromCharCode(dv.getUint8(344), dv.getUint8(345), dv.getUint8(346));
    throw new HeaderProblem(`bad NIfTI-1 magic ${JSON.stringify(m)} (expected "n+1"; ".hdr/.img" pairs and Analyze are not supported)`);
  }
  if (isV2 && !nifti.isNIFTI2(ab)) {
    throw new HeaderProblem('bad NIfTI-2 magic (expected "n+2"; ".hdr/.img" pairs are not supported)');
  }
  let raw: InstanceType<NiftiModule['NIFTI1']> | InstanceType<NiftiModule['NIFTI2']>;
  try {
    raw = nifti.readHeader(ab);
  } catch (e) {
    throw new HeaderProblem(`unreadable NIfTI header: ${(e as Error).message}`);
  }
  const le = raw.littleEndian;
  const version: 1 | 2 = isV2 ? 2 : 1;
  const fixes: string[] = [];

  // srow_* rows (nifti-reader-js folds them into `affine` only when sform_code > 0).
  const srow: number[][] = [];
  for (let r = 0; r < 3; r++) {
    const row: number[] = [];
    for (let c = 0; c < 4; c++) {
      row.push(version === 1 ? dv.getFloat32(280 + r * 16 + c * 4, le) : dv.getFloat64(400 + r * 32 + c * 8, le));
    }
    srow.push(row);
  }

  // NIfTI-2 int64 fields are read here: nifti-reader-js's getInt64At mixes up the words of big-endian values.
  const dim =
    version === 1 ? raw.dims.map(Number) : Array.from({ length: 8 }, (_, i) => Number(dv.getBigInt64(16 + 8 * i, le)));
  const ndim = dim[0];
  if (!(ndim >= 1 && ndim <= 7)) throw new HeaderProblem(`dim[0] = ${ndim} is not in 1..7: corrupt header`);
  for (let i = 1; i <= ndim; i++) {
    if (!Number.isInteger(dim[i]) || dim[i] < 1) {
      throw new HeaderProblem(`dim[${i}] = ${dim[i]} is not a positive size: corrupt header`);
    }
  }
  const dtype = NIFTI_DTYPES[raw.datatypeCode];
  if (!dtype) {
    const name = UNSUPPORTED_DTYPE_NAMES[raw.datatypeCode] ?? `code ${raw.datatypeCode}`;
    throw new HeaderProblem(
      `unsupported datatype ${name}; ssl3d reads uint8, int8, int16, uint16, int32, uint32, float32, float64`,
    );
  }
  if (raw.numBitsPerVoxel !== dtype.bytes * 8) {
    fixes.push(`bitpix ${raw.numBitsPerVoxel} does not match datatype ${dtype.name}; using ${dtype.bytes * 8}`);
  }

  const pixdim = raw.pixDims.map(Number);
  if (pixdim[0] !== 1 && pixdim[0] !== -1) {
    fixes.push(`pixdim[0] (qfac) ${pixdim[0]} should be 1 or -1; setting qfac to 1`);
    pixdim[0] = 1;
  }
  for (let i = 1; i <= 3; i++) {
    if (!Number.isFinite(pixdim[i])) throw new HeaderProblem(`pixdim[${i}] = ${pixdim[i]} is not finite: corrupt header`);
  }
  if ([1, 2, 3].some((i) => pixdim[i] === 0)) {
    fixes.push('pixdim[1,2,3] should be non-zero; setting 0 dims to 1');
    for (const i of [1, 2, 3]) if (pixdim[i] === 0) pixdim[i] = 1;
  }
  if ([1, 2, 3].some((i) => pixdim[i] < 0)) {
    fixes.push('pixdim[1,2,3] should be positive; setting to abs of pixdim values');
    for (const i of [1, 2, 3]) pixdim[i] = Math.abs(pixdim[i]);
  }
  let qformCode = raw.qform_code;
  let sformCode = raw.sform_code;
  if (!VALID_XFORM_CODES.has(qformCode)) {
    fixes.push(`qform_code ${qformCode} not valid; setting to 0`);
    qformCode = 0;
  }
  if (!VALID_XFORM_CODES.has(sformCode)) {
    fixes.push(`sform_code ${sformCode} not valid; setting to 0`);
    sformCode = 0;
  }
  // nibabel: a single-file NIfTI needs vox_offset ≥ 352 (NIfTI-1) / 544 (NIfTI-2), header + 4 extension bytes
  // (problem level 40: load fails). vox_offset 0 means "unset"; nibabel then reads the data from byte 0 (the
  // header itself), ssl3d from the minimum offset.
  const minOffset = version === 1 ? 352 : 544;
  let voxOffset = version === 1 ? Number(raw.vox_offset) : Number(dv.getBigInt64(168, le));
  if (!Number.isFinite(voxOffset) || voxOffset < 0) {
    throw new HeaderProblem(`vox_offset ${voxOffset} is not a valid byte offset: corrupt header`);
  }
  if (voxOffset === 0) {
    fixes.push(`vox_offset is 0 (unset); reading the voxel data from byte ${minOffset}`);
    voxOffset = minOffset;
  }
  if (voxOffset < minOffset) {
    throw new HeaderProblem(
      `vox_offset ${voxOffset} is inside the header (minimum ${minOffset} for a single-file NIfTI-${version})`,
    );
  }
  return {
    version,
    littleEndian: le,
    dim,
    dtype,
    pixdim,
    voxOffset: Math.floor(voxOffset),
    sclSlope: raw.scl_slope,
    sclInter: raw.scl_inter,
    qformCode,
    sformCode,
    quatern: [raw.quatern_b, raw.quatern_c, raw.quatern_d],
    qoffset: [raw.qoffset_x, raw.qoffset_y, raw.qoffset_z],
    srow,
    xyztUnits: raw.xyzt_units,
    description: raw.description ?? '',
    fixes,
  };
}
