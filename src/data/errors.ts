/** Typed errors of the data layer (dataset, cache, loader, worker threads). */
import { Ssl3dError } from '../errors';

/** Loading or preprocessing one datalist item failed; `path` names the item's file(s). */
export class DataLoadError extends Ssl3dError {
  readonly code = 'DATA_LOAD';
  constructor(
    readonly path: string,
    readonly index: number,
    readonly problem: string,
    readonly causeName = 'Error',
  ) {
    super(`${path}: item ${index}: ${problem}`);
  }
}

/** A persistent cache directory or entry cannot be used (not writable, unsupported value to store). */
export class DataCacheError extends Ssl3dError {
  readonly code = 'DATA_CACHE';
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

/** A loader worker thread failed outside of an item (crashed, exited, could not start). */
export class DataWorkerError extends Ssl3dError {
  readonly code = 'DATA_WORKER';
}

/** Samples of one batch cannot be stacked (different shapes or keys). */
export class CollateError extends Ssl3dError {
  readonly code = 'COLLATE';
}
