/** Data sets, the persistent preprocessing cache, collation and the multi-threaded loader. */
export { SslDataset } from './dataset';
export type { DataItem, DatasetSpec, DatasetStats, PipelineSpec, SslDatasetOptions } from './dataset';
export { DataLoader } from './loader';
export type { DataLoaderOptions } from './loader';
export { collate, batchTensor, isBatchTensor, batchBuffers } from './collate';
export type { Batch, BatchTensor } from './collate';
export {
  CACHE_EXT,
  CACHE_FORMAT_VERSION,
  DiskCache,
  MemoryCache,
  cacheKey,
  decodeEntry,
  deterministicParams,
  encodeEntry,
  itemFiles,
} from './cache';
export { CollateError, DataCacheError, DataLoadError, DataWorkerError } from './errors';
