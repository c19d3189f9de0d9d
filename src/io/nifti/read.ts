/**
 * Reading `.nii` / `.nii.gz` (NIfTI-1 and NIfTI-2, either byte order) into float32 arrays the way MONAI's
 * `LoadImage` (NibabelReader, dtype float32) sees them: scl_slope/scl_inter applied as nibabel does, the affine is
 * nibabel's `img.affine` after MONAI's header repair.
 */
import { promises as fsp } from 'node:fs';
import * as zlib from 'node:zlib';
import type { Affine } from '../../core/affine';
import { volumeStats } from '../../core/volume';
import { NiftiReadError, NonFiniteDataError } from '../../errors';
import { bestAffine, monaiAffine } from './affine';
import { fortranToC } from './transpose';
import { HeaderProblem, parseHeader, type NiftiHeader } from './header';

export interface NiftiImage {
  /** The file it came from (or a label for in-memory bytes). */
  path: string;
  /** Voxel values, float32, C-ordered over (X, Y, Z): index = (x·Y + y)·Z + z. */
  data: Float32Array;
  shape: [number, number, number];
  /** Voxel-to-world (RAS+, mm), as MONAI's LoadImage reports it. */
  affine: Affine;
  /** nibabel's `img.affine` before MONAI's repair (equal to `affine` for consistent headers). */
  nibabelAffine: Affine;
  /** pixdim[1..3] after MONAI's header repair. */
  zooms: [number, number, number];
  header: NiftiHeader;
  /** Header problems that were fixed automatically (nibabel's checks and MONAI's repair). */
  warnings: string[];
  /** Number of NaN / ±Inf voxels found (only when `nonFinite` is 'allow'; otherwise loading throws). */
  nanCount: number;
  infCount: number;
}

export interface LoadNiftiOptions {
  /** What to do with NaN/Inf voxels: 'error' (default) throws NonFiniteDataError, 'allow' keeps and counts them. */
  nonFinite?: 'error' | 'allow';
}

const GZIP_MAGIC = [0x1f, 0x8b];

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1];
}

/** Decompress if the bytes are gzip (detected by magic number, not by file name). */
export function maybeGunzip(bytes: Uint8Array, path: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return zlib.gunzipSync(bytes);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'Z_BUF_ERROR' || /unexpected end/i.test(err.message)) {
      throw new NiftiReadError(path, 'gzip stream ends early: the file is truncated (incomplete download or copy?)');
    }
    throw new NiftiReadError(path, `corrupt gzip data (${err.message})`);
  }
}

/** Read and decode a NIfTI file. Throws NiftiReadError (naming the file) for anything unreadable. */
export async function loadNifti(path: string, options: LoadNiftiOptions = {}): Promise<NiftiImage> {
  let bytes: Uint8Array;
  try {
    bytes = await fsp.readFile(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === 'ENOENT' ? 'file not found' : err.code === 'EISDIR' ? 'is a directory, not a NIfTI file' : err.message;
    throw new NiftiReadError(path, why);
  }
  return decodeNifti(bytes, path, options);
}

/** Decode NIfTI bytes (plain or gzip) already in memory. `path` is only used in messages. */
export async function decodeNifti(bytes: Uint8Array, path: string, options: LoadNiftiOptions = {}): Promise<NiftiImage> {
  const raw = maybeGunzip(bytes, path);
  let header: NiftiHeader;
  try {
    header = await parseHeader(raw);
  } catch (e) {
    if (e instanceof HeaderProblem) throw new NiftiReadError(path, e.message);
    throw e;
  }
  const ndim = header.dim[0];
  const dims = header.dim.slice(1, ndim + 1);
  const extra = dims.slice(3).reduce((a, b) => a * b, 1);
  if (ndim < 3) {
    throw new NiftiReadError(path, `image is ${ndim}-D (dim = [${dims.join(', ')}]); a 3-D volume is needed`);
  }
  if (extra !== 1) {
    throw new NiftiReadError(
      path,
      `image is ${ndim}-D (dim = [${dims.join(', ')}]) with ${extra} volumes; a single 3-D volume is needed (split the series first)`,
    );
  }
  const shape: [number, number, number] = [dims[0], dims[1], dims[2]];
  const n = shape[0] * shape[1] * shape[2];
  const nbytes = n * header.dtype.bytes;
  if (!Number.isSafeInteger(nbytes) || nbytes > 2 ** 32) {
    throw new NiftiReadError(path, `volume of ${shape.join('×')} ${header.dtype.name} voxels is too large to load`);
  }
  if (header.voxOffset > raw.byteLength) {
    throw new NiftiReadError(path, `vox_offset ${header.voxOffset} is beyond the end of the file (${raw.byteLength} bytes)`);
  }
  if (header.voxOffset + nbytes > raw.byteLength) {
    throw new NiftiReadError(
      path,
      `file is truncated: ${shape.join('×')} ${header.dtype.name} voxels need ${nbytes} bytes after offset ${header.voxOffset}, ` +
        `only ${raw.byteLength - header.voxOffset} present`,
    );
  }

  let geometry;
  try {
    geometry = monaiAffine(header, shape);
  } catch (e) {
    if (e instanceof HeaderProblem) throw new NiftiReadError(path, e.message);
    throw e;
  }
  for (const row of geometry.affine) {
    if (row.some((v) => !Number.isFinite(v))) throw new NiftiReadError(path, 'affine (sform/qform) contains NaN or Inf');
  }
  if (!geometry.zooms.every(Number.isFinite)) {
    throw new NiftiReadError(
      path,
      `voxel spacing [${geometry.zooms.join(', ')}] is not finite (pixdim or affine values overflow)`,
    );
  }

  let scale: [number, number] | null;
  try {
    scale = slopeInter(header);
  } catch (e) {
    if (e instanceof HeaderProblem) throw new NiftiReadError(path, e.message);
    throw e;
  }
  const data = decodeVoxels(raw, header, shape, scale);
  const nonFinite = options.nonFinite ?? 'error';
  let nanCount = 0;
  let infCount = 0;
  if (!header.dtype.integer || header.sclSlope !== 1 || header.sclInter !== 0) {
    const st = volumeStats(data);
    nanCount = st.nanCount;
    infCount = st.infCount;
    if ((nanCount || infCount) && nonFinite === 'error') throw new NonFiniteDataError(path, nanCount, infCount);
  }
  return {
    path,
    data,
    shape,
    affine: geometry.affine,
    nibabelAffine: bestAffine(header, shape),
    zooms: geometry.zooms,
    header,
    warnings: [...header.fixes, ...geometry.repairs],
    nanCount,
    infCount,
  };
}

/** nibabel `get_slope_inter`: null when no scaling applies. */
function slopeInter(h: NiftiHeader): [number, number] | null {
  const slope = h.sclSlope;
  if (slope === 0 || !Number.isFinite(slope)) return null;
  const inter = h.sclInter;
  if (!Number.isFinite(inter)) throw new HeaderProblem(`valid scl_slope but invalid scl_inter ${inter}`);
  if (slope === 1 && inter === 0) return null;
  return [slope, inter];
}

function readTyped(raw: Uint8Array, h: NiftiHeader, n: number): ArrayLike<number> {
  const bytes = h.dtype.bytes;
  const start = raw.byteOffset + h.voxOffset;
  // Copy into a fresh, aligned buffer; swap bytes for big-endian files.
  const buf = raw.buffer.slice(start, start + n * bytes) as ArrayBuffer;
  if (!h.littleEndian && bytes > 1) {
    const u8 = new Uint8Array(buf);
    for (let i = 0; i < u8.length; i += bytes) {
      for (let a = i, b = i + bytes - 1; a < b; a++, b--) {
        const t = u8[a];
        u8[a] = u8[b];
        u8[b] = t;
      }
    }
  }
  switch (h.dtype.name) {
    case 'uint8':
      return new Uint8Array(buf);
    case 'int8':
      return new Int8Array(buf);
    case 'int16':
      return new Int16Array(buf);
    case 'uint16':
      return new Uint16Array(buf);
    case 'int32':
      return new Int32Array(buf);
    case 'uint32':
      return new Uint32Array(buf);
    case 'float32':
      return new Float32Array(buf);
    case 'float64':
      return new Float64Array(buf);
  }
}

/** Decode voxel data: file (Fortran) order → C order over (X, Y, Z), scaling applied as nibabel does. */
function decodeVoxels(
  raw: Uint8Array,
  h: NiftiHeader,
  shape: [number, number, number],
  scale: [number, number] | null,
): Float32Array {
  const [X, Y, Z] = shape;
  const src = readTyped(raw, h, X * Y * Z);
  // nibabel's get_slope_inter returns Python floats, so apply_read_scaling works in float64 for every dtype
  // (`arr * slope` then `+ inter`); MONAI then casts to float32. Here: float64 arithmetic, one rounding on store.
  const out = new Float32Array(X * Y * Z);
  fortranToC(src, shape, out, scale ? scale[0] : 1, scale ? scale[1] : 0);
  return out;
}
