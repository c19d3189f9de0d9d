import { describe, expect, it } from 'vitest';
import { axcodes, linear, matvec, spacing } from '../../src/core/affine';
import { Random } from '../../src/core/random';
import { generatePhantom, orientationForIndex, type Phantom } from '../../src/synth';
import { BTCV_LABELS as L, NUM_ORGANS } from '../../src/synth/labels';
import { ORIENTATION_CYCLE, type StoredOrientation } from '../../src/synth/grid';

const cache = new Map<string, Phantom>();
function phantom(seed: number, orientation: StoredOrientation = 'LPS', preset: 'small' | 'full' = 'small'): Phantom {
  const key = `${seed}/${orientation}/${preset}`;
  if (!cache.has(key)) cache.set(key, generatePhantom({ preset, orientation }, new Random(seed)));
  return cache.get(key)!;
}

function median(values: number[]): number {
  const s = values.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** HU of voxels with `label` whose in-plane 4-neighbours share the label (away from blurred edges). */
function interiorHU(p: Phantom, label: number): number[] {
  const [X, Y, Z] = p.shape;
  const out: number[] = [];
  for (let x = 1; x < X - 1; x++) for (let y = 1; y < Y - 1; y++) for (let z = 0; z < Z; z++) {
    const i = (x * Y + y) * Z + z;
    if (p.label[i] !== label) continue;
    if (p.label[i - Y * Z] !== label || p.label[i + Y * Z] !== label || p.label[i - Z] !== label || p.label[i + Z] !== label) continue;
    out.push(p.image[i]);
  }
  return out;
}

describe('generatePhantom', () => {
  it('writes int16 HU and uint8 labels on the same grid', () => {
    const p = phantom(1);
    const n = p.shape[0] * p.shape[1] * p.shape[2];
    expect(p.image).toBeInstanceOf(Int16Array);
    expect(p.label).toBeInstanceOf(Uint8Array);
    expect(p.image.length).toBe(n);
    expect(p.label.length).toBe(n);
    expect(Math.max(...new Set(p.label))).toBeLessThanOrEqual(NUM_ORGANS);
  });

  it('has all 13 BTCV organs in every stored orientation, on both presets', () => {
    for (let i = 0; i < ORIENTATION_CYCLE.length; i++) {
      const p = phantom(100 + i, orientationForIndex(i));
      const missing = p.organs.filter((o) => o.voxels < 10).map((o) => o.name);
      expect(missing, `seed ${100 + i} ${orientationForIndex(i)}`).toEqual([]);
    }
    const full = phantom(3, 'LPS', 'full');
    expect(full.organs.filter((o) => o.voxels < 200).map((o) => o.name)).toEqual([]);
  });

  it('gives each tissue realistic HU', () => {
    const p = phantom(11, 'RAS', 'full');
    const range = (label: number, lo: number, hi: number) => {
      const m = median(interiorHU(p, label));
      expect(m, `median HU of label ${label}`).toBeGreaterThanOrEqual(lo);
      expect(m, `median HU of label ${label}`).toBeLessThanOrEqual(hi);
    };
    range(L.liver, 95, 135);
    range(L.spleen, 105, 135);
    range(L.rkid, 90, 205);
    range(L.lkid, 90, 205);
    range(L.gall, -10, 30);
    range(L.aorta, 150, 255);
    range(L.IVC, 140, 225);
    range(L.veins, 100, 235);
    range(L.pancreas, 75, 115);
    // Whole-volume tissue classes: air outside, fat, soft tissue and bone all present.
    const frac = (lo: number, hi: number) => p.image.reduce((s, v) => s + (v >= lo && v <= hi ? 1 : 0), 0) / p.image.length;
    expect(frac(-1024, -950)).toBeGreaterThan(0.15); // air around the body
    expect(frac(-140, -60)).toBeGreaterThan(0.05); // subcutaneous and visceral fat
    expect(frac(20, 80)).toBeGreaterThan(0.02); // muscle / soft tissue
    expect(frac(400, 1100)).toBeGreaterThan(0.001); // cortical bone (spine, ribs)
    expect(frac(-900, -800)).toBeGreaterThan(0); // lung bases
    // Noise: the corner of the volume is air (−1000 HU, clipped at −1024) with the drawn noise level.
    const corner: number[] = [];
    for (let x = 0; x < 8; x++) for (let y = 0; y < 8; y++) for (let z = 0; z < p.shape[2]; z++) corner.push(p.image[(x * p.shape[1] + y) * p.shape[2] + z]);
    const mean = corner.reduce((a, b) => a + b, 0) / corner.length;
    const sd = Math.sqrt(corner.reduce((a, b) => a + (b - mean) ** 2, 0) / corner.length);
    expect(mean).toBeGreaterThan(-1010);
    expect(mean).toBeLessThan(-990);
    expect(sd).toBeGreaterThan(p.noiseStd * 0.6);
    expect(sd).toBeLessThan(p.noiseStd * 1.1);
  });

  it('places organs anatomically in RAS world space (patient right = +x)', () => {
    for (const orientation of ORIENTATION_CYCLE) {
      const p = phantom(21, orientation);
      const c = (label: number) => p.organs[label - 1].centroidWorld;
      const why = `orientation ${orientation}`;
      expect(c(L.liver)[0], why).toBeGreaterThan(10); // liver on the patient's right
      expect(c(L.gall)[0], why).toBeGreaterThan(10);
      expect(c(L.rkid)[0], why).toBeGreaterThan(30);
      expect(c(L.rad)[0], why).toBeGreaterThan(0);
      expect(c(L.spleen)[0], why).toBeLessThan(-30); // spleen, stomach, left kidney on the left
      expect(c(L.sto)[0], why).toBeLessThan(-10);
      expect(c(L.lkid)[0], why).toBeLessThan(-30);
      expect(c(L.lad)[0], why).toBeLessThan(0);
      expect(c(L.rkid)[1], why).toBeLessThan(c(L.gall)[1]); // kidneys posterior, gallbladder anterior
      expect(c(L.aorta)[1], why).toBeLessThan(c(L.pancreas)[1]);
      expect(c(L.liver)[2], why).toBeGreaterThan(c(L.rkid)[2]); // liver above the kidneys
      expect(c(L.rad)[2], why).toBeGreaterThan(c(L.rkid)[2]); // adrenals above the kidneys
      expect(c(L.eso)[2], why).toBeGreaterThan(c(L.pancreas)[2]);
    }
  });

  it('stores the same anatomy under flipped, permuted and oblique affines', () => {
    const codes: Record<StoredOrientation, string> = { LPS: 'LPS', RAS: 'RAS', 'LPS-oblique': 'LPS', RPI: 'RPI', PLS: 'PLS' };
    const ref = phantom(31, 'RAS');
    for (const orientation of ORIENTATION_CYCLE) {
      const p = phantom(31, orientation);
      expect(p.axcodes).toBe(codes[orientation]);
      expect(axcodes(p.affine)).toBe(codes[orientation]);
      const lin = linear(p.affine);
      const sp = spacing(p.affine);
      // Largest off-axis direction component: 0 for axis-aligned storage, sin(4–10°) for the oblique one.
      const off = Math.max(...[0, 1, 2].map((j) => {
        const col = [lin[0][j], lin[1][j], lin[2][j]].map((v) => Math.abs(v) / sp[j]).sort((a, b) => b - a);
        return Math.hypot(col[1], col[2]);
      }));
      if (orientation === 'LPS-oblique') {
        expect(p.obliqueDegrees).toBeGreaterThanOrEqual(4);
        expect(p.obliqueDegrees).toBeLessThanOrEqual(10);
        expect(off).toBeGreaterThan(0.02);
      } else {
        expect(p.obliqueDegrees).toBe(0);
        expect(off).toBeLessThan(1e-12);
      }
      // The anatomy and field of view come from the seed alone: organ centres agree in world space.
      for (const label of [L.liver, L.spleen, L.rkid, L.aorta]) {
        const a = p.organs[label - 1].centroidWorld;
        const b = ref.organs[label - 1].centroidWorld;
        expect(Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]), `${orientation} label ${label}`).toBeLessThan(orientation === 'LPS-oblique' ? 8 : 0.5);
      }
    }
  });

  it('flipped and permuted storage holds exactly the reordered label map', () => {
    const ras = phantom(31, 'RAS');
    const [X, Y, Z] = ras.shape;
    const at = (p: Phantom, i: number, j: number, k: number) => p.label[(i * p.shape[1] + j) * p.shape[2] + k];
    // Index in the RAS array of voxel (i, j, k) of each stored orientation.
    const maps: Array<[StoredOrientation, (i: number, j: number, k: number) => [number, number, number]]> = [
      ['LPS', (i, j, k) => [X - 1 - i, Y - 1 - j, k]],
      ['RPI', (i, j, k) => [i, Y - 1 - j, Z - 1 - k]],
      ['PLS', (i, j, k) => [X - 1 - j, Y - 1 - i, k]],
    ];
    for (const [orientation, toRas] of maps) {
      const p = phantom(31, orientation);
      expect(p.shape).toEqual(ras.shape);
      let diff = 0;
      for (let i = 0; i < X; i++) for (let j = 0; j < Y; j++) for (let k = 0; k < Z; k++) {
        if (at(p, i, j, k) !== at(ras, ...toRas(i, j, k))) diff++;
      }
      // Equal up to voxels exactly on a shape boundary, where float rounding of two affines may disagree.
      expect(diff / (X * Y * Z), orientation).toBeLessThan(1e-4);
    }
  });

  it('covers enough of the body that 96³ crops fit after resampling to 1.5 × 1.5 × 2 mm', () => {
    for (const p of [phantom(3, 'LPS', 'full'), phantom(41, 'PLS'), phantom(42, 'LPS-oblique')]) {
      // World bounding box of the foreground (HU > −175, what CropForeground keeps after ScaleIntensityRange).
      const lo = [Infinity, Infinity, Infinity];
      const hi = [-Infinity, -Infinity, -Infinity];
      const [X, Y, Z] = p.shape;
      for (let x = 0; x < X; x += 2) for (let y = 0; y < Y; y += 2) for (let z = 0; z < Z; z++) {
        if (p.image[(x * Y + y) * Z + z] <= -175) continue;
        const w = matvec(p.affine, [x, y, z, 1]);
        for (let a = 0; a < 3; a++) {
          lo[a] = Math.min(lo[a], w[a]);
          hi[a] = Math.max(hi[a], w[a]);
        }
      }
      expect(hi[0] - lo[0]).toBeGreaterThan(96 * 1.5);
      expect(hi[1] - lo[1]).toBeGreaterThan(96 * 1.5);
      expect(hi[2] - lo[2]).toBeGreaterThan(96 * 2);
    }
  });

  it('is deterministic: same seed → identical bytes, different seed → different volume', () => {
    const a = generatePhantom({ preset: 'small', orientation: 'RPI' }, new Random(77));
    const b = generatePhantom({ preset: 'small', orientation: 'RPI' }, new Random(77));
    const c = generatePhantom({ preset: 'small', orientation: 'RPI' }, new Random(78));
    expect(Buffer.from(a.image.buffer).equals(Buffer.from(b.image.buffer))).toBe(true);
    expect(Buffer.from(a.label.buffer).equals(Buffer.from(b.label.buffer))).toBe(true);
    expect(a.affine).toEqual(b.affine);
    const sameShape = a.shape.join() === c.shape.join();
    expect(sameShape && Buffer.from(a.image.buffer).equals(Buffer.from(c.image.buffer))).toBe(false);
    expect(a.organs[L.liver - 1].centroidWorld).not.toEqual(c.organs[L.liver - 1].centroidWorld);
  });

  it('varies shape, spacing and size between volumes', () => {
    const ps = [0, 1, 2, 3].map((i) => phantom(200 + i, 'LPS', 'small'));
    expect(new Set(ps.map((p) => p.spacing.map((s) => s.toFixed(3)).join())).size).toBe(4);
    expect(new Set(ps.map((p) => p.organs[L.liver - 1].voxels)).size).toBe(4);
    const full = phantom(3, 'LPS', 'full');
    expect(full.shape[0]).toBe(256);
    expect(full.shape[2]).toBeGreaterThanOrEqual(100);
    expect(full.shape[2]).toBeLessThanOrEqual(160);
    expect(full.spacing[2]).toBeGreaterThanOrEqual(1.5);
    expect(full.spacing[2]).toBeLessThanOrEqual(3);
  });
});
