/**
 * A small read-only zip reader (central directory, stored and deflated entries, zip64 sizes/offsets), enough for
 * PyTorch's `torch.save` archives. Stored entries are returned as zero-copy views of the input.
 */
import { inflateRawSync } from 'node:zlib';

export class ZipFormatError extends Error {}

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

const EOCD = 0x06054b50;
const EOCD64 = 0x06064b50;
const EOCD64_LOC = 0x07064b50;
const CDH = 0x02014b50;
const LFH = 0x04034b50;

export function isZip(buf: Uint8Array): boolean {
  return buf.length >= 4 && buf[0] === 0x50 && buf[1] === 0x4b && buf[2] === 0x03 && buf[3] === 0x04;
}

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  private readonly dv: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const dv = this.dv;
    const len = buf.byteLength;
    let eocd = -1;
    for (let p = len - 22; p >= Math.max(0, len - 22 - 0xffff); p--) {
      if (dv.getUint32(p, true) === EOCD) {
        eocd = p;
        break;
      }
    }
    if (eocd < 0) throw new ZipFormatError('zip end-of-central-directory record not found (the file is truncated or not a zip)');
    let count = dv.getUint16(eocd + 10, true);
    let cdSize = dv.getUint32(eocd + 12, true);
    let cdOff = dv.getUint32(eocd + 16, true);
    if ((count === 0xffff || cdSize === 0xffffffff || cdOff === 0xffffffff) && eocd >= 20 && dv.getUint32(eocd - 20, true) === EOCD64_LOC) {
      const z = this.u64(eocd - 20 + 8);
      if (z + 56 > len || dv.getUint32(z, true) !== EOCD64) throw new ZipFormatError('corrupt zip64 end-of-central-directory record');
      count = this.u64(z + 32);
      cdSize = this.u64(z + 40);
      cdOff = this.u64(z + 48);
    }
    if (cdOff + cdSize > len) throw new ZipFormatError('the zip central directory lies beyond the end of the file (truncated)');
    let p = cdOff;
    for (let i = 0; i < count; i++) {
      if (p + 46 > len || dv.getUint32(p, true) !== CDH) throw new ZipFormatError(`corrupt zip central directory (entry ${i})`);
      const method = dv.getUint16(p + 10, true);
      let compressedSize = dv.getUint32(p + 20, true);
      let size = dv.getUint32(p + 24, true);
      const nameLen = dv.getUint16(p + 28, true);
      const extraLen = dv.getUint16(p + 30, true);
      const commentLen = dv.getUint16(p + 32, true);
      let localOffset = dv.getUint32(p + 42, true);
      const name = Buffer.from(buf.subarray(p + 46, p + 46 + nameLen)).toString('utf8');
      // zip64 extended information: only the fields that are saturated in the fixed header, in this order.
      let e = p + 46 + nameLen;
      const eEnd = e + extraLen;
      while (e + 4 <= eEnd) {
        const id = dv.getUint16(e, true);
        const sz = dv.getUint16(e + 2, true);
        if (id === 0x0001) {
          let q = e + 4;
          if (size === 0xffffffff) (size = this.u64(q)), (q += 8);
          if (compressedSize === 0xffffffff) (compressedSize = this.u64(q)), (q += 8);
          if (localOffset === 0xffffffff) localOffset = this.u64(q);
        }
        e += 4 + sz;
      }
      this.entries.set(name, { name, method, compressedSize, size, localOffset });
      p = eEnd + commentLen;
    }
  }

  private u64(p: number): number {
    return Number(this.dv.getBigUint64(p, true));
  }

  /** The entry's bytes (a view for stored entries, a fresh buffer for deflated ones). */
  read(name: string): Uint8Array {
    const en = this.entries.get(name);
    if (!en) throw new ZipFormatError(`no entry '${name}' in the zip`);
    const dv = this.dv;
    const p = en.localOffset;
    if (p + 30 > this.buf.byteLength || dv.getUint32(p, true) !== LFH) throw new ZipFormatError(`corrupt or truncated zip entry '${name}'`);
    const start = p + 30 + dv.getUint16(p + 26, true) + dv.getUint16(p + 28, true);
    const end = start + en.compressedSize;
    if (end > this.buf.byteLength) throw new ZipFormatError(`zip entry '${name}' extends beyond the end of the file (truncated)`);
    const raw = this.buf.subarray(start, end);
    if (en.method === 0) return raw;
    if (en.method === 8) {
      let out: Buffer;
      try {
        out = inflateRawSync(raw);
      } catch (e) {
        throw new ZipFormatError(`cannot inflate zip entry '${name}': ${(e as Error).message}`);
      }
      if (out.byteLength !== en.size) throw new ZipFormatError(`zip entry '${name}' inflates to ${out.byteLength} bytes, expected ${en.size}`);
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    }
    throw new ZipFormatError(`zip entry '${name}' uses unsupported compression method ${en.method}`);
  }
}
