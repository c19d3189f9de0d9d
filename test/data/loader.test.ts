/**
 * Loader tests. Worker threads need the compiled worker script, so this file uses dist/ (built by `npm test`'s
 * pretest); without dist/ the worker tests are skipped and the in-process ones run from the sources.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, promises as fsp } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as srcData from '../../src/data';
import type { Batch, BatchTensor, DataItem } from '../../src/data';
import { loadDatalist } from '../../src/io/datalist';
import { writePhantomSet } from '../../src/synth';
import { pipelineParams } from '../../src/transforms/pipelines';
import { REAL_CT, ROOT } from '../helpers/paths';

const distIndex = path.join(ROOT, 'dist/data/index.js');
const hasDist = existsSync(distIndex) && existsSync(path.join(ROOT, 'dist/data/worker.js'));
const data: typeof srcData = hasDist ? (createRequire(__filename)(distIndex) as typeof srcData) : srcData;
const { SslDataset, DataLoader, DataLoadError, batchTensor } = data;

let dir: string;
let unlabeled: DataItem[];
let labeled: DataItem[];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'ssl3d-loader-'));
  const r = await writePhantomSet({ outDir: path.join(dir, 'ph'), n: 2, unlabeled: 5, seed: 11, preset: 'small', valFraction: 0 });
  unlabeled = (await loadDatalist(r.unlabeledJson, { key: 'training' })) as DataItem[];
  labeled = (await loadDatalist(r.datasetJson, { key: 'training' })) as DataItem[];
});
afterAll(async () => {
  await fsp.rm(dir, { recursive: true, force: true });
});

const PRE = { name: 'pretrain' as const, params: pipelineParams(32) };
const FT = { name: 'finetune' as const, params: pipelineParams(32) };

async function collect(loader: InstanceType<typeof DataLoader>, epochs: number[]): Promise<Batch[]> {
  const out: Batch[] = [];
  try {
    for (const e of epochs) for await (const b of loader.epoch(e)) out.push(b);
  } finally {
    await loader.close();
  }
  return out;
}

function digest(batches: Batch[]): string[] {
  return batches.map((b) =>
    Object.keys(b)
      .filter((k) => !k.startsWith('_') && !k.startsWith('__') && typeof (b[k] as BatchTensor).shape !== 'undefined')
      .sort()
      .map((k) => {
        const t = b[k] as BatchTensor;
        const bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
        return `${k}[${t.shape.join('x')}]:${createHash('sha1').update(bytes).digest('hex')}`;
      })
      .join(' ') + ` idx=${(b._index as number[]).join(',')}`,
  );
}

describe('collate', () => {
  it('pretrain: 2 volumes × 2 crops → (4, 1, 32, 32, 32) for image, image_2, gt_image; dropLast', async () => {
    const ds = new SslDataset(unlabeled, PRE, { seed: 1 });
    const batches = await collect(new DataLoader(ds, { batchSize: 2, dropLast: true }), [0]);
    expect(batches).toHaveLength(2);
    for (const k of ['image', 'image_2', 'gt_image']) {
      expect(batchTensor(batches[0], k).shape).toEqual([4, 1, 32, 32, 32]);
      expect(batchTensor(batches[0], k).data.length).toBe(4 * 32 ** 3);
    }
    expect(batches[0]._index).toEqual([0, 0, 1, 1]);
    const keep = await collect(new DataLoader(ds, { batchSize: 2 }), [0]);
    expect(keep).toHaveLength(3);
    expect(batchTensor(keep[2], 'image').shape).toEqual([2, 1, 32, 32, 32]);
  });

  it('finetune: 1 volume × 4 crops → image and label (4, 1, 32, 32, 32)', async () => {
    const ds = new SslDataset(labeled, FT, { seed: 1 });
    const [b] = await collect(new DataLoader(ds, { batchSize: 1 }), [0]);
    expect(batchTensor(b, 'image').shape).toEqual([4, 1, 32, 32, 32]);
    expect(batchTensor(b, 'label').shape).toEqual([4, 1, 32, 32, 32]);
  });
});

describe('shuffle', () => {
  it('is a seeded permutation per epoch', () => {
    const ds = new SslDataset(unlabeled, PRE, { seed: 9 });
    const a = new DataLoader(ds, { shuffle: true });
    const b = new DataLoader(ds, { shuffle: true });
    expect(a.order(0)).toEqual(b.order(0));
    expect([...a.order(0)].sort()).toEqual([0, 1, 2, 3, 4]);
    const orders = new Set([0, 1, 2, 3, 4, 5].map((e) => a.order(e).join()));
    expect(orders.size).toBeGreaterThan(1);
    expect(new DataLoader(ds, { shuffle: false }).order(3)).toEqual([0, 1, 2, 3, 4]);
    expect(new DataLoader(ds, { shuffle: true, seed: 10 }).order(0).join()).not.toBe(a.order(0).join());
  });
});

describe('determinism', () => {
  it('same seed → bit-identical batches across loaders, numWorkers 0 vs 2, and a restart with a warm cache', async () => {
    const cacheDir = path.join(dir, 'cache-det');
    const opts = { batchSize: 2, shuffle: true };
    const mk = (o: object) => new SslDataset(unlabeled, PRE, { seed: 42, ...o });
    const ref = digest(await collect(new DataLoader(mk({}), { ...opts, numWorkers: 0 }), [0, 1]));
    expect(ref).toHaveLength(6);
    expect(digest(await collect(new DataLoader(mk({}), { ...opts, numWorkers: 0 }), [0, 1]))).toEqual(ref);
    const cold = mk({ cacheDir });
    expect(digest(await collect(new DataLoader(cold, { ...opts, numWorkers: 0 }), [0, 1]))).toEqual(ref);
    expect(cold.stats.computed).toBe(5);
    const warm = mk({ cacheDir, memoryCacheMB: 256 });
    expect(digest(await collect(new DataLoader(warm, { ...opts, numWorkers: 0 }), [0, 1]))).toEqual(ref);
    expect(warm.stats).toEqual({ computed: 0, diskHits: 5, memoryHits: 5 });
    if (hasDist) {
      const w = new DataLoader(mk({ cacheDir }), { ...opts, numWorkers: 2, prefetch: 3 });
      expect(w.numWorkers).toBe(2);
      expect(digest(await collect(w, [0, 1]))).toEqual(ref);
      const wCold = new DataLoader(mk({ cacheDir: path.join(dir, 'cache-det-2') }), { ...opts, numWorkers: 2 });
      expect(digest(await collect(wCold, [0, 1]))).toEqual(ref);
    }
    const other = digest(await collect(new DataLoader(new SslDataset(unlabeled, PRE, { seed: 43 }), { ...opts }), [0, 1]));
    expect(other).not.toEqual(ref);
    expect(ref.slice(0, 3)).not.toEqual(ref.slice(3)); // epochs differ
  });

  it.skipIf(!hasDist)('a separate process with the warm disk cache produces the same batches (process restart)', async () => {
    const cacheDir = path.join(dir, 'cache-restart');
    const mk = () => new SslDataset(unlabeled, PRE, { seed: 42, cacheDir });
    const ref = digest(await collect(new DataLoader(mk(), { batchSize: 2, shuffle: true }), [0, 1]));
    // a fresh Node process: nothing shared with this one but the files in cacheDir
    const script = path.join(dir, 'restart.cjs');
    await fsp.writeFile(
      script,
      `const { createHash } = require('node:crypto');
const data = require(${JSON.stringify(distIndex)});
const { pipelineParams } = require(${JSON.stringify(path.join(ROOT, 'dist/transforms/pipelines.js'))});
(async () => {
  const items = JSON.parse(process.argv[2]);
  const ds = new data.SslDataset(items, { name: 'pretrain', params: pipelineParams(32) }, { seed: 42, cacheDir: process.argv[3] });
  const loader = new data.DataLoader(ds, { batchSize: 2, shuffle: true, numWorkers: 2 });
  const out = [];
  for (const e of [0, 1]) for await (const b of loader.epoch(e)) {
    out.push(Object.keys(b).filter((k) => !k.startsWith('_') && b[k] && b[k].shape).sort().map((k) => {
      const t = b[k];
      return k + '[' + t.shape.join('x') + ']:' + createHash('sha1').update(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)).digest('hex');
    }).join(' ') + ' idx=' + b._index.join(','));
  }
  await loader.close();
  process.stdout.write(JSON.stringify({ digests: out, stats: ds.stats }));
})();
`,
    );
    const { execFileSync } = await import('node:child_process');
    const res = JSON.parse(execFileSync(process.execPath, [script, JSON.stringify(unlabeled), cacheDir]).toString());
    expect(res.digests).toEqual(ref);
  });

  it.skipIf(!hasDist)('finetune with workers matches in-process', async () => {
    const mk = () => new SslDataset(labeled, FT, { seed: 3, cacheDir: path.join(dir, 'cache-ft') });
    const a = digest(await collect(new DataLoader(mk(), { shuffle: true, numWorkers: 0 }), [0, 1]));
    const b = digest(await collect(new DataLoader(mk(), { shuffle: true, numWorkers: 2 }), [0, 1]));
    expect(b).toEqual(a);
  });

  it.skipIf(!REAL_CT.available)('real CT, finetune with pad-to-patch: 4 crops of 32³', async () => {
    const ds = new SslDataset([{ image: REAL_CT.image, label: REAL_CT.label }], { name: 'finetune', params: pipelineParams(32, { finetunePadToPatch: true }) }, { seed: 0 });
    const [b] = await collect(new DataLoader(ds, {}), [0]);
    expect(batchTensor(b, 'image').shape).toEqual([4, 1, 32, 32, 32]);
  });
});

describe('errors', () => {
  for (const numWorkers of hasDist ? [0, 2] : [0]) {
    it(`a missing or corrupt file fails the batch with a DataLoadError naming it (numWorkers ${numWorkers})`, async () => {
      const bad = path.join(dir, `bad${numWorkers}.nii.gz`);
      await fsp.writeFile(bad, Buffer.from('not a nifti'));
      const missing = path.join(dir, 'missing.nii.gz');
      for (const file of [missing, bad]) {
        const ds = new SslDataset([unlabeled[0], { image: file }], PRE, { seed: 0 });
        const loader = new DataLoader(ds, { numWorkers });
        const seen: Batch[] = [];
        const err = await (async () => {
          for await (const b of loader.epoch(0)) seen.push(b);
        })().catch((e: Error) => e);
        await loader.close();
        expect(seen).toHaveLength(1);
        expect(err).toBeInstanceOf(DataLoadError);
        expect((err as Error).message).toContain(file);
        expect((err as InstanceType<typeof DataLoadError>).index).toBe(1);
      }
    });
  }

  it.skipIf(!hasDist)('close() stops the workers mid-epoch and later use fails cleanly', async () => {
    const loader = new DataLoader(new SslDataset(unlabeled, PRE, { seed: 0 }), { numWorkers: 2, prefetch: 4 });
    for await (const b of loader.epoch(0)) {
      expect(batchTensor(b, 'image').shape[0]).toBe(2);
      break;
    }
    await loader.close();
    await loader.close();
    await expect(loader.epoch(1).next()).rejects.toThrow(/closed/);
  });
});
