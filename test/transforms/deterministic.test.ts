import { describe, expect, it } from 'vitest';
import { axcodes, identity } from '../../src/core/affine';
import { createVolume, type Volume } from '../../src/core/volume';
import { ArgumentError } from '../../src/errors';
import {
  CropForeground,
  CropForegroundd,
  Orientation,
  Orientationd,
  ScaleIntensityRange,
  Spacing,
  SpatialPad,
} from '../../src/transforms';
import { planSpacing, roundHalfEven, torchLinspace } from '../../src/transforms/spatial/functional';

/** A volume whose value encodes its voxel index: v = 10000·x + 100·y + z. */
function indexVolume(X: number, Y: number, Z: number, affine = identity(4)): Volume {
  const v = createVolume([1, X, Y, Z], affine);
  for (let x = 0; x < X; x++) for (let y = 0; y < Y; y++) for (let z = 0; z < Z; z++) v.data[(x * Y + y) * Z + z] = 10000 * x + 100 * y + z;
  return v;
}
const at = (v: Volume, x: number, y: number, z: number, c = 0) => v.data[((c * v.shape[1] + x) * v.shape[2] + y) * v.shape[3] + z];

describe('Orientation', () => {
  it('LPS → RAS flips x and y and makes the affine point along +R +A +S', () => {
    const lps = [
      [-2, 0, 0, 10],
      [0, -3, 0, 20],
      [0, 0, 4, 30],
      [0, 0, 0, 1],
    ];
    const v = indexVolume(4, 5, 6, lps);
    expect(axcodes(v.affine)).toBe('LPS');
    const r = new Orientation({ axcodes: 'RAS' }).call(v);
    expect(axcodes(r.affine)).toBe('RAS');
    expect(r.shape).toEqual([1, 4, 5, 6]);
    expect(at(r, 0, 0, 0)).toBe(at(v, 3, 4, 0));
    expect(at(r, 1, 2, 3)).toBe(at(v, 2, 2, 3));
    // the world position of every voxel is unchanged: new origin = old position of voxel (3, 4, 0)
    expect(r.affine[0][3]).toBeCloseTo(10 - 2 * 3);
    expect(r.affine[1][3]).toBeCloseTo(20 - 3 * 4);
    expect(r.affine[0][0]).toBeCloseTo(2);
  });

  it('permutes axes (ASL → RAS) and round-trips', () => {
    const asl = [
      [0, 0, -1.5, 0],
      [2, 0, 0, 0],
      [0, 3, 0, 0],
      [0, 0, 0, 1],
    ];
    const v = indexVolume(3, 4, 5, asl);
    expect(axcodes(v.affine)).toBe('ASL');
    const r = new Orientation({ axcodes: 'RAS' }).call(v);
    expect(r.shape).toEqual([1, 5, 3, 4]);
    const back = new Orientation({ axcodes: 'ASL' }).call(r);
    expect(back.shape).toEqual(v.shape);
    expect(Array.from(back.data)).toEqual(Array.from(v.data));
    back.affine.flat().forEach((a, i) => expect(a).toBeCloseTo(v.affine.flat()[i], 10));
  });

  it('rejects bad axcodes', () => {
    expect(() => new Orientation({ axcodes: 'RAX' })).toThrow(ArgumentError);
    expect(() => new Orientation({ axcodes: 'RRS' })).toThrow(/same world axis/);
  });

  it('dict form names a missing key, and allowMissingKeys skips it', () => {
    const v = indexVolume(2, 2, 2);
    expect(() => new Orientationd({ keys: ['image', 'label'], axcodes: 'RAS' }).call({ image: v })).toThrow(/'label' is missing/);
    const out = new Orientationd({ keys: ['image', 'label'], axcodes: 'RAS', allowMissingKeys: true }).call({ image: v });
    expect(out.label).toBeUndefined();
  });
});

describe('Spacing', () => {
  it('output shape follows round((N−1)·s/t + 1) (spec example (200,190,60) at (0.75,0.75,5) → 2 mm)', () => {
    const a = [
      [0.75, 0, 0, 0],
      [0, 0.75, 0, 0],
      [0, 0, 5, 0],
      [0, 0, 0, 1],
    ];
    expect(planSpacing([200, 190, 60], a, [2, 2, 2]).shape).toEqual([76, 72, 148]);
  });

  it('keeps an axis within 1e-3 mm of the target and returns the input when nothing changes', () => {
    const v = indexVolume(4, 4, 4, [
      [2.0005, 0, 0, 0],
      [0, 2, 0, 0],
      [0, 0, 2, 0],
      [0, 0, 0, 1],
    ]);
    const plan = planSpacing([4, 4, 4], v.affine, [2, 2, 2]);
    expect(plan.pixdim[0]).toBe(2.0005);
    expect(plan.unchanged).toBe(true);
    expect(new Spacing({ pixdim: 2 }).call(v).data).toBe(v.data);
  });

  it('upsampling by 2 interpolates linearly and keeps the origin at voxel 0', () => {
    const v = indexVolume(3, 3, 3, [
      [2, 0, 0, 5],
      [0, 2, 0, 6],
      [0, 0, 2, 7],
      [0, 0, 0, 1],
    ]);
    const r = new Spacing({ pixdim: 1 }).call(v);
    expect(r.shape).toEqual([1, 5, 5, 5]);
    expect(r.affine[0][3]).toBe(5);
    expect(at(r, 1, 0, 0)).toBeCloseTo(5000, 3);
    expect(at(r, 1, 1, 1)).toBeCloseTo(5050.5, 3);
    expect(at(r, 4, 4, 4)).toBe(at(v, 2, 2, 2));
    const n = new Spacing({ pixdim: 1, mode: 'nearest' }).call(v);
    // half-way ties break like MONAI's float64 arithmetic, to one of the two neighbours
    expect([0, 10000]).toContain(at(n, 1, 0, 0));
  });

  it('torch.linspace emulation is symmetric and exact at the ends', () => {
    for (const n of [1, 2, 7, 96, 241]) {
      const l = torchLinspace(-1, 1, n);
      expect(l[0]).toBe(-1);
      if (n > 1) expect(l[n - 1]).toBe(1);
    }
    expect([0.5, 1.5, 2.5, -0.5].map(roundHalfEven)).toEqual([0, 2, 2, -0]);
  });

  it('rejects non-positive pixdim', () => {
    expect(() => new Spacing({ pixdim: [1, 0, 1] })).toThrow(ArgumentError);
  });
});

describe('CropForeground and SpatialPad', () => {
  it('crops to the box of x > 0, end exclusive, and moves the affine', () => {
    const v = createVolume([1, 6, 6, 6]);
    v.data[(2 * 6 + 3) * 6 + 1] = 1;
    v.data[(4 * 6 + 3) * 6 + 4] = 2;
    const t = new CropForeground();
    expect(t.computeBox(v)).toEqual({ start: [2, 3, 1], end: [5, 4, 5] });
    const r = t.call(v);
    expect(r.shape).toEqual([1, 3, 1, 4]);
    expect(r.affine[0][3]).toBe(2);
    expect(r.affine[2][3]).toBe(1);
    expect(new CropForeground({ margin: 1 }).computeBox(v)).toEqual({ start: [1, 2, 0], end: [6, 5, 6] });
  });

  it('an all-zero volume gives an empty crop that SpatialPad turns into zeros (MONAI behaviour)', () => {
    const v = createVolume([1, 10, 10, 10]);
    const empty = new CropForeground().call(v);
    expect(empty.shape).toEqual([1, 0, 0, 0]);
    const padded = new SpatialPad({ spatialSize: 8 }).call(empty);
    expect(padded.shape).toEqual([1, 8, 8, 8]);
    expect(padded.data.every((x) => x === 0)).toBe(true);
  });

  it('pads symmetrically (w//2, w − w//2) and leaves larger axes alone', () => {
    const v = indexVolume(3, 10, 4);
    const r = new SpatialPad({ spatialSize: [8, 8, 8] }).call(v);
    expect(r.shape).toEqual([1, 8, 10, 8]);
    expect(at(r, 2, 0, 2)).toBe(at(v, 0, 0, 0));
    expect(at(r, 1, 0, 2)).toBe(0);
    expect(r.affine[0][3]).toBe(-2);
    expect(r.affine[2][3]).toBe(-2);
  });

  it('dict form crops every key with the source key\'s box', () => {
    const img = createVolume([1, 5, 5, 5]);
    img.data[62] = 1; // (2, 2, 2)
    const lab = indexVolume(5, 5, 5);
    const out = new CropForegroundd({ keys: ['image', 'label'], sourceKey: 'image' }).call({ image: img, label: lab });
    expect((out.label as Volume).shape).toEqual([1, 1, 1, 1]);
    expect((out.label as Volume).data[0]).toBe(20202);
    expect(out.foreground_start_coord).toEqual([2, 2, 2]);
  });
});

describe('ScaleIntensityRange', () => {
  it('maps the HU window to [0, 1] and clips', () => {
    const v = createVolume([1, 1, 1, 4]);
    v.data.set([-1000, -57, 53.5, 500]);
    const r = new ScaleIntensityRange({ aMin: -57, aMax: 164, clip: true }).call(v);
    expect(Array.from(r.data)).toEqual([0, 0, Math.fround(Math.fround(110.5) / 221), 1]);
    const u = new ScaleIntensityRange({ aMin: -57, aMax: 164 }).call(v);
    expect(u.data[0]).toBeLessThan(0);
  });
});
