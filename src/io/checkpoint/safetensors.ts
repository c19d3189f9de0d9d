/**
 * The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length, a JSON
 * header {name: {dtype, shape, data_offsets}, __metadata__?: {string: string}}, then the raw little-endian data.
 * ssl3d reads F32/F64/F16/BF16/I64/I32/I16/I8/U8/BOOL into float32 and writes F32.
 */
import { promises as fsp } from 'node:fs';
import { Ssl3dError } from '../../errors';
import { writeFileAtomic } from '../atomic';

export class CheckpointError extends Ssl3dError {
  readonly code = 'CHECKPOINT';
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

export interface NamedArray {
  shape: number[];
  data: Float32Array;
}

export type StateDict = Map<string, NamedArray>;

const BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** IEEE half-precision bits → number. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function decode(dtype: string, bytes: Uint8Array, n: number): Float32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    switch (dtype) {
      case 'F32':
        out[i] = dv.getFloat32(4 * i, true);
        break;
      case 'F64':
        out[i] = dv.getFloat64(8 * i, true);
        break;
      case 'F16':
        out[i] = halfToFloat(dv.getUint16(2 * i, true));
        break;
      case 'BF16':
        out[i] = new Float32Array(new Uint32Array([dv.getUint16(2 * i, true) << 16]).buffer)[0];
        break;
      case 'I64':
        out[i] = Number(dv.getBigInt64(8 * i, true));
        break;
      case 'I32':
        out[i] = dv.getInt32(4 * i, true);
        break;
      case 'I16':
        out[i] = dv.getInt16(2 * i, true);
        break;
      case 'I8':
        out[i] = dv.getInt8(i);
        break;
      default:
        out[i] = dv.getUint8(i);
    }
  }
  return out;
}

/** Parse safetensors bytes. `file` is only used in messages. */
export function decodeSafetensors(buf: Uint8Array, file = '<memory>'): { tensors: StateDict; metadata: Record<string, string> } {
  if (buf.byteLength < 8) throw new CheckpointError(file, 'file is too short to be safetensors');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n <= 0 || 8 + n > buf.byteLength) throw new CheckpointError(file, `invalid safetensors header length ${n}: truncated or not safetensors`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset + 8, n).toString('utf8'));
  } catch (e) {
    throw new CheckpointError(file, `safetensors header is not valid JSON (${(e as Error).message})`);
  }
  const base = 8 + n;
  const tensors: StateDict = new Map();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const size = BYTES[dtype];
    if (!size) throw new CheckpointError(file, `tensor '${name}' has unsupported dtype ${dtype}`);
    const count = shape.reduce((a, b) => a * b, 1);
    const [b0, b1] = data_offsets;
    if (b1 - b0 !== count * size || base + b1 > buf.byteLength) {
      throw new CheckpointError(file, `tensor '${name}' (${dtype} [${shape}]) has inconsistent data offsets [${b0}, ${b1}] or the file is truncated`);
    }
    tensors.set(name, { shape: [...shape], data: decode(dtype, buf.subarray(base + b0, base + b1), count) });
  }
  return { tensors, metadata };
}

export async function loadSafetensors(file: string): Promise<{ tensors: StateDict; metadata: Record<string, string> }> {
  let buf: Uint8Array;
  try {
    buf = await fsp.readFile(file);
  } catch (e) {
    throw new CheckpointError(file, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message);
  }
  return decodeSafetensors(buf, file);
}

/** Only the `__metadata__` of a safetensors file (reads the header, not the tensors). */
export async function readSafetensorsMetadata(file: string): Promise<Record<string, string>> {
  let fh: import('node:fs/promises').FileHandle | undefined;
  try {
    fh = await fsp.open(file, 'r');
    const len = Buffer.alloc(8);
    await fh.read(len, 0, 8, 0);
    const n = Number(len.readBigUInt64LE(0));
    const { size } = await fh.stat();
    if (n <= 0 || n > size - 8 || n > 100 * 1024 * 1024) throw new Error(`header length ${n} does not fit the file (${size} bytes)`);
    const head = Buffer.alloc(n);
    await fh.read(head, 0, n, 8);
    const meta = (JSON.parse(head.toString('utf8')) as { __metadata__?: Record<string, string> }).__metadata__;
    return meta ?? {};
  } catch (e) {
    throw new CheckpointError(file, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `unreadable header: ${(e as Error).message}`);
  } finally {
    await fh?.close();
  }
}

/** Encode float32 tensors (in insertion order) with optional string metadata. */
export function encodeSafetensors(tensors: StateDict, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let off = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [off, off + 4 * t.data.length] };
    off += 4 * t.data.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // align data to 8 bytes
  const hbytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + hbytes.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(hbytes.length), true);
  out.set(hbytes, 8);
  let p = 8 + hbytes.length;
  for (const t of tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), p);
    p += t.data.byteLength;
  }
  return out;
}

/** Write atomically (temp file + rename). */
export async function saveSafetensors(file: string, tensors: StateDict, metadata: Record<string, string> = {}): Promise<void> {
  try {
    await writeFileAtomic(file, encodeSafetensors(tensors, metadata), { mkdir: true });
  } catch (e) {
    throw new CheckpointError(file, `cannot write: ${(e as Error).message}`);
  }
}
