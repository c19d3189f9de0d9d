/**
 * The training loops read tensors only asynchronously (`await t.data()`), so they run on backends that cannot read
 * synchronously, like webgpu in Node (src/backend/webgpu.ts). Here the engine's synchronous read is made to throw
 * (Tensor.dataSync/arraySync/bufferSync all go through it; the backends' own kernels do not) and a short
 * pretraining and fine-tuning run, with validation and checkpoints, must still complete.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type FinetuneConfig, type PretrainConfig } from '../../src/train/config';
import { finetune } from '../../src/train/finetune';
import { pretrain } from '../../src/train/pretrain';
import { tinyData, tinyFinetune, tinyPretrain } from './helpers';

const quiet = { quiet: true, log: () => undefined, backend: 'cpu' as const };
let data: Awaited<ReturnType<typeof tinyData>>['data'];
const root = mkdtempSync(path.join(os.tmpdir(), 'ssl3d-async-'));
let restore: () => void = () => undefined;

beforeAll(async () => {
  data = (await tinyData()).data;
  const engine = tf.engine() as unknown as { readSync: (id: object) => unknown };
  const original = engine.readSync;
  engine.readSync = () => {
    throw new Error('synchronous read (dataSync/arraySync/bufferSync) in a training loop');
  };
  restore = () => (engine.readSync = original);
});
afterAll(() => restore());

describe('training loops without synchronous reads (webgpu-ready)', () => {
  it('the engine refuses synchronous reads in this file', () => {
    expect(() => tf.scalar(1).dataSync()).toThrow(/synchronous read/);
  });
  it('pretraining with validation and checkpoints completes', async () => {
    const cfg = parseConfig(tinyPretrain(data, path.join(root, 'pre'), { max_steps: 4, checkpoint_every_steps: 2 })) as PretrainConfig;
    const { summary } = await pretrain(cfg, quiet);
    expect(summary).toMatchObject({ status: 'completed', steps: 4 });
  });
  it('fine-tuning with sliding-window validation and checkpoints completes', async () => {
    const cfg = parseConfig(tinyFinetune(data, path.join(root, 'fine'), {}, { max_steps: 4, val_every_steps: 2, checkpoint_every_steps: 2 })) as FinetuneConfig;
    const { summary } = await finetune(cfg, quiet);
    expect(summary).toMatchObject({ status: 'completed', steps: 4 });
  });
});
