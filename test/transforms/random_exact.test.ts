/**
 * Exact (non-statistical) checks of the random augmentations and the two training pipelines:
 * - where MONAI is deterministic given its draws, equality with MONAI 1.6.1 references
 *   (test/fixtures/augment/exact.json from scripts/reference/make_augment_fixtures.py): torch.rot90 index maps via
 *   Rotate90 (k = 1..3, several plane pairs), Flip per axis, correct_crop_centers + SpatialCrop(roi_center, roi_size);
 * - reproducibility (same seed → identical output and draws);
 * - the pretrain / finetune pipelines' outputs (keys, shapes, clean crop, identical image/label geometry);
 * - bad inputs: all-zero volume (pretrain), label without foreground / without any candidate, volume smaller than
 *   the patch (finetune, with and without `finetunePadToPatch`).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Volume } from '../../src/core/volume';
import { ArgumentError } from '../../src/errors';
import { saveNifti } from '../../src/io/nifti';
import type { Draw } from '../../src/transforms/core/randomizable';
import type { Data } from '../../src/transforms/core/transform';
import { centerCropStart, correctCropCenter, cropOrPad } from '../../src/transforms/croppad/functional';
import { RandCropByPosNegLabel, RandCropByPosNegLabeld } from '../../src/transforms/croppad/random';
import { buildPipeline, pipelineParams } from '../../src/transforms/pipelines';
import { flip, rot90 } from '../../src/transforms/spatial/random';
import { det } from '../helpers/det';
import { FIXTURES } from '../helpers/paths';

const fx = JSON.parse(readFileSync(path.join(FIXTURES, 'augment', 'exact.json'), 'utf8'));
const I4 = [
  [1, 0, 0, 0],
  [0, 1, 0, 0],
  [0, 0, 1, 0],
  [0, 0, 0, 1],
];
const indexVolume = (shape: number[]): Volume => ({
  data: new Float32Array(shape.reduce((a, b) => a * b, 1)).map((_, i) => i),
  shape: [...shape] as Volume['shape'],
  affine: I4,
});
/** (det(shape, seed) + 1) / 2 + 0.01: positive everywhere. */
function detVolume(shape: number[], seed: number): Volume {
  const d = det(shape, seed);
  for (let i = 0; i < d.length; i++) d[i] = (d[i] + 1) / 2 + 0.01;
  return { data: d, shape: [...shape] as Volume['shape'], affine: I4 };
}
const draws = (d: Data) => d.__draws as Draw[];
/** Number of positions where two arrays differ (−1 for a length mismatch); vitest's toEqual is slow on big arrays. */
function ndiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return -1;
  let n = 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) n++;
  return n;
}
const tmp = mkdtempSync(path.join(tmpdir(), 'ssl3d-random-exact-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('MONAI references (exact)', () => {
  it('rot90 = torch.rot90 via MONAI Rotate90 for k = 1, 2, 3 and every plane', () => {
    const v = indexVolume(fx.index_shape);
    expect(fx.rot90.length).toBe(6);
    for (const r of fx.rot90) {
      const out = rot90(v, r.k, r.axes as [number, number]);
      expect(out.shape, `k=${r.k} axes=${r.axes}`).toEqual(r.shape);
      expect(Array.from(out.data), `k=${r.k} axes=${r.axes}`).toEqual(r.data);
    }
  });
  it('flip = MONAI Flip(spatial_axis=a) for each axis', () => {
    const v = indexVolume(fx.index_shape);
    for (const f of fx.flip) expect(Array.from(flip(v, [f.axis]).data), `axis ${f.axis}`).toEqual(f.data);
  });
  it('correctCropCenter / centerCropStart / cropOrPad = correct_crop_centers + SpatialCrop(roi_center, roi_size)', () => {
    const shape = fx.crop_shape.slice(1);
    const v = indexVolume(fx.crop_shape);
    expect(fx.crops.length).toBe(32);
    for (const c of fx.crops) {
      const corrected = correctCropCenter(c.center, c.roi, shape);
      expect(corrected, `centre ${c.center} roi ${c.roi}`).toEqual(c.corrected);
      const start = centerCropStart(corrected, c.roi);
      expect(start, `centre ${c.center} roi ${c.roi}`).toEqual(c.start);
      const crop = cropOrPad(v, start, start.map((s, i) => s + c.roi[i]));
      expect(crop.shape).toEqual([1, ...c.roi]);
      const [, Y, Z] = shape;
      expect(crop.data[0]).toBe((c.start[0] * Y + c.start[1]) * Z + c.start[2]);
      // the same through RandCropByPosNegLabel.crop
      expect(ndiff(new RandCropByPosNegLabel({ spatialSize: c.roi }).crop(v, corrected).data, crop.data)).toBe(0);
    }
  });
});

describe('reproducibility', () => {
  it('same seed → identical samples and draws; another seed → different', async () => {
    const input = detVolume([1, 40, 36, 33], 3);
    const run = async (seed: number) => {
      const p = buildPipeline('pretrain', pipelineParams(32));
      p.random!.setRandomState(seed);
      return (await p.random!.call({ image: input })) as Data[];
    };
    const a = await run(7),
      b = await run(7),
      c = await run(8);
    expect(a.length).toBe(2);
    for (let i = 0; i < 2; i++) {
      expect(draws(a[i])).toEqual(draws(b[i]));
      for (const k of ['image', 'image_2', 'gt_image']) expect(ndiff((a[i][k] as Volume).data, (b[i][k] as Volume).data)).toBe(0);
    }
    expect(ndiff((a[0].image as Volume).data, (c[0].image as Volume).data)).toBeGreaterThan(0);
  });
});

describe('pretrain pipeline (random part)', () => {
  it('yields image, image_2, gt_image per crop; gt_image is the clean crop; the views differ', async () => {
    const input = detVolume([1, 40, 36, 33], 5);
    const p = buildPipeline('pretrain', pipelineParams(32));
    p.random!.setRandomState(1);
    const out = (await p.random!.call({ image: input })) as Data[];
    expect(out.length).toBe(2);
    for (const s of out) {
      for (const k of ['image', 'image_2', 'gt_image']) expect((s[k] as Volume).shape).toEqual([1, 32, 32, 32]);
      const crop = draws(s).find((d) => d.transform === 'RandSpatialCropSamplesd')!;
      const start = crop.start as number[];
      const clean = cropOrPad(input, start, start.map((x) => x + 32));
      expect(ndiff((s.gt_image as Volume).data, clean.data)).toBe(0);
      const img = (s.image as Volume).data,
        img2 = (s.image_2 as Volume).data;
      expect(ndiff(img, clean.data)).toBeGreaterThan(0);
      expect(ndiff(img2, clean.data)).toBeGreaterThan(0);
      expect(ndiff(img, img2)).toBeGreaterThan(0);
      // per view: OneOf → dropout → shuffle, in this order
      const names = draws(s).map((d) => d.transform);
      expect(names).toEqual(['RandSpatialCropSamplesd', 'OneOf', 'RandCoarseDropoutd', 'RandCoarseShuffled', 'OneOf', 'RandCoarseDropoutd', 'RandCoarseShuffled']);
    }
  });
  // "all-zero" after the HU window: −1000 HU (air) → 0. (A raw 0 HU volume is 0.258 after the −57..164 window, so
  // it is all foreground and is cropped normally.)
  it('all-zero volume: CropForeground is empty → padded to the patch with zeros → crops of zeros (MONAI behaviour)', async () => {
    const file = path.join(tmp, 'zeros.nii.gz');
    await saveNifti(file, new Float32Array(20 * 20 * 20).fill(-1000), [20, 20, 20], [[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0], [0, 0, 0, 1]], { dtype: 'float32' });
    const p = buildPipeline('pretrain', pipelineParams(32));
    const pre = await p.deterministic.one({ image: file });
    expect((pre.image as Volume).shape).toEqual([1, 32, 32, 32]);
    expect((pre.image as Volume).data.every((x) => x === 0)).toBe(true);
    p.random!.setRandomState(3);
    const out = (await p.random!.call(pre)) as Data[];
    expect(out.length).toBe(2);
    for (const s of out) {
      for (const k of ['image', 'image_2', 'gt_image']) {
        const v = s[k] as Volume;
        expect(v.shape).toEqual([1, 32, 32, 32]);
        expect(v.data.every((x) => x === 0), k).toBe(true);
      }
    }
  });
});

describe('finetune pipeline (random part)', () => {
  it('4 crops of the patch size; image and label cropped, flipped and rotated identically', async () => {
    const shape = [1, 70, 60, 56];
    const image = detVolume(shape, 9);
    const label: Volume = { data: new Float32Array(image.data.length), shape: [...shape] as Volume['shape'], affine: I4 };
    for (let i = 0; i < image.data.length; i++) label.data[i] = image.data[i] > 0.8 ? Math.floor(image.data[i] * 20) : 0;
    let flips = 0,
      rots = 0;
    for (let seed = 0; seed < 10; seed++) {
      const p = buildPipeline('finetune', pipelineParams(48));
      p.random!.setRandomState(seed);
      const out = (await p.random!.call({ image, label })) as Data[];
      expect(out.length).toBe(4);
      for (const s of out) {
        const im = s.image as Volume,
          lab = s.label as Volume;
        expect(im.shape).toEqual([1, 48, 48, 48]);
        expect(lab.shape).toEqual([1, 48, 48, 48]);
        // rebuild both from the recorded draws with the deterministic functions
        const ds = draws(s);
        expect(ds.map((d) => d.transform)).toEqual(['RandCropByPosNegLabeld', 'RandFlipd', 'RandFlipd', 'RandFlipd', 'RandRotate90d', 'RandShiftIntensityd']);
        const st = centerCropStart(ds[0].center as number[], [48, 48, 48]);
        let e = [image, label].map((v) => cropOrPad(v, st, st.map((x) => x + 48)));
        for (const d of ds.slice(1, 4)) if (d.applied) (flips++, (e = e.map((v) => flip(v, d.axes as number[]))));
        if (ds[4].applied) (rots++, (e = e.map((v) => rot90(v, ds[4].k as number))));
        const off = ds[5].applied ? (ds[5].offset as number) : 0;
        const eImg = ds[5].applied ? e[0].data.map((x) => x + off) : e[0].data;
        expect(ndiff(im.data, eImg)).toBe(0);
        expect(ndiff(lab.data, e[1].data)).toBe(0);
        // and the label still sits on the same voxels: label ≠ 0 ⇔ original image > 0.8 (shift undone)
        let mismatch = 0;
        for (let i = 0; i < lab.data.length; i++) if ((lab.data[i] !== 0) !== (e[0].data[i] > 0.8)) mismatch++;
        expect(mismatch).toBe(0);
      }
    }
    expect(flips).toBeGreaterThan(0);
    expect(rots).toBeGreaterThan(0);
  });

  async function smallCase(name: string): Promise<{ image: string; label: string }> {
    const [X, Y, Z] = [20, 18, 12];
    const aff = [[1.5, 0, 0, 0], [0, 1.5, 0, 0], [0, 0, 2, 0], [0, 0, 0, 1]];
    const img = new Float32Array(X * Y * Z).fill(100); // HU 100 → 0.647 after the window
    const lab = new Float32Array(X * Y * Z);
    for (let x = 5; x < 9; x++) for (let y = 6; y < 10; y++) for (let z = 3; z < 6; z++) lab[(z * Y + y) * X + x] = 1; // NIfTI is x-fastest
    const files = { image: path.join(tmp, `${name}_img.nii.gz`), label: path.join(tmp, `${name}_lab.nii.gz`) };
    await saveNifti(files.image, img, [X, Y, Z], aff, { dtype: 'float32' });
    await saveNifti(files.label, lab, [X, Y, Z], aff, { dtype: 'uint8' });
    return files;
  }

  it('a volume smaller than the patch → ArgumentError mentioning pad; with finetunePadToPatch it pads and works', async () => {
    const files = await smallCase('small');
    const p = buildPipeline('finetune', pipelineParams(32));
    const pre = await p.deterministic.one({ ...files });
    expect((pre.image as Volume).shape).toEqual([1, 20, 18, 12]);
    p.random!.setRandomState(0);
    const err = await p.random!.call(pre).catch((e) => e);
    expect(err).toBeInstanceOf(ArgumentError);
    expect(String(err.message)).toMatch(/pad/i);

    const q = buildPipeline('finetune', pipelineParams(32, { finetunePadToPatch: true }));
    const pre2 = await q.deterministic.one({ ...files });
    expect((pre2.image as Volume).shape).toEqual([1, 32, 32, 32]);
    expect((pre2.label as Volume).shape).toEqual([1, 32, 32, 32]);
    q.random!.setRandomState(0);
    const out = (await q.random!.call(pre2)) as Data[];
    expect(out.length).toBe(4);
    for (const s of out) {
      expect((s.image as Volume).shape).toEqual([1, 32, 32, 32]);
      expect((s.label as Volume).shape).toEqual([1, 32, 32, 32]);
    }
  });
});

describe('RandCropByPosNegLabel degenerate labels', () => {
  const shape = [1, 20, 20, 20];
  const zeros = (): Volume => ({ data: new Float32Array(8000), shape: [...shape] as Volume['shape'], affine: I4 });
  it('no foreground → background-only centres (MONAI warns and uses pos_ratio 0)', () => {
    const t = new RandCropByPosNegLabeld({ keys: ['image', 'label'], labelKey: 'label', imageKey: 'image', spatialSize: 8, numSamples: 50 });
    t.setRandomState(0);
    const out = t.call({ image: detVolume(shape, 1), label: zeros() });
    expect(out.length).toBe(50);
    for (const s of out) {
      expect(draws(s).at(-1)!.positive).toBe(false);
      expect((s.label as Volume).data.every((x) => x === 0)).toBe(true);
      expect((s.image as Volume).shape).toEqual([1, 8, 8, 8]);
    }
  });
  it('no background candidate (image ≤ threshold outside the label) → foreground-only centres', () => {
    const label = zeros();
    label.data[(10 * 20 + 10) * 20 + 10] = 1;
    const t = new RandCropByPosNegLabeld({ keys: ['image', 'label'], labelKey: 'label', imageKey: 'image', spatialSize: 8, numSamples: 20 });
    t.setRandomState(0);
    for (const s of t.call({ image: zeros(), label })) {
      expect(draws(s).at(-1)!.positive).toBe(true);
      expect(draws(s).at(-1)!.center).toEqual([10, 10, 10]);
    }
  });
  it('neither foreground nor background → clear ArgumentError', () => {
    const t = new RandCropByPosNegLabeld({ keys: ['image', 'label'], labelKey: 'label', imageKey: 'image', spatialSize: 8, numSamples: 4 });
    expect(() => t.call({ image: zeros(), label: zeros() })).toThrow(ArgumentError);
    expect(() => t.call({ image: zeros(), label: zeros() })).toThrow(/no sampling location/);
  });
});
