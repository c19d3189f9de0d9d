import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { ArgumentError, DatalistError } from '../../errors';
import { buildDatalist, inspectDatalist, type DatalistValidation } from '../../io/datalist';

function parseSeed(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n > 0xffffffff) throw new InvalidArgumentError(`expected an integer in [0, 2^32), got '${v}'`);
  return n;
}

function parseFraction(v: string): number {
  const f = Number(v);
  if (v.trim() === '' || !(f >= 0 && f < 1)) throw new InvalidArgumentError(`expected a number in [0, 1), got '${v}'`);
  return f;
}

interface DatalistOpts {
  images?: string;
  labels?: string;
  valFraction: number;
  seed: number;
  out?: string;
  baseDir?: string;
  check?: string;
  key?: string[];
  shapes?: boolean;
  shapeCheck: boolean;
  name?: string;
  force?: boolean;
}

async function build(opts: DatalistOpts): Promise<void> {
  if (!opts.images || !opts.out) throw new ArgumentError('datalist: give --images DIR and --out FILE.json (or --check FILE.json)');
  const out = path.resolve(opts.out);
  if (!opts.force) {
    const exists = await fsp.stat(out).then(
      () => true,
      () => false,
    );
    if (exists) throw new ArgumentError(`${out} already exists; pass --force to overwrite it`);
  }
  const list = await buildDatalist({
    imagesDir: opts.images,
    labelsDir: opts.labels,
    valFraction: opts.valFraction,
    seed: opts.seed,
    baseDir: opts.baseDir ?? path.dirname(out),
    checkShapes: opts.shapeCheck,
    name: opts.name,
  });
  await fsp.mkdir(path.dirname(out), { recursive: true });
  await fsp.writeFile(out, JSON.stringify(list, null, 4) + '\n');
  process.stdout.write(
    `wrote ${out}: ${list.training.length} training + ${list.validation.length} validation ` +
      `${opts.labels ? 'image/label pairs' : 'images'} (seed ${opts.seed})\n`,
  );
}

async function check(opts: DatalistOpts): Promise<void> {
  const file = opts.check!;
  const mode: DatalistValidation = opts.shapes ? 'shapes' : 'files';
  const { items, issues } = await inspectDatalist(file, { baseDir: opts.baseDir, keys: opts.key, validate: mode });
  if (issues.length) throw new DatalistError(file, issues);
  const counts = Object.entries(items).map(([k, v]) => `${k} ${v.length}`);
  process.stdout.write(`${file}: OK (${counts.join(', ')}; ${mode === 'shapes' ? 'files and headers' : 'files'} checked)\n`);
}

export function register(program: Command): void {
  program
    .command('datalist')
    .summary('Build a datalist JSON from image/label folders (seeded split), or --check one')
    .description(
      'Build a Decathlon-style datalist JSON from a folder of images (and labels, paired by file name) with a ' +
        'seeded train/validation split; or, with --check, validate an existing datalist (every problem is listed at once).',
    )
    .option('--images <dir>', 'folder of .nii / .nii.gz images')
    .option('--labels <dir>', 'folder of label maps; paired with images by identical name or by id (img0001 ↔ label0001)')
    .option('--val-fraction <f>', 'share of the items put in "validation"', parseFraction, 0.2)
    .option('--seed <int>', 'seed of the split; the same seed and files give the same JSON', parseSeed, 0)
    .option('--out <file>', 'datalist JSON to write')
    .option('--base-dir <dir>', 'paths in the JSON are relative to this folder (default: the JSON file\'s folder)')
    .option('--no-shape-check', 'do not read the headers to check that each image and label share shape and affine')
    .option('--name <name>', '"name" field of the JSON (default: the images folder\'s parent folder name)')
    .option('--force', 'overwrite --out if it exists')
    .option('--check <file>', 'validate this datalist instead of building one')
    .option('--key <key...>', 'with --check: the lists to check (default: every list in the file)')
    .option('--shapes', 'with --check: also compare image and label headers (shape and affine)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  ssl3d datalist --images data/imagesTr --labels data/labelsTr --val-fraction 0.2 --seed 1 --out data/dataset.json\n' +
        '  ssl3d datalist --images data/unlabeled --out data/pretrain.json\n' +
        '  ssl3d datalist --check json_files/btcv/dataset_0.json --base-dir /data/btcv --shapes',
    )
    .action(async (opts: DatalistOpts) => {
      if (opts.check) {
        if (opts.images || opts.out) throw new ArgumentError('datalist: --check cannot be combined with --images/--out');
        await check(opts);
      } else {
        await build(opts);
      }
    });
}
