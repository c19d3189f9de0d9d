/**
 * ssl3d's deterministic preprocessing against MONAI's, on the shared real CT and on phantoms with flipped, oblique
 * and permuted affines. Fixtures: scripts/reference/make_preprocess_fixtures.py.
 *
 * Images must match to 1e-4 (they match exactly in practice). Labels are resampled with nearest neighbour; where an
 * output voxel's source coordinate lies exactly half-way between two input voxels (e.g. 3 mm → 1.5 mm), the winner
 * depends on float64 rounding. ssl3d reproduces MONAI's arithmetic (torch.linspace with FMA, normalised affine_grid
 * coordinates, LAPACK-order solves), so ties break the same way; any voxel that still differs must be such a tie,
 * and there must be fewer than 0.5 % of them.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Volume } from '../../src/core/volume';
import { loadNifti } from '../../src/io/nifti';
import { preprocessPreset, type PreprocessPreset } from '../../src/transforms/presets';
import { Compose } from '../../src/transforms/core/transform';
import { planSpacing } from '../../src/transforms/spatial/functional';
import { FIXTURES, SHARED } from '../helpers/paths';

interface OutputEntry {
  file: string;
  shape: number[];
  affine: number[][];
}
interface CaseEntry {
  case: string;
  preset: PreprocessPreset;
  inputs: Record<string, string>;
  outputs: Record<string, OutputEntry>;
}

const DIR = path.join(FIXTURES, 'preprocess');
const manifestFile = path.join(DIR, 'expected', 'manifest.json');
const manifest: { cases: CaseEntry[] } = existsSync(manifestFile) ? JSON.parse(readFileSync(manifestFile, 'utf8')) : { cases: [] };

function resolveRef(ref: string): string {
  const [scheme, rel] = ref.split(':');
  return scheme === 'shared' ? path.join(SHARED, rel) : path.join(FIXTURES, rel);
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('preprocessing parity with MONAI', () => {
  it('has fixtures for the real CT and at least two phantoms with non-trivial affines', () => {
    const cases = new Set(manifest.cases.map((c) => c.case));
    expect(cases.has('real_ct')).toBe(true);
    expect([...cases].filter((c) => c.startsWith('phantom_')).length).toBeGreaterThanOrEqual(2);
  });

  for (const entry of manifest.cases) {
    const inputs = Object.fromEntries(Object.entries(entry.inputs).map(([k, v]) => [k, resolveRef(v)]));
    const available = Object.values(inputs).every((p) => existsSync(p));
    it.runIf(available)(`${entry.case} / ${entry.preset}`, async () => {
      const chain = preprocessPreset(entry.preset);
      const out = await chain.one({ ...inputs });

      for (const [key, exp] of Object.entries(entry.outputs)) {
        const ours = out[key] as Volume;
        const ref = await loadNifti(path.join(DIR, 'expected', exp.file));
        expect(ours.shape.slice(1), `${key} shape`).toEqual(exp.shape);
        for (let r = 0; r < 4; r++) {
          for (let c = 0; c < 4; c++) expect(Math.abs(ours.affine[r][c] - exp.affine[r][c]), `${key} affine[${r}][${c}]`).toBeLessThanOrEqual(1e-5);
        }
        if (key === 'image') {
          expect(maxAbsDiff(ours.data, ref.data)).toBeLessThanOrEqual(1e-4);
          continue;
        }
        // label: every mismatch must be a half-way tie of the nearest-neighbour resampling
        const mismatches: number[] = [];
        for (let i = 0; i < ours.data.length; i++) if (ours.data[i] !== ref.data[i]) mismatches.push(i);
        if (mismatches.length) {
          // rebuild the resampling plan from the oriented (pre-spacing) label
          const pre = await new Compose(chain.transforms.slice(0, 3)).one({ ...inputs });
          const lab = pre.label as Volume;
          const plan = planSpacing(lab.shape.slice(1), lab.affine, [1.5, 1.5, 2]);
          const start = out.foreground_start_coord as number[];
          const [, A, B, C] = ours.shape;
          for (const i of mismatches) {
            const j = [Math.floor(i / (B * C)) + start[0], (Math.floor(i / C) % B) + start[1], (i % C) + start[2]];
            const p = [0, 1, 2].map((r) => plan.xform[r][0] * j[0] + plan.xform[r][1] * j[1] + plan.xform[r][2] * j[2] + plan.xform[r][3]);
            const isTie = p.some((v) => Math.abs(v - Math.floor(v) - 0.5) < 1e-6);
            expect(isTie, `label voxel ${j} differs from MONAI without being a half-way tie (p=${p})`).toBe(true);
          }
          void A;
        }
        const fraction = mismatches.length / ours.data.length;
        console.log(`${entry.case}/${entry.preset}: ${mismatches.length} label voxels differ (all half-way ties), ${(fraction * 100).toFixed(4)} %`);
        expect(fraction).toBeLessThan(0.005);
      }
    });
  }
});
