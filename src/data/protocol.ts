/** Messages between the loader and its worker threads, and the batch-building step both sides share. */
import type { Data } from '../transforms/core/transform';
import { collate, type Batch } from './collate';
import type { SslDataset } from './dataset';
import { DataLoadError, DataWorkerError } from './errors';

export type ToWorker = { type: 'batch'; id: number; indices: number[]; epoch: number } | { type: 'close' };

export interface SerializedError {
  name: string;
  code?: string;
  message: string;
  path?: string;
  index?: number;
  problem?: string;
  causeName?: string;
}

export type FromWorker =
  | { type: 'batch'; id: number; batch: Batch }
  | { type: 'error'; id: number; error: SerializedError }
  | { type: 'warn'; message: string };

/** Load the samples of the volumes `indices` in `epoch` (one after another) and collate them. */
export async function loadBatch(ds: SslDataset, indices: number[], epoch: number): Promise<Batch> {
  const perVolume: Data[][] = [];
  for (const i of indices) perVolume.push(await ds.get(i, epoch));
  return collate(perVolume, indices);
}

export function serializeError(e: unknown): SerializedError {
  const err = e as Error & Partial<DataLoadError>;
  return {
    name: err?.name ?? 'Error',
    code: (err as { code?: string })?.code,
    message: err?.message ?? String(e),
    path: err?.path,
    index: err?.index,
    problem: err?.problem,
    causeName: err?.causeName,
  };
}

/** Rebuild a typed error on the loader's side. */
export function deserializeError(s: SerializedError): Error {
  if (s.code === 'DATA_LOAD' && s.path !== undefined && s.index !== undefined) {
    return new DataLoadError(s.path, s.index, s.problem ?? s.message, s.causeName);
  }
  return new DataWorkerError(`worker: ${s.name}: ${s.message}`);
}
