/** NumPy .npy v1.0 float32 files: numpy-compatible header, round trip, atomic write, errors. */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/errors';
import { decodeNpy, encodeNpy, npyHeader, readNpy, writeNpy } from '../../src/io/npy';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ssl3d-npy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Parse the header the way numpy's format.read_array_header_1_0 does (magic, version, length, dict literal). */
function parseHeader(bytes: Uint8Array): { version: [number, number]; len: number; dict: string; dataOffset: number } {
  expect(Array.from(bytes.subarray(0, 6))).toEqual([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
  const len = bytes[8] | (bytes[9] << 8);
  const dict = Buffer.from(bytes.subarray(10, 10 + len)).toString('latin1');
  return { version: [bytes[6], bytes[7]], len, dict, dataOffset: 10 + len };
}

describe('npy', () => {
  it('writes the exact header numpy 1.x/2.x writes (64-byte aligned, padded with spaces, ends in \\n)', () => {
    const h = parseHeader(npyHeader([1, 32, 32, 32]));
    expect(h.version).toEqual([1, 0]);
    expect(h.dataOffset % 64).toBe(0);
    expect(h.dict.endsWith('\n')).toBe(true);
    // byte-for-byte what `np.save(f, np.zeros((1,32,32,32), '<f4'))` writes
    expect(h.dict.trimEnd()).toBe("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 32, 32, 32), }");
    expect(h.dataOffset).toBe(128);
    expect(parseHeader(npyHeader([5])).dict.trimEnd()).toBe("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }");
    expect(parseHeader(npyHeader([])).dict.trimEnd()).toBe("{'descr': '<f4', 'fortran_order': False, 'shape': (), }");
  });

  it('stores little-endian float32 in C order after the header', () => {
    const data = Float32Array.from({ length: 24 }, (_, i) => i * 0.5 - 3);
    const bytes = encodeNpy(data, [2, 3, 4]);
    const { dataOffset } = parseHeader(bytes);
    expect(bytes.length).toBe(dataOffset + 24 * 4);
    const view = new DataView(bytes.buffer, bytes.byteOffset + dataOffset);
    for (let i = 0; i < 24; i++) expect(view.getFloat32(4 * i, true)).toBe(data[i]);
  });

  it('round-trips through a file, any rank; writes leave no temp files', async () => {
    for (const shape of [[7], [2, 3], [1, 4, 5, 6], [2, 1, 3, 1, 2], []]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 1e3);
      const f = path.join(tmp, `a${shape.join('x')}.npy`);
      await writeNpy(f, data, shape);
      const r = await readNpy(f);
      expect(r.shape).toEqual(shape);
      expect(Array.from(r.data)).toEqual(Array.from(data));
    }
    expect(readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // decode of the file bytes equals decode of the encoded buffer
    expect(decodeNpy(readFileSync(path.join(tmp, 'a2x3.npy'))).shape).toEqual([2, 3]);
  });

  it('rejects a shape that does not match the data, and unreadable files with the file name', async () => {
    expect(() => encodeNpy(new Float32Array(5), [2, 3])).toThrow(ArgumentError);
    const f = path.join(tmp, 'bad.npy');
    await expect(readNpy(path.join(tmp, 'missing.npy'))).rejects.toThrow(/missing\.npy/);
    expect(() => decodeNpy(Buffer.from('not an npy file'), f)).toThrow(/bad\.npy: .*bad magic/);
    const trunc = encodeNpy(new Float32Array(6), [2, 3]).subarray(0, 130);
    expect(() => decodeNpy(trunc, 'trunc.npy')).toThrow(/expected 24 data bytes/);
    const i4 = Buffer.from(encodeNpy(new Float32Array(6), [2, 3]).toString('latin1').replace("'<f4'", "'<i4'"), 'latin1');
    expect(() => decodeNpy(i4, 'i4.npy')).toThrow(/dtype '<i4'/);
  });
});
