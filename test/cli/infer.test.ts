/**
 * `ssl3d infer` on MONAI-made weights (fixtures: scripts/reference/make_net_fixtures.py) reproduces MONAI's output,
 * from safetensors and from PyTorch `torch.save` files (bare MONAI 1.6 state dicts and the tutorial's
 * `{"state_dict": ...}` format).
 */
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

/** max |y − ref| / max(1, max |ref|). */
function relDiff(y: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(y.length).toBe(ref.length);
  let m = 0,
    s = 1;
  for (let i = 0; i < y.length; i++) {
    m = Math.max(m, Math.abs(y[i] - ref[i]));
    s = Math.max(s, Math.abs(ref[i]));
  }
  return m / s;
}

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
      expect(relDiff(y.data, ref.data)).toBeLessThanOrEqual(1e-4);
    });

    it(`${arch}: output equals MONAI's (PyTorch .pt weights: torch.save(model.state_dict()), MONAI 1.6 keys)`, async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'ssl3d-infer-'));
      const { tensors } = decodeSafetensors(readFileSync(path.join(DIR, `${name}.safetensors`)));
      const input = tensors.get('__input__')!;
      const ref = tensors.get('__output__')!;
      writeFileSync(path.join(dir, 'arch.json'), JSON.stringify(index.cases[name].args));
      await writeNpy(path.join(dir, 'x.npy'), input.data, input.shape);
      const logs: string[] = [];
      const shape = await runInfer(
        { arch, archJson: path.join(dir, 'arch.json'), weights: path.join(DIR, `${name}.pt`), input: path.join(dir, 'x.npy'), output: path.join(dir, 'y.npy') },
        (s) => logs.push(s),
      );
      expect(shape).toEqual(ref.shape);
      expect(logs.join('\n')).toMatch(/ignored \d+ unused: .*norm_cross_attn/);
      const y = await readNpy(path.join(dir, 'y.npy'));
      expect(relDiff(y.data, ref.data)).toBeLessThanOrEqual(1e-4);
    });
  }

  it("vitautoenc: output equals MONAI's from the tutorial's checkpoint format ({state_dict, optimizer, epoch}, cls_token)", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ssl3d-infer-'));
    const tf = index.tutorial_format;
    const { tensors } = decodeSafetensors(readFileSync(path.join(DIR, tf.reference)));
    const input = tensors.get('__input__')!;
    const ref = tensors.get('__output__')!;
    writeFileSync(path.join(dir, 'arch.json'), JSON.stringify(tf.args));
    await writeNpy(path.join(dir, 'x.npy'), input.data, input.shape);
    const logs: string[] = [];
    const shape = await runInfer(
      { arch: 'vitautoenc', archJson: path.join(dir, 'arch.json'), weights: path.join(FIXTURES, 'checkpoints', 'vitautoenc_tutorial_format.pt'), input: path.join(dir, 'x.npy'), output: path.join(dir, 'y.npy') },
      (s) => logs.push(s),
    );
    expect(shape).toEqual(ref.shape);
    expect(logs.join('\n')).toMatch(/cls_token/);
    const y = await readNpy(path.join(dir, 'y.npy'));
    expect(relDiff(y.data, ref.data)).toBeLessThanOrEqual(1e-4);
  });

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
