/**
 * Kill -9 at a random step, then --resume: the run finishes and its final weights are bit-identical to an
 * uninterrupted run with the same seed on the same backend (pretraining and fine-tuning, through the CLI).
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSafetensors } from '../../src/io/checkpoint/safetensors';
import { runCli, tinyData, tinyFinetune, tinyPretrain, writeJson } from './helpers';

function stepsLogged(logdir: string): number {
  const f = path.join(logdir, 'metrics.jsonl');
  if (!existsSync(f)) return 0;
  return readFileSync(f, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"samples_per_s":') && !l.includes('"samples_per_s":null')).length;
}

async function weights(logdir: string): Promise<Map<string, Float32Array>> {
  const { tensors } = await loadSafetensors(path.join(logdir, 'checkpoints', 'last.safetensors'));
  return new Map([...tensors].map(([k, v]) => [k, v.data]));
}

function expectBitIdentical(a: Map<string, Float32Array>, b: Map<string, Float32Array>): void {
  expect([...b.keys()]).toEqual([...a.keys()]);
  for (const [k, v] of a) {
    const w = b.get(k)!;
    expect(Buffer.from(w.buffer, w.byteOffset, w.byteLength).equals(Buffer.from(v.buffer, v.byteOffset, v.byteLength)), k).toBe(true);
  }
}

let root = '';
let data: Awaited<ReturnType<typeof tinyData>>['data'];
beforeAll(async () => {
  ({ dir: root, data } = await tinyData());
});

for (const kind of ['pretrain', 'finetune'] as const) {
  describe(`${kind}: kill -9 and --resume`, () => {
    it('finishes with weights bit-identical to an uninterrupted run', async () => {
      const mk = (name: string) => {
        const logdir = path.join(root, `${kind}_${name}`);
        const cfg = kind === 'pretrain' ? tinyPretrain(data, logdir) : tinyFinetune(data, logdir);
        return { logdir, file: writeJson(path.join(root, `${kind}_${name}.json`), cfg) };
      };
      const a = mk('straight');
      const ra = await runCli([kind, '-c', a.file, '--quiet']);
      expect(ra.code, ra.stderr).toBe(0);

      const b = mk('killed');
      const killAt = 2 + Math.floor(Math.random() * 7); // a random step in 2..8 of 10
      const rb = await runCli([kind, '-c', b.file, '--quiet'], (child) => {
        const timer = setInterval(() => {
          if (stepsLogged(b.logdir) >= killAt) {
            clearInterval(timer);
            child.kill('SIGKILL');
          }
        }, 5);
        child.on('close', () => clearInterval(timer));
      });
      expect(rb.signal, `the run was meant to be killed at step ${killAt}: ${rb.stderr}`).toBe('SIGKILL');
      const rc = await runCli([kind, '-c', b.file, '--quiet', '--resume']);
      expect(rc.code, rc.stderr).toBe(0);
      expectBitIdentical(await weights(a.logdir), await weights(b.logdir));
      const summary = JSON.parse(readFileSync(path.join(b.logdir, 'summary.json'), 'utf8'));
      expect(summary).toMatchObject({ status: 'completed', steps: 10 });
      // metrics.jsonl holds each step once (the steps redone after the checkpoint replace the torn tail)
      const steps = readFileSync(path.join(b.logdir, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .filter((r) => r.samples_per_s !== null)
        .map((r) => r.step);
      expect(steps).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    });
  });
}
