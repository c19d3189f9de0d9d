/**
 * NumPy `.npy` files (format version 1.0) holding float32 arrays: little-endian `'<f4'`, C order, any shape.
 * `numpy.load(file)` reads what `writeNpy` writes; `readNpy` reads those files back (and any v1.0/v2.0 `<f4`
 * C-order file). Writes are atomic (temp file + rename), so a crash never leaves a half-written file.
 *
 * Layout: magic `\x93NUMPY`, major 1, minor 0, uint16 LE header length, an ASCII Python dict literal
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (…), }` padded with spaces and a final `\n` so that the data
 * starts at a multiple of 64 bytes (what numpy itself writes), then the raw float32 data.
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import { ArgumentError } from '../errors';
import { writeFileAtomic } from './atomic';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const LITTLE_ENDIAN_HOST = os.endianness() === 'LE';

export interface NpyArray {
  data: Float32Array;
  shape: number[];
}

function shapeLiteral(shape: readonly number[]): string {
  if (shape.length === 0) return '()';
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

function checkShape(data: Float32Array, shape: readonly number[]): void {
  if (!shape.every((s) => Number.isSafeInteger(s) && s >= 0)) throw new ArgumentError(`npy: invalid shape [${shape.join(', ')}]`);
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new ArgumentError(`npy: shape [${shape.join(', ')}] holds ${n} values but the data has ${data.length}`);
}

/** The `.npy` header (magic through the padded dict) for a float32 C-order array. */
export function npyHeader(shape: readonly number[]): Uint8Array {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeLiteral(shape)}, }`;
  const pre = MAGIC.length + 2 + 2; // magic, version, header length
  const unpadded = pre + dict.length + 1; // + '\n'
  const total = Math.ceil(unpadded / 64) * 64;
  const headerText = dict + ' '.repeat(total - unpadded) + '\n';
  if (headerText.length > 0xffff) throw new ArgumentError(`npy: shape [${shape.join(', ')}] makes the header too long for format 1.0`);
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  out[8] = headerText.length & 0xff;
  out[9] = headerText.length >> 8;
  for (let i = 0; i < headerText.length; i++) out[pre + i] = headerText.charCodeAt(i);
  return out;
}

/** Encode a float32 array of the given shape (C order) as `.npy` bytes. */
export function encodeNpy(data: Float32Array, shape: readonly number[]): Buffer {
  checkShape(data, shape);
  const header = npyHeader(shape);
  const out = Buffer.alloc(header.length + data.length * 4);
  out.set(header, 0);
  if (LITTLE_ENDIAN_HOST) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), header.length);
  } else {
    for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i], header.length + 4 * i);
  }
  return out;
}

/** Parse `.npy` bytes holding a little-endian float32 C-order array. `where` names the source in errors. */
export function decodeNpy(bytes: Uint8Array, where = '<buffer>'): NpyArray {
  const fail = (problem: string): never => {
    throw new ArgumentError(`${where}: not a readable float32 .npy file: ${problem}`);
  };
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m)) fail('bad magic');
  const major = bytes[6];
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = bytes[8] | (bytes[9] << 8);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail('truncated header');
    headerLen = (bytes[8] | (bytes[9] << 8) | (bytes[10] << 16)) + bytes[11] * 0x1000000;
    start = 12;
  } else {
    return fail(`unsupported format version ${major}.${bytes[7]}`);
  }
  if (start + headerLen > bytes.length) fail('truncated header');
  const text = Buffer.from(bytes.subarray(start, start + headerLen)).toString('latin1');
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) return fail(`malformed header ${JSON.stringify(text.trim())}`);
  if (descr !== '<f4') fail(`dtype '${descr}' (only '<f4' is supported)`);
  if (fortran !== 'False') fail('Fortran order is not supported');
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => (/^\d+$/.test(s) ? Number(s) : fail(`bad shape entry '${s}'`)));
  const n = shape.reduce((a, b) => a * b, 1);
  const off = start + headerLen;
  if (bytes.length - off !== n * 4) fail(`expected ${n * 4} data bytes for shape (${shape.join(', ')}), found ${bytes.length - off}`);
  const data = new Float32Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset + off, n * 4);
  for (let i = 0; i < n; i++) data[i] = view.getFloat32(4 * i, true);
  return { data, shape };
}

/** Write `data` with `shape` to `file` as a float32 `.npy` file, atomically (temp file + rename). */
export async function writeNpy(file: string, data: Float32Array, shape: readonly number[]): Promise<void> {
  const bytes = encodeNpy(data, shape);
  try {
    await writeFileAtomic(file, bytes);
  } catch (e) {
    throw new ArgumentError(`${file}: cannot write .npy file: ${(e as Error).message}`);
  }
}

/** Read a float32 `.npy` file written by `writeNpy` or by numpy (`np.save(f, a.astype('<f4'))`). */
export async function readNpy(file: string): Promise<NpyArray> {
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(file);
  } catch (e) {
    throw new ArgumentError(`${file}: cannot read: ${(e as Error).message}`);
  }
  return decodeNpy(bytes, file);
}
