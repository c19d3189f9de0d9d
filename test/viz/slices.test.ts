/** Axial slice extraction: matshow3d(frame_dim=-1) orientation on an index-encoded volume; radiological view. */
import { describe, expect, it } from 'vitest';
import { axcodesToOrnt } from '../../src/core/affine';
import { createVolume, type Volume } from '../../src/core/volume';
import { ArgumentError } from '../../src/errors';
import { axialSlice, axialSlices, sliceIndices, sliceToRows } from '../../src/viz';

/** value = 10000·c + 100·x + y + z/100 (x, y < 100), so every voxel names its own indices. */
function indexVolume(C: number, X: number, Y: number, Z: number, affine?: number[][]): Volume {
  const v = createVolume([C, X, Y, Z], affine);
  for (let c = 0; c < C; c++)
    for (let x = 0; x < X; x++) for (let y = 0; y < Y; y++) for (let z = 0; z < Z; z++) v.data[((c * X + x) * Y + y) * Z + z] = 10000 * c + 100 * x + y + z / 100;
  return v;
}

/** An affine whose voxel axes point along `codes` (e.g. 'LPS'), 1 mm. */
function affineFor(codes: string): number[][] {
  const a = [
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 1],
  ];
  axcodesToOrnt(codes).forEach(([world, sign], vox) => (a[world][vox] = sign));
  return a;
}

describe('axialSlices', () => {
  it('evenly spaced bin centres, capped at the depth', () => {
    expect(sliceIndices(96, 9)).toEqual([5, 16, 26, 37, 48, 58, 69, 80, 90]);
    expect(sliceIndices(10, 1)).toEqual([5]);
    expect(sliceIndices(3, 9)).toEqual([0, 1, 2]);
    expect(() => sliceIndices(10, 0)).toThrow(ArgumentError);
  });

  it("'matshow' = matshow3d(vol, frame_dim=-1): frame z is vol[c, :, :, z], row = X, column = Y", () => {
    const v = indexVolume(2, 5, 7, 6);
    const s = axialSlices(v, 3);
    expect(s.map((t) => t.z)).toEqual([1, 3, 5]);
    for (const t of s) {
      expect([t.rows, t.cols]).toEqual([5, 7]);
      for (let r = 0; r < 5; r++) for (let c = 0; c < 7; c++) expect(t.data[r * 7 + c]).toBeCloseTo(100 * r + c + t.z / 100, 4);
    }
    const ch1 = axialSlice(v, 2, { channel: 1 });
    expect(ch1.data[0]).toBeCloseTo(10000.02, 3);
    expect(sliceToRows(ch1, 2)[4][6]).toBeCloseTo(10406.02, 2);
    expect(() => axialSlice(v, 6)).toThrow(/out of range/);
  });

  it("'radiological': anterior at the top and the patient's right on the left, for RAS, LPS and PLS storage", () => {
    // world coordinates of display (row, col) must be: row 0 most anterior (largest A), col 0 most right (largest R)
    for (const codes of ['RAS', 'LPS', 'PLS', 'LAS']) {
      const v = indexVolume(1, 4, 6, 3, affineFor(codes));
      const s = axialSlice(v, 1, { orientation: 'radiological' });
      const decode = (val: number) => [Math.floor(val / 100), Math.round(val) % 100] as const; // (x, y)
      const world = (x: number, y: number) => {
        const a = v.affine;
        return [a[0][0] * x + a[0][1] * y, a[1][0] * x + a[1][1] * y]; // (R, A)
      };
      const at = (r: number, c: number) => world(...decode(s.data[r * s.cols + c]));
      // moving down a column goes posterior; moving right along a row goes to the patient's left
      expect(at(1, 0)[1], codes).toBeLessThan(at(0, 0)[1]);
      expect(at(0, 1)[0], codes).toBeLessThan(at(0, 0)[0]);
      expect(at(1, 0)[0]).toBe(at(0, 0)[0]);
      expect(at(0, 1)[1]).toBe(at(0, 0)[1]);
    }
    // RAS: rows = Y reversed, cols = X reversed
    const ras = axialSlice(indexVolume(1, 4, 6, 3), 0, { orientation: 'radiological' });
    expect([ras.rows, ras.cols]).toEqual([6, 4]);
    expect(ras.data[0]).toBe(100 * 3 + 5);
  });
});
