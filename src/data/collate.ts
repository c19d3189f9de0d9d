/**
 * MONAI's `list_data_collate`: the sample lists of the volumes of a batch are flattened (volume-major: all crops of
 * volume 0, then of volume 1, ...) and each key is stacked into an (N, C, X, Y, Z) float32 array.
 */
import type { Data } from '../transforms/core/transform';
import { isVolume } from './cache';
import { CollateError } from './errors';

/** A stacked batch array in MONAI layout (N, C, X, Y, Z), C-order. */
export interface BatchTensor {
  data: Float32Array;
  shape: number[];
}

/**
 * One batch: each volume key (`image`, `image_2`, `gt_image`, `label`) → BatchTensor; every other key (e.g.
 * `foreground_start_coord`) → the list of per-sample values; `_index` → the dataset index of each sample's volume.
 */
export type Batch = Record<string, BatchTensor | unknown[]>;

export function isBatchTensor(v: unknown): v is BatchTensor {
  return v !== null && typeof v === 'object' && (v as BatchTensor).data instanceof Float32Array && Array.isArray((v as BatchTensor).shape);
}

/** `batch[key]` as a BatchTensor (throws CollateError naming the key otherwise). */
export function batchTensor(batch: Batch, key: string): BatchTensor {
  const v = batch[key];
  if (!isBatchTensor(v)) throw new CollateError(`batch has no array '${key}' (keys: ${Object.keys(batch).join(', ')})`);
  return v;
}

/** Collate the per-volume sample lists `perVolume[i]` (from dataset index `indices[i]`). */
export function collate(perVolume: Data[][], indices: number[]): Batch {
  const samples: Data[] = [];
  const sampleIndex: number[] = [];
  perVolume.forEach((list, i) => {
    for (const s of list) {
      samples.push(s);
      sampleIndex.push(indices[i]);
    }
  });
  if (!samples.length) throw new CollateError('cannot collate an empty batch');
  const out: Batch = {};
  for (const key of Object.keys(samples[0])) {
    const first = samples[0][key];
    if (isVolume(first)) {
      const per = first.data.length;
      const data = new Float32Array(per * samples.length);
      samples.forEach((s, j) => {
        const v = s[key];
        if (!isVolume(v)) throw new CollateError(`sample ${j} (volume ${sampleIndex[j]}): key '${key}' is missing or not an image`);
        if (v.shape.join() !== first.shape.join()) {
          throw new CollateError(
            `key '${key}': sample ${j} (volume ${sampleIndex[j]}) has shape [${v.shape.join(', ')}], sample 0 has [${first.shape.join(', ')}]; ` +
              'crops of one batch must share a shape',
          );
        }
        data.set(v.data, j * per);
      });
      out[key] = { data, shape: [samples.length, ...first.shape] };
    } else {
      out[key] = samples.map((s) => s[key]);
    }
  }
  out._index = sampleIndex;
  return out;
}

/** The ArrayBuffers of a batch's arrays (for a postMessage transfer list). */
export function batchBuffers(b: Batch): ArrayBuffer[] {
  const bufs: ArrayBuffer[] = [];
  for (const v of Object.values(b)) if (isBatchTensor(v)) bufs.push(v.data.buffer as ArrayBuffer);
  return bufs;
}
