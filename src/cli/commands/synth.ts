import { InvalidArgumentError, type Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { ORIENTATION_CYCLE, writePhantomSet, type StoredOrientation } from '../../synth';

export function parseCount(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected a non-negative integer, got '${v}'`);
  return n;
}

export function parseSeed(v: string): number {
  const n = parseCount(v);
  if (n > 0xffffffff) throw new InvalidArgumentError(`seed must be below 2^32, got ${v}`);
  return n;
}

export function parseFraction(v: string): number {
  const f = Number(v);
  if (v.trim() === '' || !(f >= 0 && f < 1)) throw new InvalidArgumentError(`expected a number in [0, 1), got '${v}'`);
  return f;
}

function parseOrientations(v: string): StoredOrientation[] {
  const list = v.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = list.filter((o) => !ORIENTATION_CYCLE.includes(o as StoredOrientation));
  if (!list.length || bad.length) {
    throw new InvalidArgumentError(`unknown orientation(s) ${bad.join(', ') || "''"}; choose from ${ORIENTATION_CYCLE.join(', ')}`);
  }
  return list as StoredOrientation[];
}

interface SynthOpts {
  out: string;
  n: number;
  labels?: boolean;
  unlabeled?: number;
  seed: number;
  small?: boolean;
  valFraction: number;
  gzipLevel: number;
  orientations?: StoredOrientation[];
  quiet?: boolean;
}

export function register(program: Command): void {
  program
    .command('synth')
    .summary('Write synthetic abdominal CT phantoms with BTCV organ labels, plus datalists')
    .description(
      'Write synthetic CT-like abdominal phantoms (.nii.gz, int16 HU) with the 13 BTCV organ labels (uint8), ' +
        'unlabeled phantoms for pretraining, the datalists dataset.json (Decathlon-style) and dataset_unlabeled.json ' +
        '(TCIA-style), and manifest.json (seed, shape, spacing, orientation and organ centres of every volume).',
    )
    .requiredOption('--out <dir>', 'output folder (created if missing)')
    .option('--n <count>', 'number of labeled phantoms (imagesTr/ + labelsTr/)', parseCount, 16)
    .option('--labels', 'write label maps for the --n phantoms (the default)')
    .option('--no-labels', 'write the --n phantoms as images only')
    .option('--unlabeled <count>', 'number of unlabeled phantoms for pretraining (unlabeled/); default: same as --n', parseCount)
    .option('--seed <int>', 'master seed; the same seed gives byte-identical files', parseSeed, 0)
    .option('--small', 'quick-CPU preset: 96×96×48–60 voxels at ~3.5×3.5×4–5 mm (default: 256×256×100–160 at 1.15–1.5×1.5–3 mm)')
    .option('--val-fraction <f>', 'share of each kind put in "validation"', parseFraction, 0.2)
    .option('--gzip-level <1-9>', 'gzip compression level', (v: string) => {
      const n = parseCount(v);
      if (n < 1 || n > 9) throw new InvalidArgumentError(`expected 1–9, got ${v}`);
      return n;
    }, 1)
    .option(
      '--orientations <list>',
      `stored orientations to cycle through, comma-separated (default: ${ORIENTATION_CYCLE.join(',')})`,
      parseOrientations,
    )
    .option('--quiet', 'no progress bar')
    .addHelpText(
      'after',
      '\nVolume i of each kind is stored in orientation i mod 5 of the cycle: LPS (like BTCV), RAS, LPS rotated 4–10°\n' +
        '(oblique), RPI (slices stored head-first) and PLS (in-plane axes swapped); manifest.json records which.\n' +
        '\nExamples:\n' +
        '  ssl3d synth --out data/synth --n 16 --unlabeled 32 --seed 1\n' +
        '  ssl3d synth --out /tmp/tiny --n 4 --unlabeled 4 --small --quiet',
    )
    .action(async (opts: SynthOpts) => {
      const n = opts.n;
      const unlabeled = opts.unlabeled ?? n;
      const total = n + unlabeled;
      const bar =
        opts.quiet || total === 0
          ? null
          : new SingleBar({
              format: 'synth [{bar}] {value}/{total} volumes | {duration_formatted} elapsed | ETA {eta_formatted} | {file}',
              stream: process.stderr,
              hideCursor: null,
              clearOnComplete: false,
            });
      bar?.start(total, 0, { file: '' });
      const t0 = Date.now();
      let result;
      try {
        result = await writePhantomSet({
          outDir: opts.out,
          n,
          unlabeled,
          seed: opts.seed,
          preset: opts.small ? 'small' : 'full',
          labels: opts.labels !== false,
          valFraction: opts.valFraction,
          gzipLevel: opts.gzipLevel,
          orientations: opts.orientations,
          onProgress: (e) => bar?.update(e.done, { file: e.file }),
        });
      } finally {
        bar?.stop();
      }
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      const lab = result.manifest.volumes.filter((v) => v.kind === 'labeled').length;
      process.stdout.write(
        `wrote ${lab} ${opts.labels !== false ? 'labeled' : 'image-only'} + ${unlabeled} unlabeled phantoms to ${opts.out} in ${secs} s\n` +
          `  ${result.datasetJson}\n  ${result.unlabeledJson}\n  ${result.manifestJson}\n`,
      );
    });
}
