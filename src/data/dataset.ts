/**
 * A data set over datalist items and one of the named pipelines: the deterministic prefix is cached (disk and/or
 * memory, see cache.ts), the random part runs on every access with a seed derived from (seed, epoch, index) only,
 * so a sample does not depend on which worker produced it or in what order.
 */
import { deriveSeed } from '../core/random';
import type { Data } from '../transforms/core/transform';
import { buildPipeline, type Pipeline, type PipelineName, type PipelineParams } from '../transforms/pipelines';
import { cacheKey, DiskCache, MemoryCache, defaultWarn, itemFiles, type WarnFn } from './cache';
import { DataLoadError } from './errors';

/** A datalist item: `{ image, label? }` with resolved paths (what `loadDatalist` returns). */
export type DataItem = Record<string, unknown> & { image: string | string[]; label?: string };

/** What a worker thread needs to rebuild the pipeline: plain JSON, no functions. */
export interface PipelineSpec {
  name: PipelineName;
  params: PipelineParams;
}

export interface SslDatasetOptions {
  /** Folder of the persistent cache of the deterministic prefix; none = no disk cache. */
  cacheDir?: string;
  /** Size of the in-memory LRU of preprocessed volumes, MB; default 0 (off). Per process / worker thread. */
  memoryCacheMB?: number;
  /** Master seed of the random part; default 0. */
  seed?: number;
  /** Where cache warnings (corrupt entries) go; default `process.emitWarning`. */
  warn?: WarnFn;
}

export interface DatasetStats {
  memoryHits: number;
  diskHits: number;
  /** Deterministic prefixes computed (cache misses). */
  computed: number;
}

/** Everything a worker needs to rebuild an identical data set. JSON-serialisable. */
export interface DatasetSpec {
  items: DataItem[];
  pipeline: PipelineSpec;
  cacheDir?: string;
  memoryCacheMB?: number;
  seed: number;
}

export class SslDataset {
  readonly items: DataItem[];
  readonly pipeline: PipelineSpec;
  readonly seed: number;
  readonly cacheDir?: string;
  readonly memoryCacheMB: number;
  readonly stats: DatasetStats = { memoryHits: 0, diskHits: 0, computed: 0 };
  private readonly disk: DiskCache | null;
  private readonly memory: MemoryCache | null;
  private readonly deterministic: Pipeline['deterministic'];
  private readonly inflight = new Map<number, Promise<Data>>();

  constructor(items: DataItem[], pipeline: PipelineSpec | Pipeline, opts: SslDatasetOptions = {}) {
    this.items = items;
    this.pipeline = { name: pipeline.name, params: pipeline.params };
    this.seed = (opts.seed ?? 0) >>> 0;
    this.cacheDir = opts.cacheDir;
    this.memoryCacheMB = opts.memoryCacheMB ?? 0;
    this.disk = opts.cacheDir ? new DiskCache(opts.cacheDir, opts.warn ?? defaultWarn) : null;
    this.memory = this.memoryCacheMB > 0 ? new MemoryCache(this.memoryCacheMB * 1024 * 1024) : null;
    this.deterministic = buildPipeline(this.pipeline.name, this.pipeline.params).deterministic;
  }

  static fromSpec(spec: DatasetSpec, warn?: WarnFn): SslDataset {
    return new SslDataset(spec.items, spec.pipeline, { cacheDir: spec.cacheDir, memoryCacheMB: spec.memoryCacheMB, seed: spec.seed, warn });
  }

  spec(): DatasetSpec {
    return { items: this.items, pipeline: this.pipeline, cacheDir: this.cacheDir, memoryCacheMB: this.memoryCacheMB, seed: this.seed };
  }

  get length(): number {
    return this.items.length;
  }

  /** The item's file(s), for error messages. */
  describe(index: number): string {
    const item = this.items[index];
    return item ? itemFiles(item).join(' + ') || JSON.stringify(item) : `<no item ${index}>`;
  }

  private wrap(index: number, e: unknown): DataLoadError {
    if (e instanceof DataLoadError) return e;
    const err = e as Error;
    return new DataLoadError(this.describe(index), index, err?.message ?? String(e), err?.name ?? 'Error');
  }

  /** The deterministic prefix of item `index` (from memory, disk, or computed and stored). Do not mutate it. */
  async preprocessed(index: number): Promise<Data> {
    if (!Number.isInteger(index) || index < 0 || index >= this.items.length) {
      throw new DataLoadError(`<index ${index}>`, index, `index out of range [0, ${this.items.length})`, 'RangeError');
    }
    const pending = this.inflight.get(index);
    if (pending) return pending;
    const p = this.loadPrefix(index).finally(() => this.inflight.delete(index));
    this.inflight.set(index, p);
    return p;
  }

  private async loadPrefix(index: number): Promise<Data> {
    const item = this.items[index];
    try {
      const key = this.disk || this.memory ? await cacheKey(this.pipeline.name, this.pipeline.params, item) : '';
      const m = this.memory?.get(key);
      if (m) {
        this.stats.memoryHits++;
        return m;
      }
      let d = this.disk ? await this.disk.get(key) : null;
      if (d) this.stats.diskHits++;
      else {
        d = await this.deterministic.one({ ...item });
        this.stats.computed++;
        if (this.disk) await this.disk.put(key, d);
      }
      this.memory?.set(key, d);
      return d;
    } catch (e) {
      throw this.wrap(index, e);
    }
  }

  /**
   * The samples of item `index` in `epoch`: the random part seeded with `deriveSeed(seed, epoch, index)` applied to
   * the cached prefix (a list of `cropsPerVolume` / `samplesPerVolume` dicts; one dict for `finetune-val`).
   */
  async get(index: number, epoch = 0): Promise<Data[]> {
    const pre = await this.preprocessed(index);
    try {
      // A fresh random Compose per call: concurrent calls cannot interleave their generators.
      const random = buildPipeline(this.pipeline.name, this.pipeline.params).random;
      if (!random) return [{ ...pre }];
      random.setRandomState(deriveSeed(this.seed, epoch, index));
      const out = await random.call({ ...pre });
      return Array.isArray(out) ? out : [out];
    } catch (e) {
      throw this.wrap(index, e);
    }
  }
}

