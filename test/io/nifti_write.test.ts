/**
 * The NIfTI writer: round trips through our reader for float32 / int16 / uint8 with oblique, flipped, permuted and
 * anisotropic affines; the atomic write; and the nibabel cross-check of files our writer produced
 * (test/fixtures/nifti/written_*, read back by nibabel in scripts/reference/make_nifti_fixtures.py).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { axcodes, det3, linear, type Affine } from '../../src/core/affine';
import { ArgumentError, NiftiWriteError } from '../../src/errors';
import { decodeNifti, encodeNifti, loadNifti, saveNifti, type WritableDtype } from '../../src/io/nifti';
import { qformAffine, sformAffine } from '../../src/io/nifti/affine';
import { EXPECTED, expectMatClose, fixturePath, writtenData } from './nifti_helpers';

const TOL = 1e-5;
const tmp = mkdtempSync(path.join(tmpdir(), 'ssl3d-nifti-write-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function rot(axis: 'x' | 'y' | 'z', deg: number): number[][] {
  const c = Math.cos((deg * Math.PI) / 180);
  const s = Math.sin((deg * Math.PI) / 180);
  if (axis === 'x') return [[1, 0, 0], [0, c, -s], [0, s, c]];
  if (axis === 'y') return [[c, 0, s], [0, 1, 0], [-s, 0, c]];
  return [[c, -s, 0], [s, c, 0], [0, 0, 1]];
}

function mk(lin: number[][], t: number[]): Affine {
  return [[...lin[0], t[0]], [...lin[1], t[1]], [...lin[2], t[2]], [0, 0, 0, 1]];
}

function scaleCols(m: number[][], z: number[]): number[][] {
  return m.map((row) => row.map((v, j) => v * z[j]));
}

function mul(a: number[][], b: number[][]): number[][] {
  return a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
}

const AFFINES: Record<string, Affine> = {
  oblique: mk(scaleCols(mul(rot('z', 33), rot('x', -17)), [0.7, 0.85, 2.4]), [-120.25, 87.5, -33.0]),
  flipped_x: mk([[-1.5, 0, 0], [0, 1.5, 0], [0, 0, 3]], [80, -60, -20]),
  flipped_xy_lps: mk([[-0.9, 0, 0], [0, -0.9, 0], [0, 0, 5]], [200, 180, -400]),
  permuted_aniso: mk([[0, 0.9, 0], [0, 0, 4], [0.5, 0, 0]], [3, -4, 5]),
  oblique_flipped: mk(scaleCols(mul(rot('y', 70), rot('z', 12)), [1.2, 1.3, -3.1]), [10, 20, 30]),
};

const SHAPE: [number, number, number] = [7, 6, 5];

/** Values representable in every dtype after the writer's rounding, plus extremes for the integer ones. */
function dataFor(dtype: WritableDtype): Float32Array {
  const d = writtenData(dtype, SHAPE);
  if (dtype === 'int16') {
    d[0] = -32768;
    d[d.length - 1] = 32767;
  }
  if (dtype === 'uint8') {
    d[0] = 0;
    d[d.length - 1] = 255;
  }
  if (dtype === 'float32') {
    d[0] = -3.4e38;
    d[1] = 1.17549435e-38;
    d[d.length - 1] = 3.4e38;
  }
  return d;
}

describe.each(['float32', 'int16', 'uint8'] as WritableDtype[])('round trip %s', (dtype) => {
  it.each(Object.keys(AFFINES))('%s affine: same data, affine, qform and sform', async (which) => {
    const affine = AFFINES[which];
    const data = dataFor(dtype);
    const img = await decodeNifti(encodeNifti(data, SHAPE, affine, { dtype }), `${which}.nii`);
    expect(img.shape).toEqual(SHAPE);
    expect(img.header.dtype.name).toBe(dtype);
    expect(Array.from(img.data)).toEqual(Array.from(data));
    expect(img.header.qformCode).toBe(1);
    expect(img.header.sformCode).toBe(1);
    expect(img.header.pixdim[0]).toBe(det3(linear(affine)) > 0 ? 1 : -1);
    expectMatClose(img.nibabelAffine, affine, TOL, 'affine (sform)');
    expectMatClose(img.affine, affine, TOL, 'MONAI affine');
    expectMatClose(sformAffine(img.header), affine, TOL, 'sform');
    // shear-free affines: the qform is the same geometry
    expectMatClose(qformAffine(img.header), affine, TOL, 'qform');
    expect(img.warnings).toEqual([]);
    expect(axcodes(img.affine)).toBe(axcodes(affine));
  });
});

describe('integer outputs', () => {
  it('round to nearest and saturate', async () => {
    const shape: [number, number, number] = [2, 2, 2];
    const data = [-40000, 40000, 1.4, 1.6, -1.6, 300, -5, 254.7];
    const a = AFFINES.flipped_x;
    const i16 = await decodeNifti(encodeNifti(data, shape, a, { dtype: 'int16' }), 'i16.nii');
    expect(Array.from(i16.data)).toEqual([-32768, 32767, 1, 2, -2, 300, -5, 255]);
    const u8 = await decodeNifti(encodeNifti(data, shape, a, { dtype: 'uint8' }), 'u8.nii');
    expect(Array.from(u8.data)).toEqual([0, 255, 1, 2, 0, 255, 0, 255]);
  });
});

describe('saveNifti', () => {
  it.each(['vol.nii', 'vol.nii.gz'])('writes %s atomically (no temp file left), gzip by name', async (name) => {
    const dir = path.join(tmp, `atomic-${name}`);
    const file = path.join(dir, 'sub', name);
    const data = dataFor('float32');
    await saveNifti(file, data, SHAPE, AFFINES.oblique);
    expect(readdirSync(path.dirname(file))).toEqual([name]);
    const bytes = readFileSync(file);
    expect(bytes[0] === 0x1f && bytes[1] === 0x8b).toBe(name.endsWith('.gz'));
    const img = await loadNifti(file);
    expect(Array.from(img.data)).toEqual(Array.from(data));
    expectMatClose(img.affine, AFFINES.oblique, TOL, 'affine');
    // overwriting an existing file also goes through a temp file
    await saveNifti(file, data.map((v) => -v), SHAPE, AFFINES.oblique, { dtype: 'float32' });
    expect(readdirSync(path.dirname(file))).toEqual([name]);
    expect((await loadNifti(file)).data[5]).toBe(-data[5]);
  });

  it('a failed write leaves nothing behind and names the file', async () => {
    const dir = path.join(tmp, 'fail');
    mkdirSync(dir, { recursive: true });
    // the target is an existing non-empty directory: rename fails
    const target = path.join(dir, 'taken.nii');
    mkdirSync(target);
    writeFileSync(path.join(target, 'x'), 'x');
    const err = await saveNifti(target, dataFor('uint8'), SHAPE, AFFINES.oblique, { dtype: 'uint8' }).catch((e) => e);
    expect(err).toBeInstanceOf(NiftiWriteError);
    expect(err.message).toContain(target);
    expect(readdirSync(dir)).toEqual(['taken.nii']);
  });

  it('rejects volumes it cannot represent with typed errors', async () => {
    const data = dataFor('float32');
    expect(() => encodeNifti(data.subarray(1), SHAPE, AFFINES.oblique)).toThrow(ArgumentError);
    expect(() => encodeNifti(data, SHAPE, AFFINES.oblique)).not.toThrow();
    const singular = mk([[1, 0, 0], [0, 1, 0], [0, 0, 0]], [0, 0, 0]);
    expect(() => encodeNifti(data, SHAPE, singular)).toThrow(/singular/);
    const nan = mk([[1, 0, 0], [0, NaN, 0], [0, 0, 1]], [0, 0, 0]);
    expect(() => encodeNifti(data, SHAPE, nan)).toThrow(ArgumentError);
    expect(() => encodeNifti(new Float32Array(40000), [40000, 1, 1], AFFINES.oblique)).toThrow(/32767/);
    const file = path.join(tmp, 'bad.nii');
    const err = await saveNifti(file, data, SHAPE, singular).catch((e) => e);
    expect(err).toBeInstanceOf(NiftiWriteError);
    expect(err.message).toContain(file);
    expect(readdirSync(tmp).filter((f) => f.includes('bad.nii'))).toEqual([]);
  });
});

describe.each(Object.entries(EXPECTED.written))('nibabel reads %s (written by ssl3d)', (name, ref) => {
  const file = fixturePath(name);
  const { dtype, shape, affine } = ref.inputs;

  it('the fixture is what the current writer produces', () => {
    let bytes: Uint8Array = readFileSync(file);
    if (name.endsWith('.gz')) bytes = gunzipSync(bytes);
    const now = encodeNifti(writtenData(dtype, shape), shape, affine, { dtype });
    expect(
      Buffer.from(now).equals(Buffer.from(bytes)),
      `${name} differs from encodeNifti's output: the writer changed; rerun scripts/reference/make_nifti_fixtures.py`,
    ).toBe(true);
  });

  it('nibabel: same affine (sform), qform = nibabel set_qform, codes, orientation, data', () => {
    const nib = ref.nibabel;
    expect(nib.shape).toEqual(shape);
    expect(nib.datatype).toBe(dtype);
    expect(nib.data_equals_inputs).toBe(true);
    expect(nib.sform_code).toBe(1);
    expect(nib.qform_code).toBe(1);
    expect(nib.qfac).toBe(det3(linear(affine)) > 0 ? 1 : -1);
    expect(nib.xyzt_units).toEqual(['mm', 'sec']);
    expectMatClose(nib.affine, affine, TOL, `${name}: nibabel img.affine`);
    expectMatClose(nib.sform, affine, TOL, `${name}: nibabel get_sform()`);
    // the qform is nibabel's own qform for this affine (shears stripped the same way)
    expectMatClose(nib.qform, nib.nibabel_set_qform, TOL, `${name}: nibabel get_qform()`);
    expect(nib.orientation).toBe(axcodes(affine));
    expect(nib.qform_orientation).toBe(axcodes(affine));
    expectMatClose(ref.monai.affine, affine, TOL, `${name}: MONAI affine`);
  });

  it('our reader agrees with nibabel on the file', async () => {
    const img = await loadNifti(file);
    expectMatClose(img.nibabelAffine, ref.nibabel.affine, TOL, 'affine');
    expectMatClose(qformAffine(img.header), ref.nibabel.qform, TOL, 'qform');
    expectMatClose(img.affine, ref.monai.affine, TOL, 'MONAI affine');
    expect(Array.from(img.data)).toEqual(Array.from(writtenData(dtype, shape)));
  });
});
