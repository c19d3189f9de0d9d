/**
 * `writePhantomSet`: a folder of synthetic CT in the tutorial's layouts.
 *
 *   DIR/imagesTr/img0001.nii.gz, DIR/labelsTr/label0001.nii.gz   labeled phantoms (BTCV naming; int16 / uint8)
 *   DIR/unlabeled/volume-synth-0001.nii.gz                        unlabeled phantoms for pretraining (int16)
 *   DIR/dataset.json             Decathlon-style datalist (training / validation of {image, label}), BTCV label map
 *   DIR/dataset_unlabeled.json   TCIA-style {training: [{image}], validation: [{image}]} for pretraining
 *   DIR/manifest.json            per volume: seed, shape, spacing, orientation, affine, tissue HU, organ centres
 *
 * Paths in the JSON files are relative to DIR. Volume i of each kind has the seed deriveSeed(seed, kind, i), so a
 * larger set begins with the volumes of a smaller one, and any volume can be regenerated alone with
 * `generatePhantom({preset, orientation}, new Random(volume.seed))`. Nothing in the output depends on the clock.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import type { Affine } from '../core/affine';
import { deriveSeed, Random } from '../core/random';
import { ArgumentError, NiftiWriteError } from '../errors';
import { splitTrainVal } from '../io/datalist';
import { encodeNifti } from '../io/nifti/write';
import { VERSION } from '../version';
import { ORIENTATION_CYCLE, type StoredOrientation, type Vec3 } from './grid';
import { btcvLabelMap } from './labels';
import { generatePhantom, type Phantom, type PhantomPreset } from './phantom';
import { writeFileAtomic } from '../io/atomic';

const gzip = promisify(zlib.gzip);

export interface PhantomSetOptions {
  outDir: string;
  /** Number of phantoms for fine-tuning (written with labels unless `labels` is false). */
  n: number;
  /** Number of unlabeled phantoms for pretraining; default: `n`. */
  unlabeled?: number;
  /** Master seed, integer in [0, 2^32); default 0. */
  seed?: number;
  preset?: PhantomPreset;
  /** Write label maps and {image, label} datalist entries; default true. */
  labels?: boolean;
  /** Fraction of each kind put in `validation` (at least one when there are ≥ 2 volumes); default 0.2. */
  valFraction?: number;
  /** gzip level 1–9; default 1, the fastest (see `gzipOptions`); noise makes higher levels slow for little gain. */
  gzipLevel?: number;
  /** Stored orientations cycled over the volumes; default ORIENTATION_CYCLE. */
  orientations?: readonly StoredOrientation[];
  onProgress?: (event: PhantomProgress) => void;
}

export interface PhantomProgress {
  done: number;
  total: number;
  /** The volume just written, relative to outDir. */
  file: string;
}

export interface ManifestVolume {
  id: string;
  kind: 'labeled' | 'unlabeled';
  image: string;
  label?: string;
  split: 'training' | 'validation';
  seed: number;
  preset: PhantomPreset;
  shape: Vec3;
  spacing: Vec3;
  /** How the array is stored ('LPS', 'RAS', 'LPS-oblique', 'RPI', 'PLS'). */
  orientation: StoredOrientation;
  /** nibabel axis codes of the affine. */
  axcodes: string;
  obliqueDegrees: number;
  affine: Affine;
  noiseStd: number;
  hu: Record<string, number>;
  /** By BTCV short name: label id, voxel count, centroid (voxel indices and world mm, RAS). */
  organs: Record<string, { label: number; voxels: number; centroidVoxel: Vec3; centroidWorld: Vec3 }>;
}

export interface PhantomManifest {
  generator: string;
  version: string;
  seed: number;
  preset: PhantomPreset;
  labels: boolean;
  valFraction: number;
  coordinates: string;
  volumes: ManifestVolume[];
}

export interface PhantomSetResult {
  manifest: PhantomManifest;
  /** Absolute paths of the JSON files written. */
  datasetJson: string;
  unlabeledJson: string;
  manifestJson: string;
}

async function writeAtomic(file: string, bytes: Uint8Array): Promise<void> {
  try {
    await writeFileAtomic(file, bytes);
  } catch (e) {
    throw new NiftiWriteError(file, (e as Error).message);
  }
}

/**
 * zlib options. At level 1 images use Huffman-only coding (the noise defeats LZ77 matching: ~2.5× faster for ~5 %
 * larger files) and label maps use run-length coding (smaller and faster than level 1's default).
 */
export function gzipOptions(level: number, dtype: 'int16' | 'uint8'): zlib.ZlibOptions {
  if (level > 1) return { level };
  const { Z_HUFFMAN_ONLY, Z_RLE } = zlib.constants;
  return { level, strategy: dtype === 'int16' ? Z_HUFFMAN_ONLY : Z_RLE };
}

async function writeVolume(file: string, data: ArrayLike<number>, p: Phantom, dtype: 'int16' | 'uint8', level: number) {
  const raw = encodeNifti(data, p.shape, p.affine, { dtype, description: `ssl3d synth seed ${p.seed}` });
  const gz = await gzip(raw, gzipOptions(level, dtype));
  await writeAtomic(file, gz);
}

function manifestEntry(
  p: Phantom,
  base: Omit<ManifestVolume, 'seed' | 'preset' | 'shape' | 'spacing' | 'orientation' | 'axcodes' | 'obliqueDegrees' | 'affine' | 'noiseStd' | 'hu' | 'organs'>,
): ManifestVolume {
  return {
    ...base,
    seed: p.seed,
    preset: p.preset,
    shape: p.shape,
    spacing: p.spacing.map((s) => +s.toFixed(6)) as Vec3,
    orientation: p.orientation,
    axcodes: p.axcodes,
    obliqueDegrees: +p.obliqueDegrees.toFixed(4),
    affine: p.affine.map((r) => r.map((v) => +v.toFixed(6))),
    noiseStd: +p.noiseStd.toFixed(3),
    hu: p.hu,
    organs: Object.fromEntries(
      p.organs.map((o) => [
        o.name,
        {
          label: o.label,
          voxels: o.voxels,
          centroidVoxel: o.centroidVoxel.map((v) => +v.toFixed(2)) as Vec3,
          centroidWorld: o.centroidWorld.map((v) => +v.toFixed(2)) as Vec3,
        },
      ]),
    ),
  };
}

function checkOptions(o: PhantomSetOptions): void {
  const bad = (what: string) => {
    throw new ArgumentError(what);
  };
  if (!Number.isInteger(o.n) || o.n < 0) bad(`n must be a non-negative integer, got ${o.n}`);
  if (o.unlabeled !== undefined && (!Number.isInteger(o.unlabeled) || o.unlabeled < 0)) {
    bad(`unlabeled must be a non-negative integer, got ${o.unlabeled}`);
  }
  if (o.valFraction !== undefined && !(o.valFraction >= 0 && o.valFraction < 1)) {
    bad(`valFraction must be in [0, 1), got ${o.valFraction}`);
  }
  if (o.gzipLevel !== undefined && !(Number.isInteger(o.gzipLevel) && o.gzipLevel >= 1 && o.gzipLevel <= 9)) {
    bad(`gzipLevel must be an integer 1–9, got ${o.gzipLevel}`);
  }
  if (o.orientations && o.orientations.some((x) => !ORIENTATION_CYCLE.includes(x))) {
    bad(`orientations must be among ${ORIENTATION_CYCLE.join(', ')}, got ${o.orientations.join(', ')}`);
  }
}

const pad4 = (i: number) => String(i + 1).padStart(4, '0');
const json = (v: unknown) => JSON.stringify(v, null, 4) + '\n';

export async function writePhantomSet(opts: PhantomSetOptions): Promise<PhantomSetResult> {
  checkOptions(opts);
  const seed = opts.seed ?? 0;
  new Random(seed); // validates the seed
  const preset = opts.preset ?? 'full';
  const labels = opts.labels ?? true;
  const nUnl = opts.unlabeled ?? opts.n;
  const valFraction = opts.valFraction ?? 0.2;
  const level = opts.gzipLevel ?? 1;
  const cycle = opts.orientations && opts.orientations.length ? opts.orientations : ORIENTATION_CYCLE;
  const outDir = path.resolve(opts.outDir);
  const total = opts.n + nUnl;
  const valLab = new Set(splitTrainVal(opts.n, valFraction, new Random(deriveSeed(seed, 'split', 'labeled'))).val);
  const valUnl = new Set(splitTrainVal(nUnl, valFraction, new Random(deriveSeed(seed, 'split', 'unlabeled'))).val);

  await fsp.mkdir(outDir, { recursive: true });
  for (const d of [opts.n ? 'imagesTr' : '', opts.n && labels ? 'labelsTr' : '', nUnl ? 'unlabeled' : '']) {
    if (d) await fsp.mkdir(path.join(outDir, d), { recursive: true });
  }

  const jobs: Array<{ kind: 'labeled' | 'unlabeled'; i: number }> = [
    ...Array.from({ length: opts.n }, (_, i) => ({ kind: 'labeled' as const, i })),
    ...Array.from({ length: nUnl }, (_, i) => ({ kind: 'unlabeled' as const, i })),
  ];
  const volumes: ManifestVolume[] = [];
  // Generation is synchronous CPU work on this thread; gzip runs in libuv's pool, so compressing volume i overlaps
  // generating volume i+1. At most two volumes are in flight to bound memory.
  const inFlight: Array<Promise<void>> = [];
  let done = 0;
  for (const job of jobs) {
    const volSeed = deriveSeed(seed, job.kind, job.i);
    const orientation = cycle[job.i % cycle.length];
    const p = generatePhantom({ preset, orientation }, new Random(volSeed));
    const isLab = job.kind === 'labeled';
    const image = isLab ? `imagesTr/img${pad4(job.i)}.nii.gz` : `unlabeled/volume-synth-${pad4(job.i)}.nii.gz`;
    const label = isLab && labels ? `labelsTr/label${pad4(job.i)}.nii.gz` : undefined;
    const split = (isLab ? valLab : valUnl).has(job.i) ? 'validation' : 'training';
    volumes.push(manifestEntry(p, { id: path.basename(image, '.nii.gz'), kind: job.kind, image, label, split }));
    const work = (async () => {
      await writeVolume(path.join(outDir, image), p.image, p, 'int16', level);
      if (label) await writeVolume(path.join(outDir, label), p.label, p, 'uint8', level);
      done++;
      opts.onProgress?.({ done, total, file: image });
    })();
    work.catch(() => undefined); // rejections surface where `work` is awaited, not as unhandled
    inFlight.push(work);
    if (inFlight.length >= 2) await inFlight.shift();
  }
  await Promise.all(inFlight);

  const entry = (v: ManifestVolume) => (v.label ? { image: v.image, label: v.label } : { image: v.image });
  const lab = volumes.filter((v) => v.kind === 'labeled');
  const unl = volumes.filter((v) => v.kind === 'unlabeled');
  const dataset = {
    description: 'ssl3d synthetic abdominal CT phantoms (BTCV organ labels, portal venous phase HU)',
    ...(labels ? { labels: btcvLabelMap() } : {}),
    licence: 'CC0-1.0',
    modality: { '0': 'CT' },
    name: 'ssl3d-synth',
    numTest: 0,
    numTraining: lab.filter((v) => v.split === 'training').length,
    reference: `ssl3d synth --seed ${seed} --preset ${preset}`,
    release: VERSION,
    tensorImageSize: '3D',
    training: lab.filter((v) => v.split === 'training').map(entry),
    validation: lab.filter((v) => v.split === 'validation').map(entry),
  };
  const unlabeledList = {
    training: unl.filter((v) => v.split === 'training').map(entry),
    validation: unl.filter((v) => v.split === 'validation').map(entry),
  };
  const manifest: PhantomManifest = {
    generator: 'ssl3d synth',
    version: VERSION,
    seed,
    preset,
    labels,
    valFraction,
    coordinates: 'affine: voxel (i, j, k) → world mm, RAS+ (+x = patient right, +y = anterior, +z = superior)',
    volumes,
  };
  const datasetJson = path.join(outDir, 'dataset.json');
  const unlabeledJson = path.join(outDir, 'dataset_unlabeled.json');
  const manifestJson = path.join(outDir, 'manifest.json');
  await fsp.writeFile(datasetJson, json(dataset));
  await fsp.writeFile(unlabeledJson, json(unlabeledList));
  await fsp.writeFile(manifestJson, json(manifest));
  return { manifest, datasetJson, unlabeledJson, manifestJson };
}
