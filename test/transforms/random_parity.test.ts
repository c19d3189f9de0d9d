/**
 * Statistical parity of the random augmentations with MONAI 1.6.1 (spec §1.2, §2.4).
 *
 * MONAI's draws come from test/fixtures/augment/*.json, written by scripts/reference/make_augment_fixtures.py
 * (MONAI's own transforms, set_random_state(0), ≥ 2000 calls on the same inputs as here). Our transforms are seeded
 * with setRandomState(1) and run ≥ 2000 times; the two samples are compared with two-sample tests from
 * test/helpers/stats.ts (KS for distributions, pooled z for proportions, χ² homogeneity for k), and our own draws
 * against the nominal parameters (exact binomial, χ² goodness of fit, one-sample KS).
 *
 * Significance: every test is run at α = 0.001 (p must be > 0.001). There are 67 such tests in this file, so under
 * the null hypothesis the chance of at least one false alarm is ≤ 67 × 0.001 ≈ 6.7 %; the seeds are fixed, so the
 * outcome is deterministic (a pass stays a pass), and a real discrepancy (e.g. a ratchet-free hole size, a wrong
 * probability, a biased crop centre) gives p-values far below 1e-6 at these sample sizes.
 * Exact (non-statistical) checks: the ratchet (each hole's size ≥ the previous one), every hole / crop inside the
 * volume, fill values within [min, max] of the image, shuffling preserves the multiset of values, the crop content
 * equals the index box it claims, and "crop centre is foreground" ⇔ "a foreground centre was drawn".
 *
 * Hole statistics use the full 96³ patch (the valid size and the start range depend on it). Sizes/positions come
 * from 2000 `randomize` calls; the filling itself is checked on a subset of full calls (in-painting 200,
 * out-painting 40), where the changed / kept voxels must be exactly the union of the drawn holes.
 * The test prints every statistic (D or z or χ², and p) to the console.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Volume } from '../../src/core/volume';
import { RandCropByPosNegLabeld } from '../../src/transforms/croppad/random';
import { RandCoarseDropoutd, RandCoarseShuffled, RandShiftIntensityd } from '../../src/transforms/intensity/random';
import { RandFlipd, RandRotate90d } from '../../src/transforms/spatial/random';
import type { Draw } from '../../src/transforms/core/randomizable';
import { OneOf } from '../../src/transforms/core/one_of';
import { det } from '../helpers/det';
import { FIXTURES } from '../helpers/paths';
import { binomTest, chiSquareGof, chiSquareHomogeneity, ks1, ks2, twoProportions, type TestResult } from '../helpers/stats';

const ALPHA = 0.001;
const DIR = path.join(FIXTURES, 'augment');
const load = (name: string) => JSON.parse(readFileSync(path.join(DIR, name), 'utf8'));

let nTests = 0;
/** Assert p > α and log the statistic. */
function check(name: string, r: TestResult): void {
  nTests++;
  console.log(`${name}: stat=${r.stat.toFixed(4)} p=${r.p.toExponential(3)}`);
  expect(r.p, `${name} (stat ${r.stat})`).toBeGreaterThan(ALPHA);
}

const N96 = 96;
const SHAPE96 = [N96, N96, N96];
/** The same input as the MONAI script: (det((1,96,96,96), 7) + 1) / 2 in float32. */
function img96(): Volume {
  const d = det([1, N96, N96, N96], 7);
  for (let i = 0; i < d.length; i++) d[i] = (d[i] + 1) / 2;
  return { data: d, shape: [1, N96, N96, N96], affine: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]] };
}
const lastDraw = (d: Record<string, unknown>): Draw => (d.__draws as Draw[]).at(-1)!;
/** Number of positions where two arrays differ (−1 for a length mismatch); vitest's toEqual is slow on big arrays. */
function ndiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return -1;
  let n = 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) n++;
  return n;
}

/** Boxes [x0,y0,z0,sx,sy,sz] → number of voxels in their union (inclusion–exclusion over the ≤ 2^6 subsets). */
function unionVolume(boxes: number[][]): number {
  let total = 0;
  const n = boxes.length;
  for (let mask = 1; mask < 1 << n; mask++) {
    const lo = [-Infinity, -Infinity, -Infinity],
      hi = [Infinity, Infinity, Infinity];
    let bits = 0;
    for (let i = 0; i < n; i++) {
      if (!(mask & (1 << i))) continue;
      bits++;
      for (let a = 0; a < 3; a++) {
        lo[a] = Math.max(lo[a], boxes[i][a]);
        hi[a] = Math.min(hi[a], boxes[i][a] + boxes[i][a + 3]);
      }
    }
    const vol = Math.max(0, hi[0] - lo[0]) * Math.max(0, hi[1] - lo[1]) * Math.max(0, hi[2] - lo[2]);
    total += bits % 2 ? vol : -vol;
  }
  return total;
}
const split6 = (flat: number[]) => Array.from({ length: flat.length / 6 }, (_, i) => flat.slice(6 * i, 6 * i + 6));

function insideMask(shape: readonly number[], boxes: number[][]): Uint8Array {
  const [X, Y, Z] = shape;
  const m = new Uint8Array(X * Y * Z);
  for (const b of boxes) for (let x = b[0]; x < b[0] + b[3]; x++) for (let y = b[1]; y < b[1] + b[4]; y++) m.fill(1, (x * Y + y) * Z + b[2], (x * Y + y) * Z + b[2] + b[5]);
  return m;
}

describe('stats helpers agree with scipy 1.17 on a fixed example', () => {
  it('ks2 / ks1 / binomTest / twoProportions / chiSquare', () => {
    const a = Array.from({ length: 300 }, (_, i) => Math.sin(i * 1.3) * 2);
    const b = Array.from({ length: 400 }, (_, i) => Math.sin(i * 0.7 + 0.2) * 2 + 0.2);
    // scipy.stats.ks_2samp(method='asymp'): D 0.145, p 0.001335 (scipy has no small-sample correction → ours a bit smaller)
    const r = ks2(a, b);
    expect(r.stat).toBeCloseTo(0.145, 12);
    expect(r.p).toBeGreaterThan(0.0009);
    expect(r.p).toBeLessThan(0.0014);
    expect(ks2(a.map(Math.round), b.map(Math.round)).stat).toBeCloseTo(0.0683333, 6); // ties
    expect(ks1(a.map((x) => x / 2), (x) => Math.min(1, Math.max(0, (x + 1) / 2))).stat).toBeCloseTo(0.12388308, 7);
    expect(binomTest(215, 2000, 0.1).p).toBeCloseTo(0.26347063, 5);
    const z = twoProportions(200, 2000, 230, 2100);
    expect(z.stat).toBeCloseTo(-0.99485552, 6);
    expect(z.p).toBeCloseTo(0.31980654, 5);
    expect(chiSquareGof([60, 75, 65], [1 / 3, 1 / 3, 1 / 3]).p).toBeCloseTo(0.41686202, 6);
    expect(chiSquareGof([10, 20, 30, 25, 15], [0.2, 0.2, 0.2, 0.2, 0.2]).p).toBeCloseTo(0.01399579, 6);
    const h = chiSquareHomogeneity([60, 75, 65], [70, 60, 80]);
    expect(h.stat).toBeCloseTo(3.74594754, 6);
    expect(h.p).toBeCloseTo(0.15366601, 6);
  });
});

describe('RandCoarseDropoutd vs MONAI (96³, 2000 draws per mode)', () => {
  const fx = load('dropout.json');
  const modes = [
    { name: 'inpaint', opts: { holes: 6, spatialSize: 5, maxSpatialSize: 32, dropoutHoles: true }, full: 200 },
    { name: 'outpaint', opts: { holes: 6, spatialSize: 20, maxSpatialSize: 64, dropoutHoles: false }, full: 40 },
  ] as const;
  for (const mode of modes) {
    it(`${mode.name}: hole sizes (ratchet), starts and ${mode.opts.dropoutHoles ? 'replaced' : 'kept'} fraction match`, () => {
      const ref = fx[mode.name];
      const monai: number[][][] = (ref.boxes as number[][]).map(split6);
      expect(monai.length).toBeGreaterThanOrEqual(2000);
      const t = new RandCoarseDropoutd({ keys: ['image'], prob: 1, ...mode.opts });
      t.setRandomState(1);
      const ours: number[][][] = [];
      for (let i = 0; i < 2000; i++) {
        const { apply, boxes } = t.t.randomize(SHAPE96);
        expect(apply).toBe(true);
        ours.push(boxes.map((b) => [...b.start, ...b.size]));
      }
      const lo = mode.opts.spatialSize,
        hi = mode.opts.maxSpatialSize;
      for (const [who, draws] of [
        ['monai', monai],
        ['ours', ours],
      ] as const) {
        let badSize = 0,
          outside = 0,
          shrunk = 0;
        for (const boxes of draws) {
          expect(boxes.length).toBe(6);
          boxes.forEach((b, h) => {
            for (let a = 0; a < 3; a++) {
              if (!(b[a + 3] >= lo && b[a + 3] <= hi)) badSize++;
              if (!(b[a] >= 0 && b[a] + b[a + 3] <= N96)) outside++;
              if (h > 0 && b[a + 3] < boxes[h - 1][a + 3]) shrunk++; // the ratchet
            }
          });
        }
        expect({ who, badSize, outside, shrunk }).toEqual({ who, badSize: 0, outside: 0, shrunk: 0 });
      }
      // per hole index: sizes and starts, the three axes pooled (they are i.i.d. chains)
      for (let h = 0; h < 6; h++) {
        const pick = (draws: number[][][], off: number) => draws.flatMap((bs) => [bs[h][off], bs[h][off + 1], bs[h][off + 2]]);
        check(`${mode.name} hole ${h} size KS`, ks2(pick(ours, 3), pick(monai, 3)));
        check(`${mode.name} hole ${h} start KS`, ks2(pick(ours, 0), pick(monai, 0)));
      }
      // the ratchet makes the last hole much larger than the first (a ratchet-free port fails the KS tests above)
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      expect(mean(ours.map((b) => b[5][3]))).toBeGreaterThan(mean(ours.map((b) => b[0][3])) + (hi - lo) / 4);
      // changed (in-painting) / kept (out-painting) fraction = union of the holes
      const total = N96 ** 3;
      const fracOurs = ours.map((b) => unionVolume(b) / total);
      check(`${mode.name} fraction KS`, ks2(fracOurs, ref.fraction));
      // MONAI's measured fraction is the union of its holes (up to rounding and rare fill = original coincidences)
      monai.forEach((b, i) => expect(Math.abs(unionVolume(b) / total - ref.fraction[i])).toBeLessThan(2e-5));
      // MONAI's fill values lie within the image range
      for (let i = 0; i < ref.fill_min.length; i++) {
        expect(ref.fill_min[i]).toBeGreaterThanOrEqual(ref.image_min);
        expect(ref.fill_max[i]).toBeLessThanOrEqual(ref.image_max);
      }

      // full calls: the changed / kept voxels are exactly the union of the drawn holes, fill values ∈ [min, max]
      const img = img96();
      let lo0 = Infinity,
        hi0 = -Infinity;
      for (const v of img.data) {
        lo0 = Math.min(lo0, v);
        hi0 = Math.max(hi0, v);
      }
      expect(lo0).toBeCloseTo(ref.image_min, 5);
      expect(hi0).toBeCloseTo(ref.image_max, 5);
      const tf = new RandCoarseDropoutd({ keys: ['image'], prob: 1, ...mode.opts });
      tf.setRandomState(2);
      const fullFrac: number[] = [];
      for (let i = 0; i < mode.full; i++) {
        const out = tf.call({ image: img });
        const r = out.image as Volume;
        const boxes = lastDraw(out).boxes as number[][];
        const inside = insideMask(SHAPE96, boxes);
        let same = 0,
          fmin = Infinity,
          fmax = -Infinity,
          wrong = 0;
        for (let j = 0; j < r.data.length; j++) {
          const eq = r.data[j] === img.data[j];
          if (eq) same++;
          const filled = mode.opts.dropoutHoles ? inside[j] === 1 : inside[j] === 0;
          if (filled) {
            fmin = Math.min(fmin, r.data[j]);
            fmax = Math.max(fmax, r.data[j]);
          } else if (!eq) wrong++;
        }
        expect(wrong, 'voxels outside the filled region changed').toBe(0);
        const union = unionVolume(boxes);
        const changed = total - same;
        const expected = mode.opts.dropoutHoles ? union : total - union;
        // a uniform draw can equal the original float32 value by chance (≈ 2⁻²⁴ per voxel)
        expect(Math.abs(changed - expected)).toBeLessThanOrEqual(3);
        expect(fmin).toBeGreaterThanOrEqual(lo0);
        expect(fmax).toBeLessThanOrEqual(hi0);
        fullFrac.push((mode.opts.dropoutHoles ? changed : same) / total);
      }
      check(`${mode.name} fraction (full calls, n=${mode.full}) KS`, ks2(fullFrac, ref.fraction));
    });
  }
});

describe('RandCoarseShuffled vs MONAI (96³, 2000 draws)', () => {
  const fx = load('shuffle.json');
  it('applied rate 0.8, box positions, multiset preserved', () => {
    const t = new RandCoarseShuffled({ keys: ['image'], prob: 0.8, holes: 10, spatialSize: 8 });
    t.setRandomState(1);
    let applied = 0;
    const starts: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const { apply, boxes } = t.t.randomize(SHAPE96);
      if (!apply) continue;
      applied++;
      expect(boxes.length).toBe(10);
      for (const b of boxes) {
        expect(b.size).toEqual([8, 8, 8]);
        starts.push(...b.start);
      }
    }
    const mApplied = (fx.applied as number[]).reduce((a, b) => a + b, 0);
    check('shuffle applied (ours) vs p=0.8 binomial', binomTest(applied, 2000, 0.8));
    check('shuffle applied (MONAI) vs p=0.8 binomial', binomTest(mApplied, fx.applied.length, 0.8));
    check('shuffle applied ours vs MONAI', twoProportions(applied, 2000, mApplied, fx.applied.length));
    check('shuffle box start KS', ks2(starts, (fx.starts as number[][]).flat()));
    expect(Math.max(...starts)).toBeLessThanOrEqual(N96 - 8);
    // MONAI's own checks of the shuffle (recorded by the script)
    for (const c of fx.checks) {
      expect(c.union_multiset && c.outside_unchanged).toBe(true);
      expect(c.isolated_boxes.every(Boolean)).toBe(true);
    }
    // ours, on full calls: exact multiset of the union and of every box overlapping no other box; outside unchanged
    const img = img96();
    const tf = new RandCoarseShuffled({ keys: ['image'], prob: 0.8, holes: 10, spatialSize: 8 });
    tf.setRandomState(2);
    let checked = 0,
      isolated = 0;
    const moved: number[] = [];
    while (checked < 50) {
      const out = tf.call({ image: img });
      const draw = lastDraw(out);
      const r = out.image as Volume;
      if (!draw.applied) {
        expect(r.data).toBe(img.data);
        continue;
      }
      checked++;
      const boxes = draw.boxes as number[][];
      const inside = insideMask(SHAPE96, boxes);
      const a: number[] = [],
        b: number[] = [];
      let changedOutside = 0;
      for (let j = 0; j < r.data.length; j++) {
        if (inside[j]) {
          a.push(img.data[j]);
          b.push(r.data[j]);
        } else if (r.data[j] !== img.data[j]) changedOutside++;
      }
      expect(changedOutside).toBe(0);
      const n = a.length;
      moved.push(a.filter((v, j) => v !== b[j]).length / n);
      expect(ndiff(Float64Array.from(b).sort(), Float64Array.from(a).sort())).toBe(0);
      boxes.forEach((bx, i) => {
        const alone = boxes.every((o, j) => j === i || [0, 1, 2].some((ax) => bx[ax] + bx[ax + 3] <= o[ax] || o[ax] + o[ax + 3] <= bx[ax]));
        if (!alone) return;
        isolated++;
        const one = insideMask(SHAPE96, [bx]);
        const p: number[] = [],
          q: number[] = [];
        for (let j = 0; j < one.length; j++) {
          if (one[j]) {
            p.push(img.data[j]);
            q.push(r.data[j]);
          }
        }
        expect(ndiff(Float64Array.from(q).sort(), Float64Array.from(p).sort())).toBe(0);
      });
    }
    expect(isolated).toBeGreaterThan(300);
    // a uniform permutation of 512 values moves almost all of them
    check('shuffle moved fraction KS (50 vs 50)', ks2(moved, (fx.checks as { moved: number }[]).map((c) => c.moved)));
  });
});

/** The MONAI script's posneg inputs: image > 0 inside the 'body' ellipsoid, label = 1 inside the 'blob'. */
function posnegInputs(desc: { shape: number[]; body: { center: number[]; radii: number[] }; blob: { center: number[]; radii: number[] } }) {
  const [, X, Y, Z] = desc.shape;
  const noise = det(desc.shape, 11);
  const image = new Float32Array(X * Y * Z),
    label = new Float32Array(X * Y * Z),
    idx = new Float32Array(X * Y * Z);
  const inside = (e: { center: number[]; radii: number[] }, x: number, y: number, z: number) => {
    const u = (x - e.center[0]) / e.radii[0],
      v = (y - e.center[1]) / e.radii[1],
      w = (z - e.center[2]) / e.radii[2];
    return u * u + v * v + w * w <= 1.0;
  };
  const f01 = Math.fround(0.01);
  for (let x = 0, i = 0; x < X; x++)
    for (let y = 0; y < Y; y++)
      for (let z = 0; z < Z; z++, i++) {
        idx[i] = i;
        if (inside(desc.body, x, y, z)) image[i] = Math.fround((noise[i] + 1) / 2) + f01;
        if (inside(desc.blob, x, y, z)) label[i] = 1;
      }
  const I = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
  const vol = (data: Float32Array): Volume => ({ data, shape: [1, X, Y, Z], affine: I });
  return { image: vol(image), label: vol(label), idx: vol(idx) };
}

describe('RandCropByPosNegLabeld vs MONAI (120×110×100, crop 48³, 4 samples × 500 calls)', () => {
  const fx = load('posneg.json');
  it('inputs are the same as the MONAI script', () => {
    const { image, label } = posnegInputs(fx.inputs);
    let nf = 0,
      nb = 0,
      sum = 0;
    for (let i = 0; i < image.data.length; i++) {
      if (label.data[i] > 0) nf++;
      else if (image.data[i] > 0) nb++;
      sum += image.data[i];
    }
    expect(nf).toBe(fx.inputs.n_foreground);
    expect(nb).toBe(fx.inputs.n_background);
    expect(Math.abs(sum - fx.inputs.image_sum) / fx.inputs.image_sum).toBeLessThan(1e-9);
  });
  it('pos/neg ratio 0.5, centre distribution per axis, every crop inside the volume', () => {
    const S = fx.spatial_size as number;
    const data = posnegInputs(fx.inputs);
    const [, X, Y, Z] = data.idx.shape;
    const t = new RandCropByPosNegLabeld({ keys: ['image', 'label', 'idx'], labelKey: 'label', imageKey: 'image', spatialSize: S, pos: 1, neg: 1, numSamples: 4, imageThreshold: 0 });
    t.setRandomState(1);
    const starts: number[][] = [];
    const fg: number[] = [];
    let positive = 0;
    for (let call = 0; call < 500; call++) {
      for (const s of t.call(data)) {
        const c = s.idx as Volume;
        expect(c.shape).toEqual([1, S, S, S]);
        const i0 = c.data[0];
        const st = [Math.floor(i0 / (Y * Z)), Math.floor(i0 / Z) % Y, i0 % Z];
        // inside the volume, and the crop is exactly the box [st, st + S) (first, last and centre voxels)
        st.forEach((v, a) => expect(v >= 0 && v + S <= [X, Y, Z][a]).toBe(true));
        const flat = (x: number, y: number, z: number) => (x * Y + y) * Z + z;
        expect(c.data[c.data.length - 1]).toBe(flat(st[0] + S - 1, st[1] + S - 1, st[2] + S - 1));
        const mid = (S / 2) * S * S + (S / 2) * S + S / 2;
        expect(c.data[mid]).toBe(flat(st[0] + S / 2, st[1] + S / 2, st[2] + S / 2));
        const lab = s.label as Volume,
          im = s.image as Volume;
        expect(lab.data[mid]).toBe(data.label.data[c.data[mid]]);
        expect(im.data[mid]).toBe(data.image.data[c.data[mid]]);
        const draw = lastDraw(s);
        expect(draw.center).toEqual(st.map((v) => v + S / 2));
        const isFg = lab.data[mid] > 0 ? 1 : 0;
        // the blob lies strictly inside the valid-centre box, so the centre voxel is foreground iff fg was drawn
        expect(isFg).toBe(draw.positive ? 1 : 0);
        if (draw.positive) positive++;
        starts.push(st);
        fg.push(isFg);
      }
    }
    const n = starts.length;
    expect(n).toBeGreaterThanOrEqual(2000);
    const mStarts = fx.starts as number[][];
    const mFg = (fx.center_fg as number[]).reduce((a, b) => a + b, 0);
    check('posneg positive (ours) vs 0.5 binomial', binomTest(positive, n, 0.5));
    check('posneg centre-fg (MONAI) vs 0.5 binomial', binomTest(mFg, mStarts.length, 0.5));
    check('posneg centre-fg ours vs MONAI', twoProportions(positive, n, mFg, mStarts.length));
    for (let a = 0; a < 3; a++) {
      check(`posneg crop start axis ${a} KS`, ks2(starts.map((s) => s[a]), mStarts.map((s) => s[a])));
      for (const want of [0, 1]) {
        check(
          `posneg crop start axis ${a} KS (${want ? 'fg' : 'bg'} centres)`,
          ks2(
            starts.filter((_, i) => fg[i] === want).map((s) => s[a]),
            mStarts.filter((_, i) => fx.center_fg[i] === want).map((s) => s[a]),
          ),
        );
      }
      for (const s of mStarts) expect(s[a] >= 0 && s[a] + S <= [X, Y, Z][a]).toBe(true);
    }
  });
});

describe('RandFlipd / RandRotate90d / RandShiftIntensityd vs MONAI (4000 draws each)', () => {
  const fx = load('flip_rot_shift.json');
  const N = 4000;
  const tiny = (): Volume => {
    const d = new Float32Array(4 * 5 * 6).map((_, i) => i);
    return { data: d, shape: [1, 4, 5, 6], affine: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]] };
  };
  it('flip frequency 0.1 per axis', () => {
    for (let a = 0; a < 3; a++) {
      const t = new RandFlipd({ keys: ['image'], spatialAxis: [a], prob: 0.1 });
      t.setRandomState(1 + a);
      const v = tiny();
      let k = 0;
      for (let i = 0; i < N; i++) {
        const out = t.call({ image: v });
        const changed = (out.image as Volume).data.some((x, j) => x !== v.data[j]);
        expect(changed).toBe(lastDraw(out).applied);
        if (changed) k++;
      }
      const m = (fx[`flip${a}`] as number[]).reduce((s, x) => s + x, 0);
      check(`flip axis ${a} (ours) vs 0.1 binomial`, binomTest(k, N, 0.1));
      check(`flip axis ${a} (MONAI) vs 0.1 binomial`, binomTest(m, fx.n, 0.1));
      check(`flip axis ${a} ours vs MONAI`, twoProportions(k, N, m, fx.n));
    }
  });
  it('rot90 frequency 0.1 and k uniform on {1,2,3}', () => {
    const t = new RandRotate90d({ keys: ['image'], prob: 0.1, maxK: 3 });
    t.setRandomState(1);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < N; i++) counts[lastDraw(t.call({ image: tiny() })).k as number]++;
    const m = [0, 0, 0, 0];
    for (const k of fx.rot90_k as number[]) m[k]++;
    const app = N - counts[0],
      mApp = fx.n - m[0];
    check('rot90 applied (ours) vs 0.1 binomial', binomTest(app, N, 0.1));
    check('rot90 applied (MONAI) vs 0.1 binomial', binomTest(mApp, fx.n, 0.1));
    check('rot90 applied ours vs MONAI', twoProportions(app, N, mApp, fx.n));
    check('rot90 k (ours) uniform χ²', chiSquareGof(counts.slice(1), [1 / 3, 1 / 3, 1 / 3]));
    check('rot90 k (MONAI) uniform χ²', chiSquareGof(m.slice(1), [1 / 3, 1 / 3, 1 / 3]));
    check('rot90 k ours vs MONAI χ² homogeneity', chiSquareHomogeneity(counts.slice(1), m.slice(1)));
  });
  it('shift applied 0.5, offset uniform on ±0.1', () => {
    const t = new RandShiftIntensityd({ keys: ['image'], offsets: 0.1, prob: 0.5 });
    t.setRandomState(1);
    const zeros: Volume = { data: new Float32Array(8), shape: [1, 2, 2, 2], affine: tiny().affine };
    const offs: number[] = [];
    for (let i = 0; i < N; i++) {
      const out = t.call({ image: zeros });
      const d = lastDraw(out);
      const r = out.image as Volume;
      if (d.applied) {
        expect(r.data[0]).toBe(Math.fround(d.offset as number));
        expect(r.data.every((x) => x === r.data[0])).toBe(true);
        offs.push(r.data[0]);
      } else expect(r.data).toBe(zeros.data);
    }
    const mOffs = (fx.shift_offset as (number | null)[]).filter((x): x is number => x !== null);
    for (const o of [...offs, ...mOffs]) expect(Math.abs(o)).toBeLessThanOrEqual(0.1);
    check('shift applied (ours) vs 0.5 binomial', binomTest(offs.length, N, 0.5));
    check('shift applied (MONAI) vs 0.5 binomial', binomTest(mOffs.length, fx.n, 0.5));
    check('shift applied ours vs MONAI', twoProportions(offs.length, N, mOffs.length, fx.n));
    const u = (x: number) => Math.min(1, Math.max(0, (x + 0.1) / 0.2));
    check('shift offset (ours) vs U(−0.1, 0.1) KS', ks1(offs, u));
    check('shift offset (MONAI) vs U(−0.1, 0.1) KS', ks1(mOffs, u));
    check('shift offset ours vs MONAI KS', ks2(offs, mOffs));
  });
  it('OneOf picks each of two transforms with probability 0.5', () => {
    const o = new OneOf([new RandFlipd({ keys: ['image'], spatialAxis: 0 }), new RandFlipd({ keys: ['image'], spatialAxis: 1 })]);
    o.setRandomState(1);
    let first = 0;
    for (let i = 0; i < N; i++) if (o.randomize() === 0) first++;
    check('OneOf index 0 (ours) vs 0.5 binomial', binomTest(first, N, 0.5));
  });
  it('counted the statistical tests stated in the header', () => {
    // runs last in this file (vitest runs its tests in order); keeps the header's count honest
    expect(nTests).toBe(67);
  });
});
