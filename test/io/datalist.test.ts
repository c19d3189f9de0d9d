import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register as registerDatalist } from '../../src/cli/commands/datalist';
import { DatalistError } from '../../src/errors';
import { buildDatalist, inspectDatalist, loadDatalist, pairingKey, resolveDatalistPath } from '../../src/io/datalist';
import { saveNifti } from '../../src/io/nifti';
import { peekNifti } from '../../src/io/nifti/peek';
import { ROOT } from '../helpers/paths';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ssl3d-datalist-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const eye = (s = 1, t = 0): number[][] => [
  [s, 0, 0, t],
  [0, s, 0, 0],
  [0, 0, s, 0],
  [0, 0, 0, 1],
];

async function nii(rel: string, shape: [number, number, number] = [4, 5, 6], affine = eye(), dtype: 'int16' | 'uint8' = 'int16') {
  const file = path.join(tmp, rel);
  await saveNifti(file, new Float32Array(shape[0] * shape[1] * shape[2]), shape, affine, { dtype });
  return file;
}

function writeJson(rel: string, value: unknown): string {
  const file = path.join(tmp, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  return file;
}

async function issuesOf(p: Promise<unknown>): Promise<DatalistError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DatalistError);
    return e as DatalistError;
  }
  throw new Error('expected a DatalistError');
}

beforeAll(async () => {
  for (const i of [1, 2, 3]) {
    await nii(`ds/imagesTr/img000${i}.nii.gz`);
    await nii(`ds/labelsTr/label000${i}.nii.gz`, [4, 5, 6], eye(), 'uint8');
  }
  await nii('ds/imagesTs/img0061.nii.gz');
  await nii('ds/labelsTr/label_bad_shape.nii.gz', [4, 5, 7], eye(), 'uint8');
  await nii('ds/labelsTr/label_bad_affine.nii.gz', [4, 5, 6], eye(1, 3), 'uint8');
  writeFileSync(path.join(tmp, 'ds/imagesTr/garbage.nii.gz'), Buffer.from('definitely not a NIfTI file, just some bytes '.repeat(20)));
  writeFileSync(path.join(tmp, 'ds/notes.txt'), 'x');
});

describe('loadDatalist', () => {
  it('loads dict items and plain strings, resolving paths against the JSON folder', async () => {
    const json = writeJson('ds/list.json', {
      training: [
        { image: 'imagesTr/img0001.nii.gz', label: 'labelsTr/label0001.nii.gz' },
        { image: './imagesTr/../imagesTr/img0002.nii.gz', label: 'labelsTr/label0002.nii.gz', extra: 'notes.txt', other: 'no/such/file', n: 3 },
      ],
      test: ['imagesTs/img0061.nii.gz'],
    });
    const train = await loadDatalist(json);
    const dir = path.join(tmp, 'ds');
    expect(train).toEqual([
      { image: path.join(dir, 'imagesTr/img0001.nii.gz'), label: path.join(dir, 'labelsTr/label0001.nii.gz') },
      // Normalised like os.path.normpath; other keys are resolved only where the file exists (MONAI check_path).
      { image: path.join(dir, 'imagesTr/img0002.nii.gz'), label: path.join(dir, 'labelsTr/label0002.nii.gz'), extra: path.join(dir, 'notes.txt'), other: 'no/such/file', n: 3 },
    ]);
    expect(await loadDatalist(json, { key: 'test' })).toEqual([{ image: path.join(dir, 'imagesTs/img0061.nii.gz') }]);
  });

  it('joins like MONAI: base dir override, absolute paths kept, relative JSON path gives relative results', async () => {
    expect(resolveDatalistPath('/data/btcv', 'imagesTr/a.nii.gz')).toBe(path.normalize('/data/btcv/imagesTr/a.nii.gz'));
    expect(resolveDatalistPath('/data/btcv', '/abs/a.nii.gz')).toBe(path.normalize('/abs/a.nii.gz'));
    expect(resolveDatalistPath('.', 'x/../y/a.nii')).toBe(path.normalize('y/a.nii'));
    const abs = path.join(tmp, 'ds/imagesTr/img0003.nii.gz');
    const json = writeJson('elsewhere/list.json', { training: [{ image: 'imagesTr/img0001.nii.gz' }, { image: abs }] });
    const items = await loadDatalist(json, { baseDir: path.join(tmp, 'ds') });
    expect(items.map((i) => i.image)).toEqual([path.join(tmp, 'ds/imagesTr/img0001.nii.gz'), abs]);
    const rel = path.relative(process.cwd(), json);
    const relItems = await loadDatalist(rel, { validate: false });
    expect(relItems[0].image).toBe(path.normalize(path.join(path.dirname(rel), 'imagesTr/img0001.nii.gz')));
  });

  it('reports every problem of a list at once', async () => {
    mkdirSync(path.join(tmp, 'ds/a_folder.nii.gz'), { recursive: true });
    const json = writeJson('ds/bad.json', {
      training: [
        { image: 'imagesTr/img0001.nii.gz', label: 'labelsTr/label0001.nii.gz' }, // fine
        { image: 'imagesTr/missing.nii.gz', label: 'labelsTr/label0002.nii.gz' }, // missing image
        { label: 'labelsTr/label0003.nii.gz' }, // no image key
        42, // wrong type
        { image: 5 }, // wrong image type
        { image: 'imagesTr/img0002.nii.gz', label: ['x'] }, // wrong label type
        { image: 'a_folder.nii.gz' }, // a directory
        '', // empty string
        { image: 'imagesTr/img0003.nii.gz', label: 'labelsTr/nope.nii.gz' }, // missing label
      ],
    });
    const err = await issuesOf(loadDatalist(json));
    const where = err.issues.map((i) => i.where);
    expect(where).toEqual([
      'training[1].image',
      'training[2]',
      'training[3]',
      'training[4].image',
      'training[5].label',
      'training[6].image',
      'training[7]',
      'training[8].label',
    ]);
    expect(err.issues[0].problem).toMatch(/file not found: .*missing\.nii\.gz \(from "imagesTr\/missing\.nii\.gz"\)/);
    expect(err.issues[1].problem).toMatch(/missing key "image"/);
    expect(err.issues[2].problem).toMatch(/got number/);
    expect(err.issues[5].problem).toMatch(/not a regular file/);
    expect(err.message).toContain(json);
    expect(err.message).toContain('8 problem(s)');
    // validate: false checks structure only.
    const structural = await issuesOf(loadDatalist(json, { validate: false }));
    expect(structural.issues.map((i) => i.where)).toEqual(['training[2]', 'training[3]', 'training[4].image', 'training[5].label', 'training[7]']);
  });

  it.runIf(process.getuid?.() !== 0)('reports unreadable files', async () => {
    const f = await nii('ds/unreadable.nii.gz');
    chmodSync(f, 0o000);
    const json = writeJson('ds/unreadable.json', { training: [{ image: 'unreadable.nii.gz' }] });
    const err = await issuesOf(loadDatalist(json));
    expect(err.issues[0].problem).toMatch(/not readable/);
    chmodSync(f, 0o644);
  });

  it('reports JSON syntax errors with line and column, wrong top-level types, missing keys and non-list values', async () => {
    const syntax = writeJson('j/syntax.json', '{\n  "training": [\n    {"image": "a.nii.gz",}\n  ]\n}\n');
    const e1 = await issuesOf(loadDatalist(syntax));
    expect(e1.issues[0].where).toMatch(/^line 3, column \d+$/);
    expect(e1.issues[0].problem).toMatch(/invalid JSON/);
    const e2 = await issuesOf(loadDatalist(writeJson('j/list.json', '[1, 2]')));
    expect(e2.issues[0].problem).toMatch(/expected a JSON object .* got a list/);
    const e3 = await issuesOf(loadDatalist(writeJson('j/keys.json', { training: [], test: [] }), { key: 'validation' }));
    expect(e3.issues[0]).toEqual({ where: 'validation', problem: 'key "validation" not found; lists in this file: training, test' });
    const e4 = await issuesOf(loadDatalist(writeJson('j/obj.json', { training: { image: 'a' } })));
    expect(e4.issues[0].problem).toMatch(/expected a list of items, got object/);
    const e5 = await issuesOf(loadDatalist(path.join(tmp, 'j/none.json')));
    expect(e5.issues[0].problem).toBe('datalist file not found');
    const e6 = await issuesOf(loadDatalist(writeJson('j/empty.json', '  \n')));
    expect(e6.issues[0].problem).toMatch(/empty/);
  });

  it("detects image/label shape and affine mismatches and unreadable headers with validate: 'shapes'", async () => {
    const json = writeJson('ds/shapes.json', {
      training: [
        { image: 'imagesTr/img0001.nii.gz', label: 'labelsTr/label0001.nii.gz' },
        { image: 'imagesTr/img0002.nii.gz', label: 'labelsTr/label_bad_shape.nii.gz' },
        { image: 'imagesTr/img0003.nii.gz', label: 'labelsTr/label_bad_affine.nii.gz' },
        { image: 'imagesTr/garbage.nii.gz' },
      ],
    });
    expect(await loadDatalist(json)).toHaveLength(4); // files exist: fine without header checks
    const err = await issuesOf(loadDatalist(json, { validate: 'shapes' }));
    expect(err.issues.map((i) => i.where)).toEqual(['training[1]', 'training[2]', 'training[3].image']);
    expect(err.issues[0].problem).toMatch(/label shape \[4, 5, 7\] does not match image shape \[4, 5, 6\]/);
    expect(err.issues[1].problem).toMatch(/label affine differs from the image affine by up to 3\.00 mm/);
    expect(err.issues[2].problem).toMatch(/garbage\.nii\.gz: .*(not a NIfTI|sizeof_hdr|shorter)/);
  });

  it('inspectDatalist checks every list and returns issues without throwing', async () => {
    const json = writeJson('ds/multi.json', {
      training: [{ image: 'imagesTr/img0001.nii.gz' }],
      validation: [{ image: 'imagesTr/nope.nii.gz' }],
      name: 'x',
    });
    const { items, issues } = await inspectDatalist(json);
    expect(Object.keys(items)).toEqual(['training', 'validation']);
    expect(issues.map((i) => i.where)).toEqual(['validation[0].image']);
  });
});

describe('peekNifti', () => {
  it('reads shape and affine from the header only, and spots a truncated .nii', async () => {
    const f = await nii('peek/a.nii.gz', [7, 8, 9], eye(2, 5));
    const p = await peekNifti(f);
    expect(p.shape).toEqual([7, 8, 9]);
    expect(p.affine[0]).toEqual([2, 0, 0, 5]);
    expect(p.gzipped).toBe(true);
    const raw = await nii('peek/b.nii', [7, 8, 9]);
    writeFileSync(raw, readFileSync(raw).subarray(0, 600));
    await expect(peekNifti(raw)).rejects.toThrow(/truncated/);
  });
});

describe('buildDatalist / ssl3d datalist', () => {
  beforeAll(async () => {
    for (let i = 1; i <= 10; i++) {
      const id = String(i).padStart(4, '0');
      await nii(`raw/imgs/img${id}.nii.gz`, [3, 3, 3]);
      await nii(`raw/labs/label${id}.nii.gz`, [3, 3, 3], eye(), 'uint8');
    }
  });

  it('pairs images and labels by name id', () => {
    expect(pairingKey('img0001.nii.gz')).toBe('0001');
    expect(pairingKey('label0001.nii.gz')).toBe('0001');
    expect(pairingKey('case_12_image.nii')).toBe('case_12');
    expect(pairingKey('case_12_seg.nii.gz')).toBe('case_12');
    expect(pairingKey('liver_3_0000.nii.gz')).toBe('liver_3');
    expect(pairingKey('liver_3.nii.gz')).toBe('liver_3');
    expect(pairingKey('volume-covid19-A-0001.nii.gz')).toBe('covid19-a-0001');
    expect(pairingKey('volume-7.nii')).toBe(pairingKey('segmentation-7.nii')); // LiTS naming
    expect(pairingKey('imagination.nii')).toBe('imagination');
  });

  it('splits with a seed: deterministic, and the seed matters', async () => {
    const opts = { imagesDir: path.join(tmp, 'raw/imgs'), labelsDir: path.join(tmp, 'raw/labs'), baseDir: path.join(tmp, 'raw') };
    const a = await buildDatalist({ ...opts, seed: 1 });
    const b = await buildDatalist({ ...opts, seed: 1 });
    expect(a).toEqual(b);
    expect(a.training).toHaveLength(8);
    expect(a.validation).toHaveLength(2);
    expect(a.numTraining).toBe(8);
    expect(a.training[0]).toEqual({ image: expect.stringMatching(/^imgs\/img\d{4}\.nii\.gz$/), label: expect.stringMatching(/^labs\/label\d{4}\.nii\.gz$/) });
    const digits = (p: string) => /(\d{4})\.nii\.gz$/.exec(p)![1];
    for (const e of [...a.training, ...a.validation]) expect(digits(e.label!)).toBe(digits(e.image));
    const vals = new Set<string>();
    for (let s = 0; s < 6; s++) vals.add(JSON.stringify((await buildDatalist({ ...opts, seed: s })).validation));
    expect(vals.size).toBeGreaterThan(1);
    const none = await buildDatalist({ ...opts, valFraction: 0 });
    expect(none.validation).toHaveLength(0);
  });

  it('lists every unmatched file in one error', async () => {
    await nii('raw2/imgs/img0001.nii.gz', [3, 3, 3]);
    await nii('raw2/imgs/img0002.nii.gz', [3, 3, 3]);
    await nii('raw2/labs/label0001.nii.gz', [3, 3, 3]);
    await nii('raw2/labs/label0099.nii.gz', [3, 3, 3]);
    await nii('raw2/labs/seg0099.nii.gz', [3, 3, 3]);
    const err = await issuesOf(buildDatalist({ imagesDir: path.join(tmp, 'raw2/imgs'), labelsDir: path.join(tmp, 'raw2/labs'), baseDir: tmp }));
    expect(err.issues.map((i) => i.where)).toEqual(['images/img0002.nii.gz', 'labels/label0099.nii.gz', 'labels/seg0099.nii.gz']);
    expect(err.issues[0].problem).toMatch(/no label in .* id "0002"/);
    expect(err.issues[1].problem).toMatch(/no image .* id "0099"/);
    const e2 = await issuesOf(buildDatalist({ imagesDir: path.join(tmp, 'nope'), baseDir: tmp }));
    expect(e2.issues[0].problem).toMatch(/folder not found/);
  });

  it('the CLI writes the same JSON for the same seed, loadable by loadDatalist', async () => {
    const run = async (...args: string[]) => {
      const program = new Command().exitOverride().configureOutput({ writeErr: () => undefined });
      registerDatalist(program);
      const write = process.stdout.write.bind(process.stdout);
      const out: string[] = [];
      process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
      try {
        await program.parseAsync(args, { from: 'user' });
      } finally {
        process.stdout.write = write;
      }
      return out.join('');
    };
    const base = ['datalist', '--images', path.join(tmp, 'raw/imgs'), '--labels', path.join(tmp, 'raw/labs'), '--seed', '3'];
    const o1 = path.join(tmp, 'raw/one.json');
    const o2 = path.join(tmp, 'raw/two.json');
    expect(await run(...base, '--out', o1)).toMatch(/8 training \+ 2 validation image\/label pairs \(seed 3\)/);
    await run(...base, '--out', o2);
    expect(readFileSync(o1, 'utf8')).toBe(readFileSync(o2, 'utf8'));
    await expect(run(...base, '--out', o1)).rejects.toThrow(/already exists/);
    const val = await loadDatalist(o1, { key: 'validation', validate: 'shapes' });
    expect(val).toHaveLength(2);
    expect(await run('datalist', '--check', o1, '--shapes')).toMatch(/OK \(training 8, validation 2; files and headers checked\)/);
    const o3 = path.join(tmp, 'other/three.json');
    await run(...base, '--out', o3, '--base-dir', path.join(tmp, 'raw'), '--val-fraction', '0.5');
    const j3 = JSON.parse(readFileSync(o3, 'utf8'));
    expect(j3.validation).toHaveLength(5);
    expect(j3.training[0].image).toMatch(/^imgs\//);
    await expect(run('datalist', '--check', path.join(tmp, 'ds/bad.json'))).rejects.toThrow(DatalistError);
  });
});

describe('json_files (the tutorial splits)', () => {
  const dir = path.join(ROOT, 'json_files');
  const ids = (items: Array<{ image: string | string[] }>, re: RegExp) => items.map((i) => re.exec(String(i.image))![1]);

  it('TCIA COVID-19 split: 600 training, 171 validation, disjoint', async () => {
    const json = path.join(dir, 'tcia_covid19/dataset_split.json');
    const tr = await loadDatalist(json, { key: 'training', validate: false, baseDir: '/data/tcia' });
    const va = await loadDatalist(json, { key: 'validation', validate: false, baseDir: '/data/tcia' });
    expect(tr).toHaveLength(600);
    expect(va).toHaveLength(171);
    const re = /volume-covid19-A-(\d{4}(?:_day\d{3}|_\d)?)\.nii\.gz$/;
    const t = ids(tr, re);
    const v = ids(va, re);
    expect(t.slice(0, 3)).toEqual(['0656', '0495', '0705_day043']);
    expect(t.filter((x) => x.includes('_day'))).toHaveLength(93);
    expect(v.filter((x) => x.includes('_day'))).toHaveLength(28);
    expect(new Set([...t, ...v]).size).toBe(771);
    expect(tr[0].image).toBe(path.normalize('/data/tcia/data/volume-covid19-A-0656.nii.gz'));
  });

  it('BTCV splits: 6/12/24 training, 6 validation (35–40), 20 test (61–80)', async () => {
    const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => String(a + i).padStart(4, '0'));
    const expected: Record<string, string[]> = {
      'dataset_0_init_6.json': range(1, 6),
      'dataset_0_init_12.json': [...range(1, 10), '0021', '0022'],
      'dataset_0_init_24.json': [...range(1, 10), ...range(21, 34)],
      'dataset_0.json': [...range(1, 10), ...range(21, 34)],
    };
    for (const [file, trainIds] of Object.entries(expected)) {
      const json = path.join(dir, 'btcv', file);
      const tr = await loadDatalist(json, { key: 'training', validate: false });
      const va = await loadDatalist(json, { key: 'validation', validate: false });
      const te = await loadDatalist(json, { key: 'test', validate: false });
      expect(ids(tr, /img(\d{4})\.nii\.gz$/), file).toEqual(trainIds);
      expect(tr.map((i) => /label(\d{4})/.exec(i.label!)![1])).toEqual(trainIds);
      expect(ids(va, /img(\d{4})\.nii\.gz$/)).toEqual(range(35, 40));
      expect(ids(te, /img(\d{4})\.nii\.gz$/)).toEqual(range(61, 80));
      expect(te[0].image).toBe(path.join(dir, 'btcv', 'imagesTs/img0061.nii.gz'));
      const raw = JSON.parse(readFileSync(json, 'utf8'));
      expect(raw.labels['13']).toBe('lad');
    }
  });
});
