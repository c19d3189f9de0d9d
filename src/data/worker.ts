/**
 * Loader worker thread: rebuilds the data set (pipeline from name + params) from `workerData.spec`, then answers
 * `{ type: 'batch', id, indices, epoch }` with `{ type: 'batch', id, batch }` (array buffers transferred, not copied)
 * or `{ type: 'error', id, error }`. `{ type: 'close' }` ends the thread. Cache warnings go back as `{ type: 'warn' }`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { batchBuffers } from './collate';
import { SslDataset, type DatasetSpec } from './dataset';
import { loadBatch, serializeError, type FromWorker, type ToWorker } from './protocol';

const port = parentPort;
if (port) {
  const post = (m: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);
  const ds = SslDataset.fromSpec((workerData as { spec: DatasetSpec }).spec, (message) => post({ type: 'warn', message }));
  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'close') {
      port.close();
      return;
    }
    loadBatch(ds, msg.indices, msg.epoch).then(
      (batch) => post({ type: 'batch', id: msg.id, batch }, batchBuffers(batch)),
      (e) => post({ type: 'error', id: msg.id, error: serializeError(e) }),
    );
  });
}
