/** PyTorch `torch.save` reader (fixtures: scripts/reference/make_checkpoint_fixtures.py, torch 2.13 + MONAI 1.6.1). */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CheckpointError, decodeSafetensors, loadSafetensors, type StateDict } from '../../src/io/checkpoint/safetensors';
import { decodeTorchCheckpoint, loadTorchCheckpoint } from '../../src/io/checkpoint/torch';
import { PyObject, unpickle } from '../../src/io/checkpoint/pickle';
import { main } from '../../src/cli/main';
import { FIXTURES } from '../helpers/paths';

const DIR = path.join(FIXTURES, 'checkpoints');
const fx = (name: string) => path.join(DIR, name);
const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'ssl3d-pt-'));

/** The same names in the same order, shapes, and bitwise-equal float32 values. */
function expectSame(got: StateDict, want: { tensors: StateDict; order: string[] }): void {
  expect([...got.keys()]).toEqual(want.order);
  expect(new Set(want.tensors.keys())).toEqual(new Set(want.order));
  for (const [k, w] of want.tensors) {
    const g = got.get(k)!;
    expect(g.shape, k).toEqual(w.shape);
    expect(g.data.length, k).toBe(w.data.length);
    // bitwise equality (NaN-free fixtures)
    expect(Buffer.from(g.data.buffer, g.data.byteOffset, g.data.byteLength).equals(Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength)), k).toBe(true);
  }
}

/** The reference tensors; safetensors' writer sorts them, so the checkpoint's key order is in metadata 'order'. */
function expected(name: string): { tensors: StateDict; order: string[] } {
  const { tensors, metadata } = decodeSafetensors(readFileSync(fx(`${name}.expected.safetensors`)));
  return { tensors, order: JSON.parse(metadata.order) as string[] };
}

describe('loadTorchCheckpoint', () => {
  it("tutorial format {epoch, state_dict, optimizer}: MONAI 0.8 keys incl. cls_token, epoch in extra", async () => {
    const ck = await loadTorchCheckpoint(fx('vitautoenc_tutorial_format.pt'));
    expectSame(ck.tensors, expected('vitautoenc_tutorial_format'));
    expect(ck.extra).toEqual({ epoch: 500 });
    expect(ck.skipped).toEqual(['optimizer']);
    const keys = [...ck.tensors.keys()];
    expect(keys.slice(0, 4)).toEqual([
      'patch_embedding.position_embeddings',
      'patch_embedding.cls_token',
      'patch_embedding.patch_embeddings.weight',
      'patch_embedding.patch_embeddings.bias',
    ]);
    expect(ck.tensors.get('patch_embedding.cls_token')!.shape).toEqual([1, 1, 16]);
    expect(keys.some((k) => k.includes('cross_attn'))).toBe(false);
    expect(keys.at(-1)).toBe('conv3d_transpose_1.bias');
  });

  it('bare MONAI 1.6 ViTAutoEnc state dict (with cross_attn keys)', async () => {
    const ck = await loadTorchCheckpoint(fx('vitautoenc_monai16.pt'));
    expectSame(ck.tensors, expected('vitautoenc_monai16'));
    expect(ck.extra).toEqual({});
    expect(ck.skipped).toEqual([]);
    // MONAI 1.6.1 keeps only norm_cross_attn.{weight,bias} per block (1.4/1.5 also had cross_attn.* weights)
    expect([...ck.tensors.keys()].filter((k) => k.includes('cross_attn'))).toEqual([
      'blocks.0.norm_cross_attn.weight',
      'blocks.0.norm_cross_attn.bias',
      'blocks.1.norm_cross_attn.weight',
      'blocks.1.norm_cross_attn.bias',
    ]);
  });

  it('deflated zip entries', async () => {
    const ck = await loadTorchCheckpoint(fx('vitautoenc_monai16_deflated.pt'));
    expectSame(ck.tensors, expected('vitautoenc_monai16'));
  });

  it('bare UNETR state dict (fine-tuned checkpoint layout)', async () => {
    const ck = await loadTorchCheckpoint(fx('unetr_bare.pt'));
    expectSame(ck.tensors, expected('unetr_bare'));
    expect(ck.tensors.get('vit.patch_embedding.patch_embeddings.weight')!.shape).toEqual([8, 1, 16, 16, 16]);
    expect(ck.tensors.get('out.conv.conv.weight')!.shape).toEqual([3, 1, 1, 1, 1]);
  });

  it('f64/f16/bf16/int/bool dtypes, non-contiguous and expanded views, shared storages, 0-d and empty tensors, Parameter', async () => {
    const ck = await loadTorchCheckpoint(fx('dtypes_views.pt'));
    expectSame(ck.tensors, expected('dtypes_views'));
    expect(ck.extra).toEqual({ epoch: 7, note: 'dtypes', lr: 0.001 });
    expect(ck.skipped).toEqual(['flags', 'nothing']);
    const t = ck.tensors;
    expect(t.get('i64')!.data[3]).toBe(2 ** 40);
    expect([...t.get('bool')!.data]).toEqual([1, 0, 1]);
    expect(t.get('transposed')!.shape).toEqual([5, 3]);
    expect([...t.get('expanded')!.data]).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]);
    expect(t.get('scalar')).toEqual({ shape: [], data: new Float32Array([3.5]) });
    expect(t.get('empty')!.shape).toEqual([0, 3]);
    // overlapping views of one storage
    expect(t.get('shared_a')!.data.subarray(4, 6)).toEqual(t.get('shared_b')!.data.subarray(0, 2));
  });

  describe('errors name the file', () => {
    const bad = async (file: string, re: RegExp) => {
      const err = await loadTorchCheckpoint(file).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CheckpointError);
      expect((err as CheckpointError).path).toBe(file);
      expect((err as Error).message).toContain(file);
      expect((err as Error).message).toMatch(re);
    };

    it('random bytes', async () => {
      const f = path.join(tmp(), 'random.pt');
      const b = Buffer.alloc(1000);
      for (let i = 0; i < b.length; i++) b[i] = (i * 7919 + 13) & 0xff;
      writeFileSync(f, b);
      await bad(f, /not a PyTorch checkpoint/);
    });

    it('missing file', async () => bad(path.join(tmp(), 'nope.pt'), /file not found/));

    it('legacy (pre-1.6) format, with a re-save hint', async () => bad(fx('legacy.pt'), /legacy \(pre-1\.6\).*re-save it with torch >= 1\.6/i));

    it('truncated at several points', async () => {
      const full = readFileSync(fx('vitautoenc_monai16.pt'));
      const dir = tmp();
      for (const frac of [0.1, 0.5, 0.9, 0.999]) {
        const f = path.join(dir, `trunc_${frac}.pt`);
        writeFileSync(f, full.subarray(0, Math.floor(full.length * frac)));
        await bad(f, /truncated/);
      }
    });

    it('a zip without data.pkl', async () => {
      // Rename data.pkl inside the archive (same length, so the zip stays valid).
      const full = Buffer.from(readFileSync(fx('vitautoenc_monai16.pt')));
      let i: number;
      while ((i = full.indexOf('/data.pkl')) >= 0) full.write('/data.pkx', i, 'latin1');
      const f = path.join(tmp(), 'nopkl.pt');
      writeFileSync(f, full);
      await bad(f, /no data\.pkl/);
    });

    it('a missing storage entry', async () => {
      const full = Buffer.from(readFileSync(fx('dtypes_views.pt')));
      let i: number;
      while ((i = full.indexOf('dtypes_views/data/0')) >= 0) full.write('dtypes_views/dat_/0', i, 'latin1');
      const f = path.join(tmp(), 'nostorage.pt');
      writeFileSync(f, full);
      await bad(f, /storage 'dtypes_views\/data\/0' is missing/);
    });

    it('an unsupported pickle opcode is named', () => {
      expect(() => unpickle(new Uint8Array([0x80, 0x02, 0x82, 0x01, 0x2e]))).toThrow(/unsupported pickle opcode EXT1/);
      // and through the checkpoint reader: patch the first opcode after PROTO in data.pkl
      const full = Buffer.from(readFileSync(fx('vitautoenc_monai16.pt')));
      const at = full.indexOf(Buffer.from([0x80, 0x02]), full.indexOf('data.pkl') + 8);
      full[at + 2] = 0x82;
      expect(() => decodeTorchCheckpoint(full, 'patched.pt')).toThrow(/patched\.pt: cannot read .*data\.pkl: unsupported pickle opcode EXT1/);
    });
  });
});

describe('pickle VM', () => {
  it('reads protocol-2 containers, ints, floats, strings, memo', () => {
    // pickle.dumps({'a': [1, -2, 300, 70000, 2**40, -2**40], 'b': (1.5, None, True, False), 'c': 'é', 'd': b'xy'}, protocol=2)
    const p2 = Buffer.from(
      '80027d71002858010000006171015d7102284b014afeffffff4d2c014a701101008a060000000000018a060000000000ff65580100000062710328473ff80000000000004e888974710458010000006371055802000000c3a971065801000000647107635f636f646563730a656e636f64650a710858020000007879710958060000006c6174696e31710a86710b52710c752e',
      'hex',
    );
    const v = unpickle(p2) as Map<string, unknown>;
    expect(v.get('a')).toEqual([1, -2, 300, 70000, 2 ** 40, -(2 ** 40)]);
    expect(v.get('b')).toEqual([1.5, null, true, false]);
    expect(v.get('c')).toBe('é');
    const d = v.get('d') as PyObject; // _codecs.encode: an unresolved global stays an opaque placeholder
    expect(d).toBeInstanceOf(PyObject);
    expect(String(d.cls)).toBe('_codecs.encode');
    expect(d.args).toEqual(['xy', 'latin1']);
  });

  it('protocol 4 (FRAME, STACK_GLOBAL, MEMOIZE, SHORT_BINUNICODE) with a resolved OrderedDict', () => {
    // pickle.dumps(collections.OrderedDict([('x', [1, 2]), ('y', {'z': 'w' * 300})]), protocol=4)
    const p4 = Buffer.from(
      '8004956d010000000000008c0b636f6c6c656374696f6e73948c0b4f72646572656444696374949394295294288c0178945d94284b014b02658c0179947d948c017a94582c010000' +
        '77'.repeat(300) +
        '9473752e',
      'hex',
    );
    const v = unpickle(p4, { findClass: (m, n) => (m === 'collections' && n === 'OrderedDict' ? () => new Map() : undefined) }) as Map<string, unknown>;
    expect([...v.keys()]).toEqual(['x', 'y']);
    expect(v.get('x')).toEqual([1, 2]);
    expect((v.get('y') as Map<string, string>).get('z')).toBe('w'.repeat(300));
  });

  it('truncated pickle data is an error', () => {
    expect(() => unpickle(new Uint8Array([0x80, 0x02, 0x58, 0x05, 0, 0, 0, 0x61]))).toThrow(/truncated/);
  });
});

describe('ssl3d convert', () => {
  let out: string[] = [];
  beforeEach(() => {
    out = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (out.push(String(s)), true));
  });
  afterEach(() => vi.restoreAllMocks());

  it('round trip: names, PyTorch layouts and values kept; counts printed', async () => {
    const dst = path.join(tmp(), 'vit.safetensors');
    const code = await main(['node', 'ssl3d', 'convert', fx('vitautoenc_tutorial_format.pt'), dst]);
    expect(code).toBe(0);
    const { tensors, metadata } = await loadSafetensors(dst);
    expectSame(tensors, expected('vitautoenc_tutorial_format'));
    expect(metadata.epoch).toBe('500');
    const text = out.join('');
    expect(text).toContain(`${tensors.size} tensors`);
    expect(text).toMatch(/skipped 1 non-tensor entries: optimizer/);
  });

  it('a bad input is a clean CLI error (exit 1)', async () => {
    const code = await main(['node', 'ssl3d', 'convert', fx('legacy.pt'), path.join(tmp(), 'x.safetensors')]);
    expect(code).toBe(1);
    expect(out.join('')).toMatch(/ssl3d: error: .*legacy\.pt: .*legacy/);
  });
});
