/** `ssl3d preview` and `ssl3d augment` end to end (through `main`) on a small synthetic phantom, patch 32. */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main';
import { decodeNpy } from '../../src/io/npy';
import { writePhantomSet } from '../../src/synth';
import { decodePng } from '../../src/viz';

let out = '';
let err = '';
beforeEach(() => {
  out = '';
  err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
});
afterEach(() => vi.restoreAllMocks());

const run = (...args: string[]) => main(['node', 'ssl3d', ...args]);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ssl3d-pa-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let image = '';
let label = '';
let unlabeled = '';
beforeAll(async () => {
  const r = await writePhantomSet({ outDir: path.join(tmp, 'data'), n: 1, unlabeled: 1, seed: 0, preset: 'small' });
  const lab = r.manifest.volumes.find((v) => v.kind === 'labeled')!;
  const unl = r.manifest.volumes.find((v) => v.kind === 'unlabeled')!;
  image = path.join(tmp, 'data', lab.image);
  label = path.join(tmp, 'data', lab.label!);
  unlabeled = path.join(tmp, 'data', unl.image);
});

const P = '32';

describe('ssl3d preview', () => {
  it('pretrain PNG: 3 rows (original, view 1, view 2) × N slices of 32² tiles', async () => {
    const f = path.join(tmp, 'pre.png');
    expect(await run('preview', '--preset', 'pretrain', '--image', unlabeled, '--patch', P, '--slices', '5', '--seed', '1', '--scale', '2', '--out', f), err).toBe(0);
    expect(out).toContain(`wrote ${f}`);
    expect(out).toContain('Original patch / Augmented view 1 / Augmented view 2');
    const png = decodePng(readFileSync(f));
    // gap 2 px around and between 64-px tiles
    expect([png.width, png.height]).toEqual([2 + 5 * (64 + 2), 2 + 3 * (64 + 2)]);
    // the separators are grey, the tiles are not all one value
    expect(Array.from(png.data.subarray(0, 4))).toEqual([128, 128, 128, 255]);
    const greys = new Set<number>();
    for (let i = 0; i < png.data.length; i += 4) greys.add(png.data[i]);
    expect(greys.size).toBeGreaterThan(20);
  });

  it('finetune HTML (image + label rows) and plotly JSON; default scale gives ~192-px tiles', async () => {
    const h = path.join(tmp, 'ft.html');
    expect(await run('preview', '--preset', 'finetune', '--image', image, '--label', label, '--patch', P, '--out', h), err).toBe(0);
    const html = readFileSync(h, 'utf8');
    expect(html).toMatch(/data:image\/png;base64,/);
    expect(html).toContain('Image crop');
    expect(html).toContain('Label crop');
    const b64 = /base64,([^"]+)"/.exec(html)![1];
    const png = decodePng(Buffer.from(b64, 'base64'));
    expect([png.width, png.height]).toEqual([2 + 9 * (192 + 2), 2 + 2 * (192 + 2)]);
    const j = path.join(tmp, 'ft.json');
    expect(await run('preview', '--preset', 'finetune', '--image', image, '--label', label, '--patch', P, '--slices', '3', '--out', j)).toBe(0);
    const spec = JSON.parse(readFileSync(j, 'utf8'));
    expect(spec.data).toHaveLength(6);
    expect(spec.data[0].z).toHaveLength(32);
  });

  it('usage errors: bad extension, finetune without label, pretrain with label', async () => {
    expect(await run('preview', '--preset', 'pretrain', '--image', unlabeled, '--patch', P, '--out', path.join(tmp, 'x.jpg'))).toBe(1);
    expect(err).toMatch(/\.png, \.html or \.json/);
    expect(await run('preview', '--preset', 'finetune', '--image', image, '--patch', P, '--out', path.join(tmp, 'x.png'))).toBe(1);
    expect(err).toMatch(/needs --label/);
    expect(await run('preview', '--preset', 'pretrain', '--image', image, '--label', label, '--patch', P, '--out', path.join(tmp, 'x.png'))).toBe(1);
    expect(err).toMatch(/has no label/);
  });
});

type Line = { index: number; volume: string; seed: number; call: number; files: Record<string, string>; draws: Array<{ transform: string }> };
const lines = (dir: string): Line[] =>
  readFileSync(path.join(dir, 'samples.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
const bytesOf = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(path.join(dir, f))]));

describe('ssl3d augment', () => {
  it('pretrain: N samples of image, image_2, gt_image as float32 (1, 32, 32, 32) + jsonl with the draws', async () => {
    const dir = path.join(tmp, 'aug-pre');
    expect(await run('augment', '--preset', 'pretrain', '--image', unlabeled, '--n', '3', '--seed', '7', '--patch', P, '--out-dir', dir, '--quiet'), err).toBe(0);
    expect(err).toBe('');
    expect(readdirSync(dir).sort()).toEqual([
      ...['0000', '0001', '0002'].flatMap((s) => [`${s}_gt_image.npy`, `${s}_image.npy`, `${s}_image_2.npy`]),
      'samples.jsonl',
    ]);
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.npy'))) {
      const a = decodeNpy(readFileSync(path.join(dir, f)), f);
      expect(a.shape, f).toEqual([1, 32, 32, 32]);
    }
    const L = lines(dir);
    expect(L.map((l) => l.index)).toEqual([0, 1, 2]);
    expect(L.map((l) => l.call)).toEqual([0, 0, 1]); // 2 crops per call
    expect(L[0].volume).toBe(unlabeled);
    expect(L[0].seed).toBe(7);
    expect(L[2].files).toEqual({ image: '0002_image.npy', image_2: '0002_image_2.npy', gt_image: '0002_gt_image.npy' });
    const kinds = L[0].draws.map((d) => d.transform);
    expect(kinds[0]).toBe('RandSpatialCropSamplesd');
    expect(kinds.filter((k) => k === 'OneOf')).toHaveLength(2);
    expect(kinds).toContain('RandCoarseShuffled');
    // gt_image is the clean crop; the views differ from it
    const gt = decodeNpy(readFileSync(path.join(dir, '0000_gt_image.npy'))).data;
    const v1 = decodeNpy(readFileSync(path.join(dir, '0000_image.npy'))).data;
    expect(Buffer.from(gt.buffer).equals(Buffer.from(v1.buffer))).toBe(false);
  });

  it('same seed → identical bytes; different seed → different samples', async () => {
    const args = (seed: string, d: string) => ['augment', '--preset', 'pretrain', '--image', unlabeled, '--n', '2', '--seed', seed, '--patch', P, '--out-dir', d, '--quiet'];
    const [a, b, c] = ['s1a', 's1b', 's2'].map((s) => path.join(tmp, s));
    expect(await run(...args('1', a))).toBe(0);
    expect(await run(...args('1', b))).toBe(0);
    expect(await run(...args('2', c))).toBe(0);
    const A = bytesOf(a);
    const B = bytesOf(b);
    const Cc = bytesOf(c);
    expect(Object.keys(A)).toEqual(Object.keys(B));
    for (const k of Object.keys(A)) {
      if (k === 'samples.jsonl') continue; // compared below
      expect(A[k].equals(B[k]), k).toBe(true);
    }
    expect(A['samples.jsonl'].equals(B['samples.jsonl'])).toBe(true);
    expect(A['0000_image.npy'].equals(Cc['0000_image.npy'])).toBe(false);
    expect(lines(a)[0].draws).not.toEqual(lines(c)[0].draws);
  });

  it('finetune: image + label per sample, 4 per call, flips/rot90/shift draws', async () => {
    const dir = path.join(tmp, 'aug-ft');
    expect(await run('augment', '--preset', 'finetune', '--image', image, '--label', label, '--n', '5', '--seed', '3', '--patch', P, '--out-dir', dir), err).toBe(0);
    const L = lines(dir);
    expect(L).toHaveLength(5);
    expect(L.map((l) => l.call)).toEqual([0, 0, 0, 0, 1]);
    expect(L[4].files).toEqual({ image: '0004_image.npy', label: '0004_label.npy' });
    const kinds = L[0].draws.map((d) => d.transform);
    expect(kinds).toEqual(['RandCropByPosNegLabeld', 'RandFlipd', 'RandFlipd', 'RandFlipd', 'RandRotate90d', 'RandShiftIntensityd']);
    const lab = decodeNpy(readFileSync(path.join(dir, '0000_label.npy')));
    expect(lab.shape).toEqual([1, 32, 32, 32]);
    expect(lab.data.every((v) => Number.isInteger(v))).toBe(true);
    expect(existsSync(path.join(dir, 'samples.jsonl'))).toBe(true);
  });

  it('--help lists both commands', async () => {
    await run('--help');
    expect(out).toContain('preview');
    expect(out).toContain('augment');
  });
});
