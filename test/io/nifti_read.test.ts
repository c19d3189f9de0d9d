/**
 * The NIfTI reader against nibabel and MONAI: every fixture made by scripts/reference/make_nifti_fixtures.py (and the
 * shared real CT) is loaded and compared with expected.json: shape, nibabel's img.affine, MONAI's affine after its
 * header repair, zooms, statistics, sample voxels, and `ssl3d info --json` (niftiInfo).
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { niftiInfo } from '../../src/cli/commands/info';
import { volumeStats } from '../../src/core/volume';
import { loadNifti } from '../../src/io/nifti';
import { qformAffine, sformAffine } from '../../src/io/nifti/affine';
import {
  EXPECTED,
  expectMatClose,
  expectNumClose,
  expectVecClose,
  fixturePath,
  num,
  type FileRef,
} from './nifti_helpers';

/** Affine tolerance: the issue asks for 1e-5 (float32 header fields are read exactly; nibabel computes in float32). */
const AFFINE_TOL = 1e-5;
/** Statistics: float32 voxels vs nibabel's float64 values. */
const STAT_REL = 1e-6;

const entries = Object.entries(EXPECTED.files);
const available = entries.filter(([name, ref]) => existsSync(fixturePath(name, ref)));

describe('fixtures', () => {
  it('expected.json covers the required cases', () => {
    const names = Object.keys(EXPECTED.files);
    for (const dt of ['uint8', 'int8', 'int16', 'uint16', 'int32', 'float32', 'float64']) {
      expect(names, dt).toContain(`dtype_${dt}.nii`);
      expect(names, dt).toContain(`dtype_${dt}.nii.gz`);
    }
    const nib = Object.values(EXPECTED.files).map((r) => r.nibabel);
    expect(nib.some((n) => n.nifti_version === 2)).toBe(true);
    expect(nib.some((n) => n.nifti_version === 2 && n.byte_order === 'big')).toBe(true);
    expect(nib.filter((n) => n.byte_order === 'big').length).toBeGreaterThanOrEqual(4);
    expect(nib.some((n) => n.sform_code > 0 && n.qform_code === 0)).toBe(true);
    expect(nib.some((n) => n.sform_code === 0 && n.qform_code > 0 && n.qfac === -1)).toBe(true);
    expect(nib.some((n) => n.sform_code === 0 && n.qform_code === 0)).toBe(true);
    expect(nib.some((n) => n.slope !== 1 || n.inter !== 0)).toBe(true);
    // MONAI's repair changes the affine in some fixtures, and the zooms in others
    const repaired = Object.values(EXPECTED.files).filter(
      (r) => JSON.stringify(r.monai.affine) !== JSON.stringify(r.nibabel.affine),
    );
    expect(repaired.length).toBeGreaterThanOrEqual(3);
    expect(Object.keys(EXPECTED.written).length).toBeGreaterThanOrEqual(3);
  });

  it('all fixture files are present and small', () => {
    const missing = entries.filter(([name, ref]) => !ref.path && !existsSync(fixturePath(name)));
    expect(missing.map(([n]) => n)).toEqual([]);
  });
});

function magnitude(nib: FileRef['nibabel']): number {
  return Math.max(Math.abs(num(nib.min)), Math.abs(num(nib.max))) || 0;
}

function checkHeader(name: string, ref: FileRef, img: Awaited<ReturnType<typeof loadNifti>>): void {
  const nib = ref.nibabel;
  const h = img.header;
  expect(h.version, `${name}: version`).toBe(nib.nifti_version);
  expect(h.littleEndian ? 'little' : 'big', `${name}: byte order`).toBe(nib.byte_order);
  expect(h.dtype.name, `${name}: datatype`).toBe(nib.datatype);
  expect(h.qformCode, `${name}: qform_code`).toBe(nib.qform_code);
  expect(h.sformCode, `${name}: sform_code`).toBe(nib.sform_code);
  expect(h.pixdim[0], `${name}: qfac`).toBe(nib.qfac);
}

describe.each(available)('%s', (name, ref) => {
  const file = fixturePath(name, ref);
  const nib = ref.nibabel;

  it('matches nibabel: shape, zooms, affine, qform, sform', async () => {
    const img = await loadNifti(file, { nonFinite: 'allow' });
    // 4-D/5-D files with one volume load as 3-D; nibabel keeps the trailing 1s
    expect(img.shape).toEqual(nib.shape.slice(0, 3));
    expect(nib.shape.slice(3).every((d) => d === 1)).toBe(true);
    checkHeader(name, ref, img);
    expectVecClose(img.header.pixdim.slice(1, 4), nib.zooms.slice(0, 3), 0, `${name}: header zooms`);
    expectMatClose(img.nibabelAffine, nib.affine, AFFINE_TOL, `${name}: img.affine`);
    expectMatClose(qformAffine(img.header), nib.qform, AFFINE_TOL, `${name}: get_qform()`);
    expectMatClose(sformAffine(img.header), nib.sform, 0, `${name}: get_sform()`);
  });

  it("matches MONAI's LoadImage: affine after header repair, pixdim, shape", async () => {
    const img = await loadNifti(file, { nonFinite: 'allow' });
    expectMatClose(img.affine, ref.monai.affine, AFFINE_TOL, `${name}: MONAI affine`);
    expectVecClose(img.zooms, ref.monai.pixdim, 1e-6, `${name}: MONAI pixdim`);
    // MONAI keeps a trailing size-1 time axis as a channel; the spatial part is ours
    expect(ref.monai.shape.slice(0, 3)).toEqual(img.shape);
    const changed = JSON.stringify(ref.monai.affine) !== JSON.stringify(nib.affine);
    if (changed) expect(img.warnings.join('\n')).toMatch(/MONAI header repair/);
  });

  it('matches nibabel: voxel values after scl_slope/scl_inter, statistics', async () => {
    const img = await loadNifti(file, { nonFinite: 'allow' });
    const [, Y, Z] = img.shape;
    for (const s of nib.samples) {
      const [i, j, k] = s.ijk;
      const v = img.data[(i * Y + j) * Z + k];
      // float64 arithmetic then one rounding to float32: exactly MONAI's np.asanyarray(dataobj).astype(float32)
      expect(Object.is(v, num(s.value_f32)) || v === num(s.value_f32), `${name}: voxel ${s.ijk} = ${v}, want ${s.value_f32}`).toBe(
        true,
      );
    }
    const st = volumeStats(img.data);
    expectNumClose(st.min, num(nib.min), STAT_REL, `${name}: min`);
    expectNumClose(st.max, num(nib.max), STAT_REL, `${name}: max`);
    // the mean of float32-rounded voxels: relative to the data's magnitude (int32 near ±2^31 loses ~128 per voxel)
    expectNumClose(st.mean, num(nib.mean), STAT_REL, `${name}: mean`, magnitude(nib));
    expect(img.nanCount).toBe(nib.nan_count);
    expect(img.infCount).toBe(nib.inf_count);
  });

  it('ssl3d info --json (niftiInfo) agrees with nibabel', async () => {
    const info = await niftiInfo(file);
    expect(info.file).toBe(file);
    expect(info.shape).toEqual(nib.shape.slice(0, 3));
    expectVecClose(info.pixdim, nib.zooms.slice(0, 3), 1e-6, `${name}: info.pixdim`);
    expectMatClose(info.affine, nib.affine, AFFINE_TOL, `${name}: info.affine`);
    expectMatClose(info.monai_affine, ref.monai.affine, AFFINE_TOL, `${name}: info.monai_affine`);
    expect(info.orientation).toBe(nib.orientation);
    expect(info.datatype).toBe(nib.datatype);
    expect(info.nifti_version).toBe(nib.nifti_version);
    expect(info.byte_order).toBe(nib.byte_order);
    expect(info.qform_code).toBe(nib.qform_code);
    expect(info.sform_code).toBe(nib.sform_code);
    // nibabel's effective scaling: (1, 0) when scl_slope is 0 or not finite
    const effective =
      info.scl_slope === 0 || !Number.isFinite(info.scl_slope) ? [1, 0] : [info.scl_slope, info.scl_inter];
    expect(effective).toEqual([nib.slope, nib.inter]);
    expectNumClose(info.min, num(nib.min), STAT_REL, `${name}: info.min`);
    expectNumClose(info.max, num(nib.max), STAT_REL, `${name}: info.max`);
    expectNumClose(info.mean, num(nib.mean), STAT_REL, `${name}: info.mean`, magnitude(nib));
    expect(info.nan_count).toBe(nib.nan_count);
    expect(info.inf_count).toBe(nib.inf_count);
    // the JSON output is plain JSON (no NaN / Infinity where the statistics are finite)
    expect(() => JSON.parse(JSON.stringify(info))).not.toThrow();
  });
});

describe('specific behaviour', () => {
  const load = (name: string) => loadNifti(fixturePath(name), { nonFinite: 'allow' });

  it('scl_slope 0.5 / scl_inter -1024 on int16 gives Hounsfield-style values', async () => {
    const img = await load('scl_int16_ct.nii.gz');
    const nib = EXPECTED.files['scl_int16_ct.nii.gz'].nibabel;
    expect(nib.slope).toBe(0.5);
    expect(nib.inter).toBe(-1024);
    expect(img.data[0]).toBe(num(nib.samples[0].value));
    expect(volumeStats(img.data).min).toBe(-2000 * 0.5 - 1024);
    expect(volumeStats(img.data).max).toBe(8000 * 0.5 - 1024);
  });

  it('scl_slope 0 and NaN mean no scaling', async () => {
    for (const name of ['scl_slope0.nii', 'scl_slope_nan.nii']) {
      const img = await load(name);
      expect(volumeStats(img.data).min, name).toBe(-300);
      expect(volumeStats(img.data).max, name).toBe(300);
    }
  });

  it('4-D with one volume loads as 3-D', async () => {
    const img = await load('t1_4d.nii.gz');
    expect(img.shape).toEqual([5, 6, 7]);
    expect(img.header.dim[0]).toBe(4);
  });

  it('MONAI header repair: sform with the wrong zooms is replaced by the qform', async () => {
    const img = await load('repair_sform_mismatch.nii');
    const ref = EXPECTED.files['repair_sform_mismatch.nii'];
    expectMatClose(img.nibabelAffine, ref.nibabel.sform, 0, 'nibabel affine is the sform');
    expectMatClose(img.affine, ref.nibabel.qform, AFFINE_TOL, 'MONAI affine is the qform');
  });

  it('header extensions are skipped', async () => {
    const img = await load('extension_vox_offset_416.nii');
    expect(img.header.voxOffset).toBe(416);
    expect(img.data[0]).toBe(0);
  });

  it.runIf(existsSync(fixturePath('shared:example_ct_sm.nii.gz', EXPECTED.files['shared:example_ct_sm.nii.gz'] ?? {})))(
    'the real CT: int16 HU, 122×101×30 at 3 mm',
    async () => {
      const ref = EXPECTED.files['shared:example_ct_sm.nii.gz'];
      const img = await loadNifti(fixturePath('', ref));
      expect(img.shape).toEqual([122, 101, 30]);
      expect(img.header.dtype.name).toBe('int16');
      expectVecClose(img.zooms, [3, 3, 3], 1e-6, 'CT zooms');
      expect(volumeStats(img.data).min).toBe(num(ref.nibabel.min));
      expect(volumeStats(img.data).max).toBe(num(ref.nibabel.max));
    },
  );
});
