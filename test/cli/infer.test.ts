/** `ssl3d infer` on MONAI-made weights (fixtures: scripts/reference/make_net_fixtures.py) reproduces MONAI's output. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeSafetensors, saveSafetensors } from '../../src/io/checkpoint/safetensors';
import { readNpy, writeNpy } from '../../src/io/npy';
import { runInfer } from '../../src/cli/commands/infer';
import { FIXTURES } from '../helpers/paths';

const DIR = path.join(FIXTURES, 'nets');
const index = JSON.parse(readFileSync(path.join(DIR, 'index.json'), 'utf8'));

describe('ssl3d infer', () => {
  for (const [name, arch] of [
    ['vitautoenc_tiny', 'vitautoenc'],
    ['unetr_tiny', 'unetr'],
  ]) {
    it(`${arch}: output equals MONAI's (safetensors weights, old 'pos_embed' name accepted)`, async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'ssl3d-infer-'));
      const { tensors } = decodeSafetensors(readFileSync(path.join(DIR, `${name}.safetensors`)));
      const input = tensors.get('__input__')!;
      const ref = tensors.get('__output__')!;
      tensors.delete('__input__');
      tensors.delete('__output__');
      const weights = path.join(dir, 'w.safetensors');
      await saveSafetensors(weights, tensors);
      const args = { ...index.cases[name].args };
      args.pos_embed = args.proj_type;
      delete args.proj_type;
      writeFileSync(path.join(dir, 'arch.json'), JSON.stringify(args));
      await writeNpy(path.join(dir, 'x.npy'), input.data, input.shape);
      const shape = await runInfer({ arch, archJson: path.join(dir, 'arch.json'), weights, input: path.join(dir, 'x.npy'), output: path.join(dir, 'y.npy') });
      expect(shape).toEqual(ref.shape);
      const y = await readNpy(path.join(dir, 'y.npy'));
      let m = 0,
        s = 1;
      for (let i = 0; i < y.data.length; i++) {
        m = Math.max(m, Math.abs(y.data[i] - ref.data[i]));
        s = Math.max(s, Math.abs(ref.data[i]));
      }
      expect(m / s).toBeLessThanOrEqual(1e-4);
    });
  }

  it('a checkpoint of the wrong architecture is a clear error', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ssl3d-infer-'));
    const { tensors } = decodeSafetensors(readFileSync(path.join(DIR, 'vitautoenc_tiny.safetensors')));
    const weights = path.join(dir, 'w.safetensors');
    await saveSafetensors(weights, tensors);
    writeFileSync(path.join(dir, 'arch.json'), JSON.stringify(index.cases.unetr_tiny.args));
    await writeNpy(path.join(dir, 'x.npy'), new Float32Array(32 ** 3), [1, 1, 32, 32, 32]);
    await expect(runInfer({ arch: 'unetr', archJson: path.join(dir, 'arch.json'), weights, input: path.join(dir, 'x.npy'), output: path.join(dir, 'y.npy') })).rejects.toThrow(
      /missing from the checkpoint|do not belong/,
    );
  });
});
