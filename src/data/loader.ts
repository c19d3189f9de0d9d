/**
 * The tutorial's `DataLoader(..., collate_fn=list_data_collate)`: batches of `batchSize` volumes, each giving its
 * crops, flattened and stacked to (N, C, X, Y, Z). Batches are built in `worker_threads` (one batch per task, arrays
 * transferred) and prefetched, so a consumer whose step is slower than the pipeline never waits.
 *
 *   const loader = new DataLoader(dataset, { batchSize: 4, shuffle: true, numWorkers: 2 });
 *   for (let e = 0; e < epochs; e++) for await (const batch of loader.epoch(e)) step(batch);
 *   await loader.close();
 *
 * Determinism: the order of epoch e is `Random(deriveSeed(seed, 'shuffle', e)).permutation(n)` and each volume's
 * samples are seeded with `deriveSeed(seed, epoch, index)`, so batches are bit-identical whatever `numWorkers`,
 * `prefetch` or the cache state. The prefetch window runs on into the next epoch, so epoch boundaries do not stall.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { deriveSeed, Random } from '../core/random';
import { ArgumentError } from '../errors';
import type { Batch } from './collate';
import type { SslDataset } from './dataset';
import { DataWorkerError } from './errors';
import { deserializeError, loadBatch, type FromWorker, type ToWorker } from './protocol';

export interface DataLoaderOptions {
  /** Volumes per batch (tutorial: 4 for pretraining, 1 for fine-tuning); default 1. */
  batchSize?: number;
  /** Seeded per-epoch shuffle; default false. */
  shuffle?: boolean;
  /** Drop the last incomplete batch; default false. */
  dropLast?: boolean;
  /** Worker threads; 0 = in-process (on the main thread). Default 0. */
  numWorkers?: number;
  /** Batches requested ahead of the consumer; default max(2, 2 × numWorkers). */
  prefetch?: number;
  /** Seed of the shuffle; default the data set's seed. */
  seed?: number;
  /** Compiled worker script; default `worker.js` beside this file (dist/data/worker.js). */
  workerScript?: string;
}

interface Task {
  epoch: number;
  b: number;
  id: number;
  indices: number[];
  promise: Promise<Batch>;
  resolve: (b: Batch) => void;
  reject: (e: Error) => void;
  started: boolean;
  cancelled: boolean;
}

interface Slot {
  worker: Worker;
  task: Task | null;
  alive: boolean;
  exited: boolean;
}

export class DataLoader {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly prefetch: number;
  readonly seed: number;
  /** Worker threads actually used (0 when the worker script is missing, e.g. under ts sources). */
  readonly numWorkers: number;
  private readonly workerScript: string;
  private slots: Slot[] | null = null;
  private readonly tasks = new Map<string, Task>();
  private queue: Task[] = [];
  private nextId = 1;
  private closed = false;
  private inProcessChain: Promise<unknown> = Promise.resolve();
  /** Seconds the consumer spent waiting in `epoch()` for a batch that was not ready (cumulative). */
  waitSeconds = 0;

  constructor(
    readonly dataset: SslDataset,
    opts: DataLoaderOptions = {},
  ) {
    this.batchSize = opts.batchSize ?? 1;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) throw new ArgumentError(`batchSize must be an integer ≥ 1, got ${opts.batchSize}`);
    this.shuffle = opts.shuffle ?? false;
    this.dropLast = opts.dropLast ?? false;
    this.seed = (opts.seed ?? dataset.seed) >>> 0;
    let nw = opts.numWorkers ?? 0;
    if (!Number.isInteger(nw) || nw < 0) throw new ArgumentError(`numWorkers must be an integer ≥ 0, got ${opts.numWorkers}`);
    this.workerScript = opts.workerScript ?? path.join(__dirname, 'worker.js');
    if (nw > 0 && !existsSync(this.workerScript)) {
      process.emitWarning(`ssl3d DataLoader: no compiled worker script at ${this.workerScript} (running from TypeScript sources?); loading in-process`, {
        code: 'SSL3D_LOADER',
      });
      nw = 0;
    }
    this.numWorkers = nw;
    this.prefetch = opts.prefetch ?? Math.max(2, 2 * nw);
    if (!Number.isInteger(this.prefetch) || this.prefetch < 1) throw new ArgumentError(`prefetch must be an integer ≥ 1, got ${opts.prefetch}`);
  }

  /** The volume order of `epoch`. */
  order(epoch: number): number[] {
    const n = this.dataset.length;
    return this.shuffle ? new Random(deriveSeed(this.seed, 'shuffle', epoch)).permutation(n) : Array.from({ length: n }, (_, i) => i);
  }

  get batchesPerEpoch(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The volume indices of every batch of `epoch`. */
  batchIndices(epoch: number): number[][] {
    const order = this.order(epoch);
    const out: number[][] = [];
    for (let b = 0; b < this.batchesPerEpoch; b++) out.push(order.slice(b * this.batchSize, (b + 1) * this.batchSize));
    return out;
  }

  private startWorkers(): Slot[] {
    if (this.slots) return this.slots;
    const spec = this.dataset.spec();
    this.slots = [];
    for (let i = 0; i < this.numWorkers; i++) {
      const worker = new Worker(this.workerScript, { workerData: { spec } });
      worker.unref();
      const slot: Slot = { worker, task: null, alive: true, exited: false };
      worker.on('message', (m: FromWorker) => this.onMessage(slot, m));
      const fail = (err: Error) => {
        if (!slot.alive) return;
        slot.alive = false;
        const t = slot.task;
        slot.task = null;
        t?.reject(err);
        if (!this.slots!.some((s) => s.alive)) {
          for (const q of this.queue) q.reject(new DataWorkerError(`all loader workers have stopped (${err.message})`));
          this.queue = [];
        }
        this.dispatch();
      };
      worker.on('error', (e) => fail(new DataWorkerError(`loader worker ${i} crashed: ${e.message}`)));
      worker.on('exit', (code) => {
        slot.exited = true;
        fail(new DataWorkerError(`loader worker ${i} exited (code ${code})`));
      });
      this.slots.push(slot);
    }
    return this.slots;
  }

  private onMessage(slot: Slot, m: FromWorker): void {
    if (m.type === 'warn') {
      process.emitWarning(m.message, { code: 'SSL3D_CACHE' });
      return;
    }
    const t = slot.task;
    slot.task = null;
    slot.worker.unref();
    if (t && t.id === m.id) {
      if (m.type === 'batch') t.resolve(m.batch);
      else t.reject(deserializeError(m.error));
    }
    this.dispatch();
  }

  private dispatch(): void {
    if (this.closed) return;
    if (this.numWorkers === 0) return;
    for (const slot of this.startWorkers()) {
      if (!slot.alive || slot.task) continue;
      let t: Task | undefined;
      while ((t = this.queue.shift()) && t.cancelled);
      if (!t) return;
      t.started = true;
      slot.task = t;
      slot.worker.ref();
      const msg: ToWorker = { type: 'batch', id: t.id, indices: t.indices, epoch: t.epoch };
      slot.worker.postMessage(msg);
    }
  }

  private schedule(epoch: number, b: number): void {
    const key = `${epoch}:${b}`;
    if (this.tasks.has(key)) return;
    const indices = this.batchIndices(epoch)[b];
    let resolve!: (x: Batch) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<Batch>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => undefined); // speculative tasks may fail unobserved
    const t: Task = { epoch, b, id: this.nextId++, indices, promise, resolve, reject, started: false, cancelled: false };
    this.tasks.set(key, t);
    if (this.numWorkers === 0) {
      this.inProcessChain = this.inProcessChain.then(async () => {
        if (t.cancelled || this.closed) return t.reject(new DataWorkerError('loader closed or batch cancelled'));
        t.started = true;
        await loadBatch(this.dataset, indices, epoch).then(resolve, reject);
      });
    } else {
      this.queue.push(t);
      this.dispatch();
    }
  }

  /** Keep the next `prefetch` batches from (epoch, b) scheduled, running on into the next epoch. */
  private fill(epoch: number, b: number): void {
    const nb = this.batchesPerEpoch;
    let e = epoch;
    let k = b;
    for (let i = 0; i < this.prefetch; i++) {
      if (k >= nb) {
        e++;
        k = 0;
        if (nb === 0) return;
      }
      this.schedule(e, k);
      k++;
    }
  }

  private cancelWhere(pred: (t: Task) => boolean): void {
    for (const [key, t] of this.tasks) {
      if (!pred(t)) continue;
      t.cancelled = true;
      this.tasks.delete(key);
    }
  }

  /**
   * The batches of `epoch`, in order, from batch `startBatch` on (a resumed run continues mid-epoch with exactly
   * the batches it would have seen). Iterate one epoch at a time.
   */
  async *epoch(epoch: number, startBatch = 0): AsyncGenerator<Batch, void, undefined> {
    if (this.closed) throw new DataWorkerError('DataLoader is closed');
    // Batches prefetched for another epoch than this one (or the next) are of no use.
    this.cancelWhere((t) => t.epoch !== epoch && t.epoch !== epoch + 1);
    const nb = this.batchesPerEpoch;
    try {
      for (let b = startBatch; b < nb; b++) {
        this.fill(epoch, b);
        const key = `${epoch}:${b}`;
        const t = this.tasks.get(key)!;
        const t0 = performance.now();
        let batch: Batch;
        try {
          batch = await t.promise;
        } finally {
          this.waitSeconds += (performance.now() - t0) / 1000;
          this.tasks.delete(key);
        }
        yield batch;
      }
    } finally {
      this.cancelWhere((t) => t.epoch === epoch);
    }
  }

  /** Stop the workers and reject what is pending. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new DataWorkerError('DataLoader closed');
    for (const t of this.tasks.values()) t.reject(err);
    this.tasks.clear();
    this.queue = [];
    const slots = this.slots ?? [];
    await Promise.all(
      slots.map(async (s) => {
        s.alive = false;
        if (s.exited) return;
        const exited = new Promise<void>((res) => s.worker.once('exit', () => res()));
        try {
          s.worker.postMessage({ type: 'close' } satisfies ToWorker);
        } catch {
          /* already gone */
        }
        const timer = setTimeout(() => void s.worker.terminate(), 2000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
