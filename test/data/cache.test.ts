import { execFile } from 'node:child_process';
import { promises as fsp, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Volume } from '../../src/core/volume';
import { cacheKey, decodeEntry, DiskCache, encodeEntry, MemoryCache } from '../../src/data/cache';
import { DataLoadError } from '../../src/data/errors';
import { SslDataset, type DataItem } from '../../src/data/dataset';
import { loadDatalist } from '../../src/io/datalist';
import { writePhantomSet } from '../../src/synth';
import { pipelineParams } from '../../src/transforms/pipelines';
import { ROOT } from '../helpers/paths';

const run = promisify(execFile);
let dir: string;
let unlabeled: DataItem[];
let labeled: DataItem[];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'ssl3d-cache-'));
  const r = await writePhantomSet({ outDir: path.join(dir, 'ph'), n: 2, unlabeled: 2, seed: 7, preset: 'small', valFraction: 0 });
  unlabeled = (await loadDatalist(r.unlabeledJson, { key: 'training' })) as DataItem[];
  labeled = (await loadDatalist(r.datasetJson, { key: 'training' })) as DataItem[];
});
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

const vol = (n: number, seed: number): Volume => {
  const data = new Float32Array(n * 8);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37 + seed) * 1e3 + (i % 7 === 0 ? -0 : 0.5e-7 * i);
  data[3] = NaN;
  return { data, shape: [1, 2, 4, n], affine: [[1.5, 0, 0, -10], [0, 2, 0, 3], [0, 0, 2.5, 7.25], [0, 0, 0, 1]] };
};

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

describe('cache entry format', () => {
  it('round-trips volumes bit for bit, with shapes, affines and extra fields', () => {
    const d = { image: vol(5, 1), label: vol(5, 2), foreground_start_coord: [1, 2, 3], name: 'x' };
    const r = decodeEntry(encodeEntry('k', d), 'k');
    if (!('data' in r)) throw new Error(r.problem);
    const img = r.data.image as Volume;
    expect(sameBits(img.data, d.image.data)).toBe(true);
    expect(sameBits((r.data.label as Volume).data, d.label.data)).toBe(true);
    expect(img.shape).toEqual(d.image.shape);
    expect(img.affine).toEqual(d.image.affine);
    expect(r.data.foreground_start_coord).toEqual([1, 2, 3]);
    expect(r.data.name).toBe('x');
  });

  it('detects truncation, flipped bytes and a wrong key', () => {
    const buf = encodeEntry('k', { image: vol(9, 3) });
    expect('problem' in decodeEntry(buf.subarray(0, buf.length - 1), 'k')).toBe(true);
    const flipped = Buffer.from(buf);
    flipped[flipped.length - 5] ^= 0x40;
    expect((decodeEntry(flipped, 'k') as { problem: string }).problem).toMatch(/checksum/);
    expect((decodeEntry(buf, 'other') as { problem: string }).problem).toMatch(/key/);
    expect((decodeEntry(Buffer.from('garbage!garbage!'), 'k') as { problem: string }).problem).toMatch(/magic/);
  });

  it('memory LRU evicts the least recently used entry beyond its byte limit', () => {
    const m = new MemoryCache(2 * 40 * 4 + 1);
    m.set('a', { image: vol(5, 0) });
    m.set('b', { image: vol(5, 1) });
    m.get('a');
    m.set('c', { image: vol(5, 2) });
    expect(m.get('b')).toBeUndefined();
    expect(m.get('a')).toBeDefined();
    expect(m.get('c')).toBeDefined();
  });
});

describe('cache key', () => {
  it('changes with the deterministic params and the file mtime, not with random-part params', async () => {
    const item = unlabeled[0];
    const p = pipelineParams(32);
    const k0 = await cacheKey('pretrain', p, item);
    expect(await cacheKey('pretrain', p, item)).toBe(k0);
    expect(await cacheKey('pretrain', { ...p, pretrainWindow: [-50, 164] }, item)).not.toBe(k0);
    expect(await cacheKey('pretrain', { ...p, pretrainPixdim: [2, 2, 2.5] }, item)).not.toBe(k0);
    expect(await cacheKey('pretrain', pipelineParams(48), item)).not.toBe(k0); // pad size
    expect(await cacheKey('pretrain', { ...p, shuffle: { ...p.shuffle, prob: 0.5 } }, item)).toBe(k0);
    expect(await cacheKey('finetune-val', p, item)).not.toBe(k0);
    const f = item.image as string;
    const st = await fsp.stat(f);
    await fsp.utimes(f, st.atime, new Date(st.mtimeMs + 5000));
    try {
      expect(await cacheKey('pretrain', p, item)).not.toBe(k0);
    } finally {
      await fsp.utimes(f, st.atime, st.mtime);
    }
  });
});

describe('SslDataset with a disk cache', () => {
  it('gives bit-identical samples cold, warm (restart) and from memory; the cache holds the prefix', async () => {
    const cacheDir = path.join(dir, 'c1');
    const spec = { name: 'finetune' as const, params: pipelineParams(32) };
    const cold = new SslDataset(labeled, spec, { cacheDir, seed: 5 });
    const a = await cold.get(1, 3);
    expect(cold.stats.computed).toBe(1);
    const files = (await fsp.readdir(cacheDir)).filter((f) => f.endsWith('.s3c'));
    expect(files).toHaveLength(1);
    const warm = new SslDataset(labeled, spec, { cacheDir, seed: 5, memoryCacheMB: 64 });
    const b = await warm.get(1, 3);
    const c = await warm.get(1, 3);
    expect(warm.stats).toEqual({ memoryHits: 1, diskHits: 1, computed: 0 });
    expect(a).toHaveLength(4);
    for (const other of [b, c]) {
      for (let s = 0; s < 4; s++) {
        for (const k of ['image', 'label']) expect(sameBits((a[s][k] as Volume).data, (other[s][k] as Volume).data)).toBe(true);
      }
    }
    // preprocessed prefix round-trips bit for bit
    const pre = await new SslDataset(labeled, spec, {}).preprocessed(1);
    const cached = await warm.preprocessed(1);
    expect(sameBits((pre.image as Volume).data, (cached.image as Volume).data)).toBe(true);
    expect(sameBits((pre.label as Volume).data, (cached.label as Volume).data)).toBe(true);
    expect((cached.image as Volume).affine).toEqual((pre.image as Volume).affine);
    expect(cached.foreground_start_coord).toEqual(pre.foreground_start_coord);
    // different epoch or seed → different samples
    const d = await warm.get(1, 4);
    expect(sameBits((a[0].image as Volume).data, (d[0].image as Volume).data)).toBe(false);
  });

  it('deletes a corrupt entry with a warning and rebuilds it', async () => {
    const cacheDir = path.join(dir, 'c2');
    const spec = { name: 'pretrain' as const, params: pipelineParams(32) };
    const first = await new SslDataset(unlabeled, spec, { cacheDir, seed: 1 }).get(0, 0);
    const [file] = (await fsp.readdir(cacheDir)).filter((f) => f.endsWith('.s3c'));
    const full = path.join(cacheDir, file);
    for (const damage of ['truncate', 'flip']) {
      const buf = await fsp.readFile(full);
      if (damage === 'truncate') await fsp.writeFile(full, buf.subarray(0, buf.length >> 1));
      else {
        buf[buf.length - 100] ^= 0xff;
        await fsp.writeFile(full, buf);
      }
      const warnings: string[] = [];
      const ds = new SslDataset(unlabeled, spec, { cacheDir, seed: 1, warn: (m) => warnings.push(m) });
      const again = await ds.get(0, 0);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(damage === 'truncate' ? /size mismatch/ : /checksum/);
      expect(ds.stats.computed).toBe(1);
      expect(sameBits((again[1].image as Volume).data, (first[1].image as Volume).data)).toBe(true);
      const fixed = decodeEntry(await fsp.readFile(full));
      expect('data' in fixed).toBe(true);
    }
  });

  it('two processes writing the same key concurrently leave a valid entry; readers never see a partial file', async () => {
    const cacheDir = path.join(dir, 'c3');
    const script = path.join(dir, 'writer.cjs');
    // The children use the compiled cache (dist/) when present, otherwise skip: the test relies on npm test's build.
    const distCache = path.join(ROOT, 'dist/data/cache.js');
    const exists = await fsp.stat(distCache).then(() => true, () => false);
    if (!exists) return;
    writeFileSync(
      script,
      `const { DiskCache } = require(${JSON.stringify(distCache)});
const fill = Number(process.argv[2]);
const data = new Float32Array(2_000_000).fill(fill);
const c = new DiskCache(${JSON.stringify(cacheDir)});
(async () => { for (let i = 0; i < 15; i++) await c.put('samekey', { image: { data, shape: [1, 100, 100, 200], affine: [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]] }, who: fill }); })();
`,
    );
    const reader = new DiskCache(cacheDir, (m) => {
      throw new Error(`reader saw a bad entry: ${m}`);
    });
    let reads = 0;
    let stop = false;
    const poll = (async () => {
      while (!stop) {
        const d = await reader.get('samekey');
        if (d) {
          const v = d.image as Volume;
          expect(v.data[0]).toBe(d.who);
          expect(v.data[v.data.length - 1]).toBe(d.who);
          reads++;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await Promise.all([run(process.execPath, [script, '1']), run(process.execPath, [script, '2'])]);
    stop = true;
    await poll;
    const final = await reader.get('samekey');
    expect(final).not.toBeNull();
    expect([1, 2]).toContain(final!.who);
    expect((await fsp.readdir(cacheDir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(reads).toBeGreaterThan(0);
  });

  it('names the file when a volume is missing or corrupt', async () => {
    const bad = path.join(dir, 'corrupt.nii.gz');
    await fsp.writeFile(bad, Buffer.from('this is not a nifti file at all'));
    const missing = path.join(dir, 'nope', 'missing.nii.gz');
    const ds = new SslDataset([{ image: missing }, { image: bad }], { name: 'pretrain', params: pipelineParams(32) }, { cacheDir: path.join(dir, 'c4') });
    await expect(ds.get(0, 0)).rejects.toThrow(DataLoadError);
    await expect(ds.get(0, 0)).rejects.toThrow(missing);
    await expect(ds.get(1, 0)).rejects.toThrow(bad);
    const e = (await ds.get(1, 0).catch((x: unknown) => x)) as DataLoadError;
    expect(e.code).toBe('DATA_LOAD');
    expect(e.index).toBe(1);
  });
});
