import { describe, expect, it } from 'vitest';
import { matvec } from '../../src/core/affine';
import { eulerRotation, makeGrid, orientedAffine, type Vec3 } from '../../src/synth/grid';
import { createCanvas, paintBlob, paintCapsule, smoothAxis } from '../../src/synth/raster';
import { PERT_TERMS, type BlobShape, type CapsuleShape } from '../../src/synth/shapes';

/** A small oblique, axis-permuted grid so the incremental stepping and row culling are exercised in every direction. */
function testGrid() {
  const shape: Vec3 = [40, 36, 30];
  const rot = eulerRotation(7, -5, 11);
  return makeGrid(shape, orientedAffine('PLS', shape, [1.1, 0.9, 1.7], [3, -2, 5], rot));
}

function world(g: ReturnType<typeof testGrid>, i: number, j: number, k: number): Vec3 {
  const p = matvec(g.affine, [i, j, k, 1]);
  return [p[0], p[1], p[2]];
}

describe('rasterisation', () => {
  it('paintBlob marks exactly the voxels inside the deformed ellipsoid (brute-force reference)', () => {
    const g = testGrid();
    const c = createCanvas(g);
    c.region.fill(3);
    const pert = Array.from({ length: PERT_TERMS }, (_, i) => (i % 2 ? 0.08 : -0.06));
    const blob: BlobShape = {
      kind: 'blob', name: 't', label: 5, center: [4, -1, 3], axes: [11, 8, 14],
      rot: eulerRotation(20, -10, 35), pert, layers: [{ upTo: 0.6, hu: 10 }, { upTo: 1, hu: 20 }],
    };
    const n = paintBlob(c, blob);
    const [X, Y, Z] = g.shape;
    const r = blob.rot;
    let expected = 0;
    let mismatches = 0;
    for (let i = 0; i < X; i++) for (let j = 0; j < Y; j++) for (let k = 0; k < Z; k++) {
      const p = world(g, i, j, k);
      const d = [p[0] - blob.center[0], p[1] - blob.center[1], p[2] - blob.center[2]];
      const q = [0, 1, 2].map((l) => (r[0][l] * d[0] + r[1][l] * d[1] + r[2][l] * d[2]) / blob.axes[l]);
      const rr = Math.hypot(q[0], q[1], q[2]);
      const [ux, uy, uz] = q.map((v) => v / rr);
      const basis = [ux, uy, uz, ux * uy, uy * uz, uz * ux, ux * ux - uy * uy, 2 * uz * uz - ux * ux - uy * uy, 3 * Math.sqrt(3) * ux * uy * uz];
      const rad = 1 + basis.reduce((s, b, t) => s + b * pert[t], 0);
      const inside = rr < rad;
      if (inside) expected++;
      const idx = (i * Y + j) * Z + k;
      if ((c.label[idx] === 5) !== inside) mismatches++;
      else if (inside && c.image[idx] !== (rr / rad < 0.6 ? 10 : 20)) mismatches++;
    }
    expect(expected).toBeGreaterThan(1000);
    expect(n).toBe(expected);
    expect(mismatches).toBe(0);
  });

  it('paintCapsule marks exactly the voxels within the interpolated radius of the segment', () => {
    const g = testGrid();
    const c = createCanvas(g);
    const s: CapsuleShape = { kind: 'capsule', name: 't', label: 2, a: [-12, -9, -6], b: [14, 6, 13], ra: 4, rb: 7, layers: [{ upTo: 1, hu: 100 }] };
    const n = paintCapsule(c, s);
    const [X, Y, Z] = g.shape;
    const ab = [s.b[0] - s.a[0], s.b[1] - s.a[1], s.b[2] - s.a[2]];
    const len2 = ab[0] ** 2 + ab[1] ** 2 + ab[2] ** 2;
    let expected = 0;
    let mismatches = 0;
    for (let i = 0; i < X; i++) for (let j = 0; j < Y; j++) for (let k = 0; k < Z; k++) {
      const p = world(g, i, j, k);
      const v = [p[0] - s.a[0], p[1] - s.a[1], p[2] - s.a[2]];
      const t = Math.min(1, Math.max(0, (v[0] * ab[0] + v[1] * ab[1] + v[2] * ab[2]) / len2));
      const dist = Math.hypot(v[0] - t * ab[0], v[1] - t * ab[1], v[2] - t * ab[2]);
      const inside = dist < s.ra + t * (s.rb - s.ra);
      if (inside) expected++;
      if ((c.label[(i * Y + j) * Z + k] === 2) !== inside) mismatches++;
    }
    expect(expected).toBeGreaterThan(500);
    expect(n).toBe(expected);
    expect(mismatches).toBe(0);
  });

  it('smoothAxis is a [1, 2, 1]/4 filter with replicated edges', () => {
    const shape: Vec3 = [3, 4, 2];
    const data = Float32Array.from({ length: 24 }, (_, i) => (i * 7) % 11);
    const ref = data.slice();
    smoothAxis(data, shape, 1);
    const at = (a: Float32Array, x: number, y: number, z: number) => a[(x * 4 + y) * 2 + z];
    for (let x = 0; x < 3; x++) for (let y = 0; y < 4; y++) for (let z = 0; z < 2; z++) {
      const e = 0.25 * at(ref, x, Math.max(0, y - 1), z) + 0.5 * at(ref, x, y, z) + 0.25 * at(ref, x, Math.min(3, y + 1), z);
      expect(at(data, x, y, z)).toBeCloseTo(e, 5);
    }
  });
});
