/** The CLI end to end (through `main`, as `ssl3d` runs it): output files, JSON output, exit codes and messages. */
import { mkdtempSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main';
import { loadNifti } from '../../src/io/nifti';
import { FIXTURES } from '../helpers/paths';

let out = '';
let err = '';
beforeEach(() => {
  out = '';
  err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
});
afterEach(() => vi.restoreAllMocks());

const run = (...args: string[]) => main(['node', 'ssl3d', ...args]);
const input = (k: string) => path.join(FIXTURES, 'preprocess', 'inputs', `phantom_oblique_${k}.nii.gz`);

describe('ssl3d preprocess', () => {
  it('writes image.nii.gz and label.nii.gz equal to MONAI (finetune-val, oblique phantom)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ssl3d-cli-'));
    expect(await run('preprocess', '--preset', 'finetune-val', '--image', input('image'), '--label', input('label'), '--out-dir', dir)).toBe(0);
    expect(out).toMatch(/wrote .*image\.nii\.gz/);
    const manifest = JSON.parse(readFileSync(path.join(FIXTURES, 'preprocess', 'expected', 'manifest.json'), 'utf8'));
    const entry = manifest.cases.find((c: { case: string; preset: string }) => c.case === 'phantom_oblique' && c.preset === 'finetune-val');
    for (const k of ['image', 'label']) {
      const ours = await loadNifti(path.join(dir, `${k}.nii.gz`));
      const ref = await loadNifti(path.join(FIXTURES, 'preprocess', 'expected', entry.outputs[k].file));
      expect(ours.shape).toEqual(ref.shape);
      let m = 0;
      for (let i = 0; i < ours.data.length; i++) m = Math.max(m, Math.abs(ours.data[i] - ref.data[i]));
      expect(m, k).toBeLessThanOrEqual(1e-4);
      // the written file's affine (float32 in the header) matches MONAI's to 1e-4 mm
      ours.affine.flat().forEach((a, i) => expect(Math.abs(a - entry.outputs[k].affine.flat()[i])).toBeLessThan(1e-4));
    }
    const lab = await loadNifti(path.join(dir, 'label.nii.gz'));
    expect(lab.header.dtype.name).toBe('uint8');
  });

  it('rejects a label whose grid differs from the image, naming both files', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ssl3d-cli-'));
    const other = path.join(FIXTURES, 'nifti', 'dtype_uint8.nii.gz');
    const code = await run('preprocess', '--preset', 'finetune-val', '--image', input('image'), '--label', other, '--out-dir', dir);
    expect(code).toBe(1);
    expect(err).toMatch(/expected shape/);
    expect(err).toMatch(/dtype_uint8\.nii\.gz/);
  });

  it('an unknown preset is a usage error with the list of presets', async () => {
    expect(await run('preprocess', '--preset', 'nope', '--image', input('image'), '--out-dir', '/tmp/x')).toBe(1);
    expect(err).toMatch(/pretrain, finetune-val/);
  });
});

describe('ssl3d info', () => {
  it('--json prints shape, pixdim, datatype, affine and orientation', async () => {
    expect(await run('info', input('image'), '--json')).toBe(0);
    const info = JSON.parse(out);
    expect(info.shape).toEqual([48, 48, 28]);
    expect(info.datatype).toBe('int16');
    expect(info.pixdim.map((p: number) => +p.toFixed(4))).toEqual([2.2, 2.6, 3.4]);
    expect(info.affine).toHaveLength(4);
  });

  it('a missing file exits 1 with a message naming it', async () => {
    expect(await run('info', '/nonexistent/ct.nii.gz')).toBe(1);
    expect(err).toContain('/nonexistent/ct.nii.gz: file not found');
  });
});

describe('ssl3d --help', () => {
  it('lists every command, and each command has its own --help', async () => {
    await run('--help');
    for (const c of ['demo', 'info', 'synth', 'datalist', 'preprocess']) expect(out).toContain(c);
    out = '';
    await run('preprocess', '--help');
    expect(out).toMatch(/--preset/);
  });
});
