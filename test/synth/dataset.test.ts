import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matvec } from '../../src/core/affine';
import { Random } from '../../src/core/random';
import { register as registerSynth } from '../../src/cli/commands/synth';
import { loadDatalist } from '../../src/io/datalist';
import { loadNifti } from '../../src/io/nifti';
import { generatePhantom, writePhantomSet, type PhantomManifest } from '../../src/synth';
import { btcvLabelMap } from '../../src/synth/labels';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ssl3d-synth-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function readAll(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(path.relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

describe('writePhantomSet', () => {
  const dirA = path.join(tmp, 'a');
  let manifest: PhantomManifest;
  const events: number[] = [];
  beforeAll(async () => {
    ({ manifest } = await writePhantomSet({ outDir: dirA, n: 5, unlabeled: 3, seed: 4, preset: 'small', onProgress: (e) => events.push(e.done) }));
  });

  it('writes the BTCV/TCIA layout, datalists and manifest', () => {
    const files = [...readAll(dirA).keys()].sort();
    expect(files).toEqual([
      'dataset.json',
      'dataset_unlabeled.json',
      ...[1, 2, 3, 4, 5].map((i) => `imagesTr/img000${i}.nii.gz`),
      ...[1, 2, 3, 4, 5].map((i) => `labelsTr/label000${i}.nii.gz`),
      'manifest.json',
      ...[1, 2, 3].map((i) => `unlabeled/volume-synth-000${i}.nii.gz`),
    ]);
    expect(events).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const ds = JSON.parse(readFileSync(path.join(dirA, 'dataset.json'), 'utf8'));
    expect(ds.labels).toEqual(btcvLabelMap());
    expect(ds.modality).toEqual({ '0': 'CT' });
    expect(ds.training.length + ds.validation.length).toBe(5);
    expect(ds.validation.length).toBe(1);
    expect(ds.training[0]).toEqual({ image: expect.stringMatching(/^imagesTr\/img\d{4}\.nii\.gz$/), label: expect.stringMatching(/^labelsTr\/label\d{4}\.nii\.gz$/) });
    const unl = JSON.parse(readFileSync(path.join(dirA, 'dataset_unlabeled.json'), 'utf8'));
    expect(Object.keys(unl)).toEqual(['training', 'validation']);
    expect(unl.training.length + unl.validation.length).toBe(3);
    expect(Object.keys(unl.training[0])).toEqual(['image']);
    expect(manifest.volumes.map((v) => v.orientation)).toEqual(['LPS', 'RAS', 'LPS-oblique', 'RPI', 'PLS', 'LPS', 'RAS', 'LPS-oblique']);
  });

  it('datalists load and validate (files and headers) with loadDatalist', async () => {
    const json = path.join(dirA, 'dataset.json');
    const train = await loadDatalist(json, { key: 'training', validate: 'shapes' });
    const val = await loadDatalist(json, { key: 'validation', validate: 'shapes' });
    expect(train.length + val.length).toBe(5);
    expect(train[0].image).toBe(path.join(dirA, manifest.volumes.find((v) => v.split === 'training')!.image));
    const pre = await loadDatalist(path.join(dirA, 'dataset_unlabeled.json'), { key: 'training', validate: 'shapes' });
    expect(pre.length).toBeGreaterThan(0);
  });

  it('image and label share the grid; the manifest matches the files', async () => {
    for (const v of manifest.volumes.filter((x) => x.kind === 'labeled')) {
      const img = await loadNifti(path.join(dirA, v.image));
      const lab = await loadNifti(path.join(dirA, v.label!));
      expect(img.header.dtype.name).toBe('int16');
      expect(lab.header.dtype.name).toBe('uint8');
      expect(img.shape).toEqual(v.shape);
      expect(lab.shape).toEqual(v.shape);
      expect(img.affine.flat().map((x) => +x.toFixed(3))).toEqual(lab.affine.flat().map((x) => +x.toFixed(3)));
      for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) expect(img.affine[r][c]).toBeCloseTo(v.affine[r][c], 3);
      // Organ centre recomputed from the file's labels and affine.
      const [X, Y, Z] = lab.shape;
      let n = 0;
      const s = [0, 0, 0];
      for (let x = 0; x < X; x++) for (let y = 0; y < Y; y++) for (let z = 0; z < Z; z++) {
        if (lab.data[(x * Y + y) * Z + z] !== 6) continue;
        n++;
        s[0] += x;
        s[1] += y;
        s[2] += z;
      }
      const w = matvec(lab.affine, [s[0] / n, s[1] / n, s[2] / n, 1]);
      expect(n).toBe(v.organs.liver.voxels);
      for (let a = 0; a < 3; a++) expect(w[a]).toBeCloseTo(v.organs.liver.centroidWorld[a], 1);
      // Regenerating from the recorded seed gives the same voxels.
      const again = generatePhantom({ preset: v.preset, orientation: v.orientation }, new Random(v.seed));
      let diff = 0;
      for (let i = 0; i < again.image.length; i++) if (again.image[i] !== img.data[i]) diff++;
      expect(diff).toBe(0);
    }
  });

  it('is byte-identical for the same seed and differs for another seed', async () => {
    const dirB = path.join(tmp, 'b');
    const dirC = path.join(tmp, 'c');
    await writePhantomSet({ outDir: dirB, n: 5, unlabeled: 3, seed: 4, preset: 'small' });
    await writePhantomSet({ outDir: dirC, n: 5, unlabeled: 3, seed: 5, preset: 'small' });
    const a = readAll(dirA);
    const b = readAll(dirB);
    const c = readAll(dirC);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [k, v] of a) expect(v.equals(b.get(k)!), k).toBe(true);
    expect(a.get('imagesTr/img0001.nii.gz')!.equals(c.get('imagesTr/img0001.nii.gz')!)).toBe(false);
  });

  it('a larger set starts with the volumes of a smaller one', async () => {
    const dirD = path.join(tmp, 'd');
    await writePhantomSet({ outDir: dirD, n: 2, unlabeled: 1, seed: 4, preset: 'small' });
    const a = readAll(dirA);
    const d = readAll(dirD);
    for (const f of ['imagesTr/img0001.nii.gz', 'labelsTr/label0002.nii.gz', 'unlabeled/volume-synth-0001.nii.gz']) {
      expect(d.get(f)!.equals(a.get(f)!), f).toBe(true);
    }
  });
});

describe('ssl3d synth (CLI)', () => {
  const run = async (...args: string[]) => {
    const program = new Command().exitOverride().configureOutput({ writeErr: () => undefined });
    registerSynth(program);
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
    try {
      await program.parseAsync(args, { from: 'user' });
    } finally {
      process.stdout.write = write;
    }
    return out.join('');
  };

  it('writes a small set without labels and with a fixed orientation', async () => {
    const dir = path.join(tmp, 'cli');
    const text = await run('synth', '--out', dir, '--n', '2', '--no-labels', '--unlabeled', '0', '--small', '--quiet', '--orientations', 'RAS', '--seed', '9');
    expect(text).toMatch(/wrote 2 image-only \+ 0 unlabeled phantoms/);
    const files = [...readAll(dir).keys()].sort();
    expect(files).toEqual(['dataset.json', 'dataset_unlabeled.json', 'imagesTr/img0001.nii.gz', 'imagesTr/img0002.nii.gz', 'manifest.json']);
    const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as PhantomManifest;
    expect(m.volumes.map((v) => v.axcodes)).toEqual(['RAS', 'RAS']);
    const ds = JSON.parse(readFileSync(path.join(dir, 'dataset.json'), 'utf8'));
    expect(ds.labels).toBeUndefined();
    expect(Object.keys(ds.training[0])).toEqual(['image']);
  });

  it('rejects bad option values', async () => {
    await expect(run('synth', '--out', tmp, '--n', '-1')).rejects.toThrow(/non-negative integer/);
    await expect(run('synth', '--out', tmp, '--orientations', 'XYZ')).rejects.toThrow(/unknown orientation/);
    await expect(run('synth', '--out', tmp, '--val-fraction', '1')).rejects.toThrow(/\[0, 1\)/);
  });
});
