/** NIfTI datatype codes that ssl3d reads, with their byte sizes. */

export type NiftiDtypeName = 'uint8' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';

export interface NiftiDtype {
  code: number;
  name: NiftiDtypeName;
  bytes: number;
  /** true for the integer types (nibabel scales them in float32 when they fit, else float64). */
  integer: boolean;
}

export const NIFTI_DTYPES: Record<number, NiftiDtype> = {
  2: { code: 2, name: 'uint8', bytes: 1, integer: true },
  256: { code: 256, name: 'int8', bytes: 1, integer: true },
  4: { code: 4, name: 'int16', bytes: 2, integer: true },
  512: { code: 512, name: 'uint16', bytes: 2, integer: true },
  8: { code: 8, name: 'int32', bytes: 4, integer: true },
  768: { code: 768, name: 'uint32', bytes: 4, integer: true },
  16: { code: 16, name: 'float32', bytes: 4, integer: false },
  64: { code: 64, name: 'float64', bytes: 8, integer: false },
};

/** Names of the NIfTI datatype codes ssl3d does not read, for error messages. */
export const UNSUPPORTED_DTYPE_NAMES: Record<number, string> = {
  0: 'unknown (0)',
  1: 'binary (1 bit)',
  32: 'complex64',
  128: 'RGB24',
  1024: 'int64',
  1280: 'uint64',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'RGBA32',
};

/** The datatypes ssl3d writes. */
export type WritableDtype = 'float32' | 'int16' | 'uint8';
export const WRITE_CODES: Record<WritableDtype, { code: number; bytes: number }> = {
  uint8: { code: 2, bytes: 1 },
  int16: { code: 4, bytes: 2 },
  float32: { code: 16, bytes: 4 },
};
