/**
 * `segmentVolume` / `ssl3d segment` / `loadModel`:
 * - geometry: with an ORACLE predictor (one-hot logits of the preprocessed label map at each window's position) the
 *   label map that comes back on the input grid equals the input's own label map: phantoms stored flipped
 *   (LPS), permuted and flipped (PLS) and oblique, with anisotropic voxels, and the shared real CT;
 * - the CLI end to end with a tiny random UNETR checkpoint (metadata, run directory, sidecar);
 * - clear errors for a ViTAutoEnc checkpoint, an unknown architecture and weights that do not fit.
 */
import * as tf from '@tensorflow/tfjs';
import { Command } from 'commander';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { register, runSegment } from '../../src/cli/commands/segment';
import { matmul, type Affine } from '../../src/core/affine';
import { Random } from '../../src/core/random';
import type { Volume } from '../../src/core/volume';
import { CheckpointError } from '../../src/io/checkpoint/safetensors';
import { loadNifti, saveNifti } from '../../src/io/nifti';
import { planWindows, segmentVolume, type Predictor, type Triple } from '../../src/inference';
import { computeDice } from '../../src/metrics/dice';
import { saveCheckpoint } from '../../src/nn/checkpoint';
import { checkpointMetadata, loadModel } from '../../src/nn/load_model';
import { UNETR, type UNETRConfig } from '../../src/nn/nets/unetr';
import { ViTAutoEnc, type ViTAutoEncConfig } from '../../src/nn/nets/vit';
import { generatePhantom, type StoredOrientation } from '../../src/synth';
import { BTCV_LABELS } from '../../src/synth/labels';
import { buildPipeline } from '../../src/transforms/pipelines';
import { REAL_CT } from '../helpers/paths';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'ssl3d-segment-'));
const K = 14;

/**
 * One-hot logits of `label` (the preprocessed label map, class ids 0..K−1) at each window, in the order
 * slidingWindowInference visits windows (planWindows: 'ij' meshgrid, batches of consecutive windows). Checks that each
 * window's image equals the preprocessed image there, so a wrong order or offset fails loudly.
 */
function oracle(image: Volume, label: Float32Array, roi: Triple, overlap: number): Predictor & { calls: number } {
  const [, X, Y, Z] = image.shape;
  const plan = planWindows([X, Y, Z], roi, overlap);
  const [rx, ry, rz] = plan.roi;
  const [px, py, pz] = plan.padLo;
  let next = 0;
  const f = ((batch: tf.Tensor5D) => {
    f.calls++;
    const n = batch.shape[0];
    const inp = batch.dataSync();
    const out = new Float32Array(n * rx * ry * rz * K);
    let mismatch = 0;
    for (let b = 0; b < n; b++) {
      const [sx, sy, sz] = plan.windows[next + b];
      for (let x = 0; x < rx; x++) {
        const ox = sx + x - px;
        for (let y = 0; y < ry; y++) {
          const oy = sy + y - py;
          for (let z = 0; z < rz; z++) {
            const oz = sz + z - pz;
            const o = ((b * rx + x) * ry + y) * rz + z;
            if (ox < 0 || ox >= X || oy < 0 || oy >= Y || oz < 0 || oz >= Z) {
              out[o * K] = 1;
              continue;
            }
            const i = (ox * Y + oy) * Z + oz;
            if (inp[o] !== image.data[i]) mismatch++;
            out[o * K + label[i]] = 1;
          }
        }
      }
    }
    next += n;
    if (mismatch) throw new Error(`oracle: ${mismatch} window voxels differ from the preprocessed image (window order/offset)`);
    return tf.tensor5d(out, [n, rx, ry, rz, K]);
  }) as Predictor & { calls: number };
  f.calls = 0;
  return f;
}

/** Preprocess image + label with the validation chain (the label map is what the oracle "predicts"). */
async function preprocessed(image: string, label: string): Promise<{ image: Volume; label: Volume }> {
  const d = await buildPipeline('finetune-val').deterministic.one({ image, label });
  return { image: d.image as Volume, label: d.label as Volume };
}

function expectSameAffine(a: Affine, b: Affine): void {
  expect(a.length).toBe(4);
  a.forEach((row, i) => row.forEach((v, j) => expect(v).toBe(b[i][j])));
}

/** Crop array axes to [start, start + size) (C order over (X, Y, Z)); the affine moves with the crop. */
function cropArray<T extends Int16Array | Uint8Array>(a: T, shape: Triple, start: Triple, size: Triple): T {
  const [, Y, Z] = shape;
  const out = new (a.constructor as new (n: number) => T)(size[0] * size[1] * size[2]);
  let o = 0;
  for (let x = 0; x < size[0]; x++)
    for (let y = 0; y < size[1]; y++)
      for (let z = 0; z < size[2]; z++) out[o++] = a[((x + start[0]) * Y + y + start[1]) * Z + z + start[2]];
  return out;
}
const shifted = (A: Affine, t: Triple): Affine => matmul(A, [[1, 0, 0, t[0]], [0, 1, 0, t[1]], [0, 0, 1, t[2]], [0, 0, 0, 1]]);

/**
 * A small phantom in `orientation` (anisotropic voxels), cut to 24 slices through the liver to keep the test fast
 * (array axes 0 and 1 are in-plane in every stored orientation, so the body's air margin stays for CropForeground).
 */
async function writePhantom(dir: string, orientation: StoredOrientation, seed: number, preset: 'small' | 'full' = 'small') {
  const p = generatePhantom({ preset, orientation }, new Random(seed));
  const cz = Math.round(p.organs[BTCV_LABELS.liver - 1].centroidVoxel[2]);
  const start: Triple = [0, 0, Math.max(0, Math.min(p.shape[2] - 24, cz - 12))];
  const size: Triple = [p.shape[0], p.shape[1], Math.min(24, p.shape[2])];
  const img = cropArray(p.image, p.shape, start, size);
  const lab = cropArray(p.label, p.shape, start, size);
  const affine = shifted(p.affine, start);
  const image = path.join(dir, `${orientation}_image.nii.gz`);
  const label = path.join(dir, `${orientation}_label.nii.gz`);
  await saveNifti(image, img, size, affine, { dtype: 'int16' });
  await saveNifti(label, lab, size, affine, { dtype: 'uint8' });
  return { label: lab, spacing: p.spacing, image, labelFile: label };
}

const measured: Record<string, string> = {};
afterEach(() => vi.restoreAllMocks());

describe('segmentVolume geometry (oracle predictor)', () => {
  // 'small' phantoms (~3.5×3.5×4.5 mm) are upsampled by the preprocessing: the round trip is exact. The 'full' one
  // (~1.3×1.3×2–3 mm) is downsampled in-plane, so organ boundaries lose a little.
  // PLS: axes permuted and two flipped; LPS-oblique: two axes flipped, rotated 4–10°; RPI: the slice axis flipped.
  const cases: [StoredOrientation, number, 'small' | 'full', number][] = [
    ['PLS', 12, 'small', 0.99],
    ['LPS-oblique', 13, 'small', 0.99],
    ['RPI', 15, 'full', 0.9],
  ];
  for (const [orientation, seed, preset, minDice] of cases) {
    it(`${preset} phantom stored ${orientation}: labels land on the input's voxels, shape and affine = the input's`, async () => {
      const dir = tmp();
      const p = await writePhantom(dir, orientation, seed, preset);
      const { image } = p;
      const pre = await preprocessed(image, p.labelFile);
      const roi: Triple = [64, 64, 64];
      const predictor = oracle(pre.image, pre.label.data, roi, 0.25);
      const stages = new Set<string>();
      const r = await segmentVolume(image, predictor, { roiSize: roi, swBatchSize: 2, onProgress: (s) => stages.add(s) });
      const input = await loadNifti(image);
      expect(r.labels.shape).toEqual([1, ...input.shape]);
      expectSameAffine(r.labels.affine, input.affine);
      expect(r.labels.data).toBeInstanceOf(Uint8Array);
      expect(r.preprocessedShape).toEqual(pre.image.shape);
      expect(r.logitsShape).toEqual([K, ...pre.image.shape.slice(1)]);
      expect(r.numClasses).toBe(K);
      expect(predictor.calls).toBe(Math.ceil(r.windows / 2));
      expect([...stages]).toEqual(['preprocess', 'inference', 'postprocess']);
      const dice = computeDice(r.labels.data, p.label, K);
      const present = dice.map((d, c) => [c, d] as const).filter(([c, d]) => c > 0 && !Number.isNaN(d));
      expect(present.length).toBeGreaterThanOrEqual(6);
      const voxels = (c: number) => p.label.reduce((a, v) => a + (v === c ? 1 : 0), 0);
      // the 'full' slab cuts some organs to a few dozen voxels, where one boundary voxel weighs a lot
      for (const [c, d] of present) expect(d, `class ${c}`).toBeGreaterThanOrEqual(voxels(c) >= 100 ? minDice : 0.8);
      expect(dice[BTCV_LABELS.liver]).toBeGreaterThanOrEqual(minDice);
      let diff = 0;
      for (let i = 0; i < p.label.length; i++) if (r.labels.data[i] !== p.label[i]) diff++;
      const key = `${preset} ${orientation}`;
      measured[key] =
        `shape ${input.shape.join('×')} spacing ${p.spacing.map((s) => s.toFixed(2)).join('×')} → preprocessed ${pre.image.shape.slice(1).join('×')}, ` +
        `${r.windows} windows; voxels differing ${diff}/${p.label.length}; Dice (class: value (voxels)) ` +
        present.map(([c, d]) => `${c}: ${d.toFixed(3)} (${voxels(c)})`).join(', ') +
        `; ${(r.timings.totalMs / 1000).toFixed(1)} s`;
      console.log(`[segment oracle ${key}] ${measured[key]}`);
      if (preset === 'small') expect(diff).toBe(0);
    });
  }

  it('a raw HU Volume in memory gives the same labels as its file', async () => {
    const dir = tmp();
    const ct = await smallCt(dir);
    const input = await loadNifti(ct);
    const pre = (await buildPipeline('finetune-val').deterministic.one({ image: ct })).image as Volume;
    // a made-up "label": class = intensity bucket, so every voxel's class depends on where it is
    const label = Float32Array.from(pre.data, (v) => Math.min(K - 1, Math.floor(v * K)));
    const fromFile = await segmentVolume(ct, oracle(pre, label, [32, 32, 32], 0.25), { roiSize: 32 });
    const vol: Volume = { data: input.data.slice(), shape: [1, ...input.shape], affine: input.affine };
    const fromVol = await segmentVolume(vol, oracle(pre, label, [32, 32, 32], 0.25), { roiSize: 32 });
    expect(fromVol.labels.data).toEqual(fromFile.labels.data);
    expect(fromVol.labels.shape).toEqual([1, ...input.shape]);
    expect(vol.data).toEqual(input.data); // the caller's volume is not modified
    expect(new Set(fromFile.labels.data).size).toBeGreaterThan(3);
  });

  it('an all-air volume: no foreground, an all-background map on the input grid, the predictor never called', async () => {
    const affine: Affine = [[-2, 0, 0, 10], [0, -2, 0, 5], [0, 0, 3, -40], [0, 0, 0, 1]];
    const vol: Volume = { data: new Float32Array(10 * 8 * 6).fill(-1000), shape: [1, 10, 8, 6], affine };
    const r = await segmentVolume(vol, () => {
      throw new Error('called');
    });
    expect(r.labels.shape).toEqual([1, 10, 8, 6]);
    expect(r.labels.data.every((v) => v === 0)).toBe(true);
    expect(r.numClasses).toBe(0);
    expect(r.warnings.join()).toMatch(/no foreground/);
  });

  it.skipIf(!REAL_CT.available)('the shared real CT: shape and affine = the input\'s, Dice with the true labels', async () => {
    const pre = await preprocessed(REAL_CT.image, REAL_CT.label);
    const truth = await loadNifti(REAL_CT.label);
    // TotalSegmentator ids (up to 117): keep the 13 largest organs as classes 1..13, the rest background
    const counts = new Map<number, number>();
    for (const v of truth.data) if (v > 0) counts.set(v, (counts.get(v) ?? 0) + 1);
    const keep = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, K - 1).map(([id]) => id);
    const map = new Uint8Array(256);
    keep.forEach((id, i) => (map[id] = i + 1));
    const remap = (a: Float32Array) => Float32Array.from(a, (v) => map[v]);
    const predictor = oracle(pre.image, remap(pre.label.data), [96, 96, 96], 0.25);
    const r = await segmentVolume(REAL_CT.image, predictor, { roiSize: 96, swBatchSize: 1 });
    const input = await loadNifti(REAL_CT.image);
    expect(r.labels.shape).toEqual([1, ...input.shape]);
    expectSameAffine(r.labels.affine, input.affine);
    const want = remap(truth.data);
    const dice = computeDice(r.labels.data, want, K);
    const organs = dice.slice(1);
    let diff = 0;
    for (let i = 0; i < want.length; i++) if (r.labels.data[i] !== want[i]) diff++;
    for (const [i, d] of organs.entries()) expect(d, `TotalSegmentator id ${keep[i]}`).toBeGreaterThanOrEqual(0.99);
    measured.realCT =
      `${input.shape.join('×')} → preprocessed ${r.preprocessedShape.slice(1).join('×')}, ${r.windows} windows; voxels differing ${diff}/${want.length}; ` +
      `Dice of the 13 largest structures min ${Math.min(...organs).toFixed(4)} mean ${(organs.reduce((a, b) => a + b, 0) / organs.length).toFixed(4)}; ` +
      `${(r.timings.totalMs / 1000).toFixed(1)} s`;
    console.log(`[segment oracle real CT] ${measured.realCT}`);
  });
});

const TINY_UNETR: UNETRConfig = { in_channels: 1, out_channels: 14, img_size: [32, 32, 32], feature_size: 4, hidden_size: 48, mlp_dim: 96, num_heads: 4, proj_type: 'conv' };
const TINY_VIT: ViTAutoEncConfig = { in_channels: 1, img_size: [32, 32, 32], patch_size: [16, 16, 16], hidden_size: 48, mlp_dim: 96, num_heads: 4, proj_type: 'conv' };

/** A small CT: a 24×24×12 block of a phantom stored LPS (flipped, anisotropic), its affine moved with the crop. */
async function smallCt(dir: string): Promise<string> {
  const p = generatePhantom({ preset: 'small', orientation: 'LPS' }, new Random(21));
  const start: Triple = [36, 36, Math.floor(p.shape[2] / 2) - 6];
  const size: Triple = [24, 24, 12];
  const file = path.join(dir, 'ct.nii.gz');
  await saveNifti(file, cropArray(p.image, p.shape, start, size), size, shifted(p.affine, start), { dtype: 'int16' });
  return file;
}

describe('ssl3d segment (CLI) and loadModel', () => {
  it('end to end: run directory with a tiny random UNETR → uint8 labels 0..13 on the input grid', async () => {
    const dir = tmp();
    const ct = await smallCt(dir);
    const unetr = new UNETR(TINY_UNETR, 3);
    mkdirSync(path.join(dir, 'run', 'checkpoints'), { recursive: true });
    await saveCheckpoint(unetr, path.join(dir, 'run', 'checkpoints', 'best.safetensors'), { metadata: checkpointMetadata('unetr', TINY_UNETR) });
    unetr.dispose();
    const out = path.join(dir, 'seg.nii.gz');
    let stdout = '';
    let stderr = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
    const program = new Command().exitOverride();
    register(program);
    const t0 = performance.now();
    await program.parseAsync(['node', 'ssl3d', 'segment', path.join(dir, 'run'), ct, '-o', out, '--sw-batch-size', '2', '--quiet']);
    const secs = (performance.now() - t0) / 1000;
    vi.restoreAllMocks();
    const seg = await loadNifti(out);
    const input = await loadNifti(ct);
    expect(seg.header.dtype.name).toBe('uint8');
    expect(seg.shape).toEqual(input.shape);
    seg.affine.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(input.affine[i][j], 5)));
    let max = 0;
    for (const v of seg.data) max = Math.max(max, v);
    expect(max).toBeLessThanOrEqual(13);
    expect(stderr).toMatch(/backend: /);
    expect(stderr).toMatch(/best\.safetensors/);
    expect(stdout).toMatch(/wrote .*seg\.nii\.gz \(24×24×12 uint8/);
    expect(stdout).toMatch(/liver/);
    const total = [...stdout.matchAll(/^\s+\d+\s+\S*\s+(\d+)\s+[\d.]+$/gm)].reduce((a, m) => a + Number(m[1]), 0);
    expect(total).toBe(24 * 24 * 12);
    measured.cli = `${secs.toFixed(1)} s`;
    console.log(`[segment CLI tiny UNETR] ${secs.toFixed(1)} s\n${stdout}`);
  });

  it('--help has an example', () => {
    const program = new Command().exitOverride();
    register(program);
    let help = '';
    program.commands[0].configureOutput({ writeOut: (s) => (help += s) });
    expect(() => program.parse(['node', 'ssl3d', 'segment', '--help'])).toThrow();
    expect(help).toMatch(/Example/);
    expect(help).toMatch(/--sw-batch-size/);
  });

  it('a ViTAutoEnc checkpoint is a clear error', async () => {
    const dir = tmp();
    const ct = await smallCt(dir);
    const vit = new ViTAutoEnc(TINY_VIT, 1);
    const file = path.join(dir, 'ae.safetensors');
    await saveCheckpoint(vit, file, { metadata: checkpointMetadata('vitautoenc', TINY_VIT) });
    vit.dispose();
    const err = await runSegment({ model: file, input: ct, output: path.join(dir, 'x.nii.gz') }).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/ViTAutoEnc.*needs a UNETR/);
    // forcing --arch unetr on it names both
    await expect(loadModel(file, { arch: 'unetr', archConfig: { ...TINY_UNETR } })).rejects.toThrow(/ViTAutoEnc.*not the requested 'unetr'/);
  });

  it('sidecar JSON, missing architecture, wrong config: clear errors naming the file', async () => {
    const dir = tmp();
    const unetr = new UNETR(TINY_UNETR, 5);
    const bare = path.join(dir, 'model.safetensors');
    await saveCheckpoint(unetr, bare);
    await expect(loadModel(bare)).rejects.toThrow(/model\.safetensors: the architecture is unknown.*--arch/);
    // explicit options work for a file without metadata (as for MONAI .pt files)
    const a = await loadModel(bare, { arch: 'unetr', archConfig: { ...TINY_UNETR } });
    expect(a.report.archSource).toBe('options');
    a.model.dispose();
    // sidecar
    writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ arch: 'unetr', arch_config: TINY_UNETR }));
    const b = await loadModel(bare);
    expect(b.arch).toBe('unetr');
    expect(b.report.archSource).toBe('sidecar');
    expect(b.model).toBeInstanceOf(UNETR);
    const w = unetr.stateDict().get('out.conv.conv.weight')!.data;
    expect(b.model.stateDict().get('out.conv.conv.weight')!.data).toEqual(w);
    b.model.dispose();
    // weights that do not fit the declared config
    const wrong = path.join(dir, 'wrong.safetensors');
    await saveCheckpoint(unetr, wrong, { metadata: checkpointMetadata('unetr', { ...TINY_UNETR, feature_size: 8 }) });
    await expect(loadModel(wrong)).rejects.toThrow(/wrong\.safetensors: .*do not fit a UNETR/);
    // an unknown arch
    const odd = path.join(dir, 'odd.safetensors');
    await saveCheckpoint(unetr, odd, { metadata: { 'ssl3d.arch': 'swinunetr', 'ssl3d.arch_config': '{}' } });
    await expect(loadModel(odd)).rejects.toThrow(/odd\.safetensors: .*unknown arch "swinunetr"/);
    // a directory without checkpoints
    await expect(loadModel(dir)).rejects.toThrow(/without checkpoints\/best\.safetensors/);
    unetr.dispose();
  });
});
