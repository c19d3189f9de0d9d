/**
 * Persistent disk cache (plus an optional in-memory LRU) of the deterministic prefix of a pipeline, one entry per
 * datalist item: MONAI's `CacheDataset`, but surviving restarts and shared between processes.
 *
 * Key: SHA-256 of JSON { cache format version, ssl3d version, pipeline name, the params the deterministic prefix
 * reads, the item (resolved paths and other fields), size + mtime of every input file }. Editing a file, changing a
 * window or a voxel size, or upgrading ssl3d gives a new key; stale entries are simply never read again.
 *
 * Entry file `<key>.s3c` (little-endian):
 *
 *   0  8  magic "SSL3DC\x00\x01"
 *   8  4  u32 header length H
 *  12  H  header JSON: { format, key, payloadBytes, sha1 (hex, of the payload), volumes: [{ name, shape, affine,
 *         offset, length }], extra: { other JSON fields, e.g. foreground_start_coord } }
 *  12+H   zero padding to a multiple of 4
 *  ...    payload: the float32 data of every volume, back to back
 *
 * Writes go to a unique temp file in the same folder, then `rename` (atomic on POSIX): several processes or threads
 * may compute the same entry; the last rename wins and readers never see a partial file. A read that finds a bad
 * magic, header, size or checksum deletes the entry (with a warning) and reports a miss, so it is rebuilt.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Volume } from '../core/volume';
import type { Data } from '../transforms/core/transform';
import type { PipelineName, PipelineParams } from '../transforms/pipelines';
import { VERSION } from '../version';
import { DataCacheError } from './errors';
import { writeFileAtomic } from '../io/atomic';

export const CACHE_FORMAT_VERSION = 1;
const MAGIC = Buffer.from([0x53, 0x53, 0x4c, 0x33, 0x44, 0x43, 0x00, 0x01]); // "SSL3DC" 0 1
export const CACHE_EXT = '.s3c';

export function isVolume(v: unknown): v is Volume {
  if (v === null || typeof v !== 'object') return false;
  const o = v as Record<string, unknown>;
  return o.data instanceof Float32Array && Array.isArray(o.shape) && Array.isArray(o.affine);
}

/** The params the deterministic prefix of `name` depends on (so random-part edits keep the cache warm). */
export function deterministicParams(name: PipelineName, p: PipelineParams): Record<string, unknown> {
  if (name === 'pretrain') return { pixdim: p.pretrainPixdim, window: p.pretrainWindow, pad: p.patch };
  const base = { axcodes: p.axcodes, pixdim: p.finetunePixdim, window: p.finetuneWindow };
  if (name === 'finetune' && p.finetunePadToPatch) return { ...base, pad: p.patch };
  return base;
}

/** Paths of the input files an item names (image, image list, label). */
export function itemFiles(item: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const k of ['image', 'label']) {
    const v = item[k];
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) for (const x of v) if (typeof x === 'string') out.push(x);
  }
  return out;
}

/**
 * The cache key of one item. Files that cannot be stat'ed (missing) get `null` there, so the key is still defined
 * and the load itself reports the missing file.
 */
export async function cacheKey(name: PipelineName, params: PipelineParams, item: Record<string, unknown>): Promise<string> {
  const files = await Promise.all(
    itemFiles(item).map(async (f) => {
      try {
        const st = await fsp.stat(f);
        return { path: path.resolve(f), size: st.size, mtimeMs: st.mtimeMs };
      } catch {
        return { path: path.resolve(f), size: null, mtimeMs: null };
      }
    }),
  );
  const sortedItem = Object.fromEntries(Object.keys(item).sort().map((k) => [k, item[k]]));
  const desc = JSON.stringify({
    format: CACHE_FORMAT_VERSION,
    ssl3d: VERSION,
    pipeline: name,
    params: deterministicParams(name, params),
    item: sortedItem,
    files,
  });
  return createHash('sha256').update(desc).digest('hex').slice(0, 40);
}

interface VolumeEntry {
  name: string;
  shape: number[];
  affine: number[][];
  offset: number;
  length: number;
}
interface Header {
  format: number;
  key: string;
  payloadBytes: number;
  sha1: string;
  volumes: VolumeEntry[];
  extra: Record<string, unknown>;
}

/** Serialise a preprocessed data dict into one cache entry (header + float32 payload). */
export function encodeEntry(key: string, d: Data): Buffer {
  const volumes: VolumeEntry[] = [];
  const extra: Record<string, unknown> = {};
  const parts: Float32Array[] = [];
  let offset = 0;
  for (const [name, v] of Object.entries(d)) {
    if (isVolume(v)) {
      volumes.push({ name, shape: [...v.shape], affine: v.affine.map((r) => [...r]), offset, length: v.data.length });
      parts.push(v.data);
      offset += v.data.byteLength;
    } else if (ArrayBuffer.isView(v)) {
      throw new DataCacheError(key, `cannot cache key '${name}': typed arrays other than a Volume's data are not supported`);
    } else {
      extra[name] = v;
    }
  }
  const payload = Buffer.allocUnsafe(offset);
  let o = 0;
  for (const a of parts) {
    payload.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), o);
    o += a.byteLength;
  }
  const sha1 = createHash('sha1').update(payload).digest('hex');
  const header: Header = { format: CACHE_FORMAT_VERSION, key, payloadBytes: offset, sha1, volumes, extra };
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  const headEnd = 12 + h.length;
  const pad = (4 - (headEnd % 4)) % 4;
  const out = Buffer.alloc(headEnd + pad + offset);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(h.length, 8);
  h.copy(out, 12);
  payload.copy(out, headEnd + pad);
  return out;
}

/** Parse an entry; returns the data dict or a reason it is invalid. Volume data are fresh (aligned) Float32Arrays. */
export function decodeEntry(buf: Buffer, expectKey?: string): { data: Data } | { problem: string } {
  if (buf.length < 12 || !buf.subarray(0, 8).equals(MAGIC)) return { problem: 'bad magic (not an ssl3d cache entry, or truncated)' };
  const hl = buf.readUInt32LE(8);
  if (12 + hl > buf.length) return { problem: `truncated header (${buf.length} bytes, header needs ${12 + hl})` };
  let header: Header;
  try {
    header = JSON.parse(buf.subarray(12, 12 + hl).toString('utf8')) as Header;
  } catch {
    return { problem: 'unreadable header JSON' };
  }
  if (header.format !== CACHE_FORMAT_VERSION) return { problem: `format ${header.format}, expected ${CACHE_FORMAT_VERSION}` };
  if (expectKey !== undefined && header.key !== expectKey) return { problem: `key mismatch (${header.key})` };
  const start = 12 + hl + ((4 - ((12 + hl) % 4)) % 4);
  if (buf.length !== start + header.payloadBytes) {
    return { problem: `size mismatch: ${buf.length} bytes, expected ${start + header.payloadBytes}` };
  }
  const payload = buf.subarray(start);
  const sha1 = createHash('sha1').update(payload).digest('hex');
  if (sha1 !== header.sha1) return { problem: `checksum mismatch (sha1 ${sha1}, header says ${header.sha1})` };
  const data: Data = { ...header.extra };
  for (const v of header.volumes) {
    const arr = new Float32Array(v.length);
    new Uint8Array(arr.buffer).set(payload.subarray(v.offset, v.offset + v.length * 4));
    data[v.name] = { data: arr, shape: v.shape as Volume['shape'], affine: v.affine } satisfies Volume;
  }
  return { data };
}

/** Bytes of float32 data held by a data dict (for the memory cache's accounting). */
export function dataBytes(d: Data): number {
  let n = 0;
  for (const v of Object.values(d)) if (isVolume(v)) n += v.data.byteLength;
  return n;
}

export type WarnFn = (message: string) => void;
export const defaultWarn: WarnFn = (m) => process.emitWarning(m, { code: 'SSL3D_CACHE' });

/** The on-disk store: one file per key under `dir`. */
export class DiskCache {
  constructor(
    readonly dir: string,
    private readonly warn: WarnFn = defaultWarn,
  ) {}

  file(key: string): string {
    return path.join(this.dir, `${key}${CACHE_EXT}`);
  }

  /** The entry, or null when absent; a corrupt entry is deleted (with a warning) and reported as absent. */
  async get(key: string): Promise<Data | null> {
    const f = this.file(key);
    let buf: Buffer;
    try {
      buf = await fsp.readFile(f);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new DataCacheError(f, `cannot read cache entry: ${(e as Error).message}`);
    }
    const r = decodeEntry(buf, key);
    if ('data' in r) return r.data;
    this.warn(`ssl3d cache: corrupt entry ${f} (${r.problem}); deleting it and rebuilding`);
    await fsp.rm(f, { force: true }).catch(() => undefined);
    return null;
  }

  /** Write atomically (unique temp file + rename). */
  async put(key: string, d: Data): Promise<void> {
    const f = this.file(key);
    const bytes = encodeEntry(key, d);
    try {
      await fsp.mkdir(this.dir, { recursive: true });
    } catch (e) {
      throw new DataCacheError(this.dir, `cannot create cache directory: ${(e as Error).message}`);
    }
    try {
      await writeFileAtomic(f, bytes);
    } catch (e) {
      throw new DataCacheError(f, `cannot write cache entry: ${(e as Error).message}`);
    }
  }
}

/** In-memory LRU of data dicts, bounded by the bytes of their float32 data. */
export class MemoryCache {
  private readonly map = new Map<string, { d: Data; bytes: number }>();
  private used = 0;
  constructor(readonly limitBytes: number) {}

  get(key: string): Data | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    this.map.delete(key);
    this.map.set(key, e);
    return e.d;
  }

  set(key: string, d: Data): void {
    const bytes = dataBytes(d);
    if (bytes > this.limitBytes) return;
    const old = this.map.get(key);
    if (old) {
      this.used -= old.bytes;
      this.map.delete(key);
    }
    this.map.set(key, { d, bytes });
    this.used += bytes;
    for (const [k, e] of this.map) {
      if (this.used <= this.limitBytes) break;
      this.map.delete(k);
      this.used -= e.bytes;
    }
  }

  get size(): number {
    return this.map.size;
  }
  get bytes(): number {
    return this.used;
  }
}
