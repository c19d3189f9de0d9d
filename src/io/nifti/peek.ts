/**
 * Reading only a NIfTI file's header (the first few hundred bytes, decompressing just the start of a .nii.gz): shape,
 * datatype and affine without loading the voxels. Used to validate datalists quickly.
 */
import { promises as fsp } from 'node:fs';
import * as zlib from 'node:zlib';
import type { Affine } from '../../core/affine';
import { NiftiReadError } from '../../errors';
import { monaiAffine } from './affine';
import { HeaderProblem, parseHeader, type NiftiHeader } from './header';
import { isGzip } from './read';

export interface NiftiPeek {
  path: string;
  header: NiftiHeader;
  /** dim[1..ndim]. */
  dims: number[];
  /** The first three dims (the spatial shape). */
  shape: [number, number, number];
  /** Voxel-to-world (RAS+, mm) as MONAI's LoadImage reports it. */
  affine: Affine;
  gzipped: boolean;
}

/** Bytes enough for a NIfTI-2 header (540) plus the extension flag. */
const HEADER_NEED = 544;

async function readHead(path: string): Promise<{ head: Uint8Array; size: number; gzipped: boolean }> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(path, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === 'ENOENT'
        ? 'file not found'
        : err.code === 'EACCES'
          ? 'permission denied (file is not readable)'
          : err.code === 'EISDIR'
            ? 'is a directory, not a NIfTI file'
            : err.message;
    throw new NiftiReadError(path, why);
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw new NiftiReadError(path, 'is a directory, not a NIfTI file');
    let want = 16384;
    for (;;) {
      const n = Math.min(want, st.size);
      const buf = new Uint8Array(n);
      const { bytesRead } = await fh.read(buf, 0, n, 0);
      const raw = buf.subarray(0, bytesRead);
      if (!isGzip(raw)) return { head: raw.subarray(0, Math.min(raw.length, HEADER_NEED)), size: st.size, gzipped: false };
      let out: Uint8Array;
      try {
        // Z_SYNC_FLUSH: return what the partial stream decodes to instead of failing on the missing end.
        out = zlib.gunzipSync(raw, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
      } catch (e) {
        throw new NiftiReadError(path, `corrupt gzip data (${(e as Error).message})`);
      }
      if (out.length >= HEADER_NEED || bytesRead >= st.size) return { head: out, size: st.size, gzipped: true };
      want *= 4;
    }
  } finally {
    await fh.close();
  }
}

/** Read and check the header of a .nii / .nii.gz file. Throws NiftiReadError naming the file. */
export async function peekNifti(path: string): Promise<NiftiPeek> {
  const { head, size, gzipped } = await readHead(path);
  let header: NiftiHeader;
  try {
    header = await parseHeader(head);
  } catch (e) {
    if (e instanceof HeaderProblem) throw new NiftiReadError(path, e.message);
    throw e;
  }
  const ndim = header.dim[0];
  const dims = header.dim.slice(1, ndim + 1);
  if (ndim < 3) throw new NiftiReadError(path, `image is ${ndim}-D (dim = [${dims.join(', ')}]); a 3-D volume is needed`);
  const shape: [number, number, number] = [dims[0], dims[1], dims[2]];
  if (!gzipped) {
    const nbytes = dims.reduce((a, b) => a * b, 1) * header.dtype.bytes;
    if (header.voxOffset + nbytes > size) {
      throw new NiftiReadError(
        path,
        `file is truncated: ${dims.join('×')} ${header.dtype.name} voxels need ${header.voxOffset + nbytes} bytes, the file has ${size}`,
      );
    }
  }
  let affine: Affine;
  try {
    affine = monaiAffine(header, shape).affine;
  } catch (e) {
    if (e instanceof HeaderProblem) throw new NiftiReadError(path, e.message);
    throw e;
  }
  return { path, header, dims, shape, affine, gzipped };
}
