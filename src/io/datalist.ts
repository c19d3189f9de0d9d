/**
 * Datalists: MONAI's Decathlon-style JSON files (`load_decathlon_datalist`) with early, complete validation, and
 * building one from folders of images and labels.
 *
 * A datalist is a JSON object whose keys (`training`, `validation`, `test`, ...) hold lists of items. An item is
 * `{"image": "imagesTr/img0001.nii.gz", "label": "labelsTr/label0001.nii.gz"}` or a plain path string (MONAI
 * accepts strings only under `test`; here any list may use them) which becomes `{"image": path}`.
 *
 * Paths are resolved as MONAI does: `os.path.normpath(os.path.join(base_dir, path))` with `base_dir` defaulting to the
 * JSON file's folder; absolute paths stay as they are. `image` (and `label` for segmentation) are always resolved;
 * other string values are resolved only if the resolved path exists (MONAI's `check_path=True`).
 *
 * Validation reports every problem at once in one DatalistError: JSON syntax (with line and column), missing keys,
 * wrong types, missing or unreadable files, and optionally image/label headers that do not share a grid.
 */
import { constants as fsConstants, existsSync, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { allclose, flat } from '../core/affine';
import { Random } from '../core/random';
import { DatalistError, type DatalistIssue } from '../errors';
import { peekNifti, type NiftiPeek } from './nifti/peek';

export interface DatalistItem {
  /** Resolved path (or paths, for multi-channel images). */
  image: string | string[];
  label?: string;
  [key: string]: unknown;
}

/** 'none': structure only; 'files': every image/label exists and is readable; 'shapes': also image and label
 *  headers agree on shape and affine. `true` = 'files', `false` = 'none'. */
export type DatalistValidation = 'none' | 'files' | 'shapes';

export interface LoadDatalistOptions {
  /** Folder relative paths are joined to; default: the JSON file's folder. */
  baseDir?: string;
  /** Which list to load; default 'training'. */
  key?: string;
  /** Default 'files'. */
  validate?: boolean | DatalistValidation;
  /** Treat `label` as a path to resolve (MONAI `is_segmentation`); default true. */
  isSegmentation?: boolean;
}

/** `os.path.normpath(os.path.join(base, p))`. */
export function resolveDatalistPath(baseDir: string, p: string): string {
  return path.normalize(path.isAbsolute(p) ? p : path.join(baseDir, p));
}

function lineCol(text: string, pos: number): string {
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const col = pos - before.lastIndexOf('\n');
  return `line ${line}, column ${col}`;
}

/** Read and parse a datalist JSON file; throws DatalistError (with line/column for syntax errors). */
export async function readDatalistJson(jsonPath: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await fsp.readFile(jsonPath, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === 'ENOENT'
        ? 'datalist file not found'
        : err.code === 'EISDIR'
          ? 'is a directory, not a JSON file'
          : err.code === 'EACCES'
            ? 'permission denied'
            : err.message;
    throw new DatalistError(jsonPath, [{ where: 'file', problem: why }]);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const m = /position (\d+)/.exec(msg);
    const where = m ? lineCol(text, Number(m[1])) : text.trim() === '' ? 'file' : 'JSON';
    const problem = text.trim() === '' ? 'file is empty (expected a JSON object)' : `invalid JSON: ${msg}`;
    throw new DatalistError(jsonPath, [{ where, problem }]);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    const got = data === null ? 'null' : Array.isArray(data) ? 'a list' : typeof data;
    throw new DatalistError(jsonPath, [
      { where: '$', problem: `expected a JSON object with keys such as "training" and "validation", got ${got}` },
    ]);
  }
  return data as Record<string, unknown>;
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'list' : typeof v;
}

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string');

/** Check the structure of one list and resolve its paths; problems go to `issues`. */
function parseItems(
  raw: unknown,
  key: string,
  baseDir: string,
  isSegmentation: boolean,
  issues: DatalistIssue[],
): { items: DatalistItem[]; indices: number[] } {
  const items: DatalistItem[] = [];
  const indices: number[] = [];
  if (!Array.isArray(raw)) {
    issues.push({ where: key, problem: `expected a list of items, got ${typeName(raw)}` });
    return { items, indices };
  }
  raw.forEach((entry, i) => {
    const where = `${key}[${i}]`;
    if (typeof entry === 'string') {
      if (!entry) issues.push({ where, problem: 'empty path string' });
      else {
        items.push({ image: resolveDatalistPath(baseDir, entry) });
        indices.push(i);
      }
      return;
    }
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      issues.push({ where, problem: `expected an object {"image": ..., "label": ...} or a path string, got ${typeName(entry)}` });
      return;
    }
    const obj = entry as Record<string, unknown>;
    const out: DatalistItem = { image: '' };
    let ok = true;
    if (!('image' in obj)) {
      issues.push({ where, problem: `missing key "image" (keys present: ${Object.keys(obj).join(', ') || 'none'})` });
      ok = false;
    } else if (typeof obj.image === 'string' && obj.image) {
      out.image = resolveDatalistPath(baseDir, obj.image);
    } else if (isStringList(obj.image)) {
      out.image = obj.image.map((p) => resolveDatalistPath(baseDir, p));
    } else {
      issues.push({ where: `${where}.image`, problem: `expected a non-empty path string or list of paths, got ${typeName(obj.image)}` });
      ok = false;
    }
    for (const [k, v] of Object.entries(obj)) {
      if (k === 'image') continue;
      if (k === 'label' && isSegmentation) {
        if (typeof v === 'string' && v) out.label = resolveDatalistPath(baseDir, v);
        else {
          issues.push({ where: `${where}.label`, problem: `expected a non-empty path string, got ${typeName(v)}` });
          ok = false;
        }
        continue;
      }
      // Other keys: resolve strings (or string lists) only where the resolved path exists, as MONAI does.
      const auto = (p: string) => {
        const r = resolveDatalistPath(baseDir, p);
        return existsSync(r) ? r : p;
      };
      out[k] = typeof v === 'string' ? auto(v) : isStringList(v) ? v.map(auto) : v;
    }
    if (ok) {
      items.push(out);
      indices.push(i);
    }
  });
  return { items, indices };
}

async function checkReadable(file: string, where: string, issues: DatalistIssue[], rel: string): Promise<boolean> {
  const shown = rel === file ? file : `${file} (from "${rel}")`;
  try {
    const st = await fsp.stat(file);
    if (!st.isFile()) {
      issues.push({ where, problem: `not a regular file: ${shown}` });
      return false;
    }
    await fsp.access(file, fsConstants.R_OK);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'file is not readable (permission denied)' : String(e);
    issues.push({ where, problem: `${why}: ${shown}` });
    return false;
  }
}

async function peekOrIssue(file: string, where: string, issues: DatalistIssue[]): Promise<NiftiPeek | null> {
  try {
    return await peekNifti(file);
  } catch (e) {
    issues.push({ where, problem: (e as Error).message });
    return null;
  }
}

function maxAbsDiff(a: number[][], b: number[][]): number {
  const fa = flat(a);
  const fb = flat(b);
  return Math.max(...fa.map((v, i) => Math.abs(v - fb[i])));
}

/** File (and optionally header) checks of resolved items; problems go to `issues`. */
async function checkItems(
  items: DatalistItem[],
  key: string,
  mode: DatalistValidation,
  issues: DatalistIssue[],
  rawList: unknown[],
  indices: number[],
): Promise<void> {
  if (mode === 'none') return;
  const relOf = (i: number, k: string, j = -1): string => {
    const e = rawList[i];
    if (typeof e === 'string') return e;
    const v = (e as Record<string, unknown>)[k];
    return j >= 0 && Array.isArray(v) ? String(v[j]) : String(v);
  };
  const CONCURRENCY = 16;
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const n = next++;
      const item = items[n];
      const i = indices[n];
      const images = Array.isArray(item.image) ? item.image : [item.image];
      const okImages = await Promise.all(
        images.map((f, j) => checkReadable(f, `${key}[${i}].image${images.length > 1 ? `[${j}]` : ''}`, issues, relOf(i, 'image', Array.isArray(item.image) ? j : -1))),
      );
      const okLabel = item.label ? await checkReadable(item.label, `${key}[${i}].label`, issues, relOf(i, 'label')) : true;
      if (mode !== 'shapes' || !okImages.every(Boolean) || !okLabel) continue;
      const peeks = await Promise.all(images.map((f, j) => peekOrIssue(f, `${key}[${i}].image${images.length > 1 ? `[${j}]` : ''}`, issues)));
      const lab = item.label ? await peekOrIssue(item.label, `${key}[${i}].label`, issues) : null;
      const ref = peeks[0];
      if (!ref) continue;
      const others: Array<[NiftiPeek | null, string]> = [
        ...peeks.slice(1).map((p, j): [NiftiPeek | null, string] => [p, `image[${j + 1}]`]),
        [lab, 'label'],
      ];
      for (const [p, what] of others) {
        if (!p) continue;
        if (p.shape.join() !== ref.shape.join()) {
          issues.push({
            where: `${key}[${i}]`,
            problem: `${what} shape [${p.shape.join(', ')}] does not match image shape [${ref.shape.join(', ')}] (${p.path} vs ${ref.path})`,
          });
        } else if (!allclose(flat(p.affine), flat(ref.affine), 1e-4, 1e-3)) {
          issues.push({
            where: `${key}[${i}]`,
            problem: `${what} affine differs from the image affine by up to ${maxAbsDiff(p.affine, ref.affine).toPrecision(3)} mm: not the same grid (${p.path} vs ${ref.path})`,
          });
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
}

function normaliseMode(v: LoadDatalistOptions['validate']): DatalistValidation {
  return v === undefined || v === true ? 'files' : v === false ? 'none' : v;
}

/**
 * Load one list of a datalist (MONAI `load_decathlon_datalist`) with resolved paths, validating it first.
 * Throws DatalistError listing every problem found.
 */
export async function loadDatalist(jsonPath: string, options: LoadDatalistOptions = {}): Promise<DatalistItem[]> {
  const key = options.key ?? 'training';
  const { items, issues } = await inspectDatalist(jsonPath, { ...options, keys: [key] });
  if (issues.length) throw new DatalistError(jsonPath, issues);
  return items[key];
}

export interface InspectOptions extends Omit<LoadDatalistOptions, 'key'> {
  /** Lists to check; default: every key of the file whose value is a list. */
  keys?: string[];
}

/** Validate several lists of a datalist without throwing for content problems (unreadable JSON still throws). */
export async function inspectDatalist(
  jsonPath: string,
  options: InspectOptions = {},
): Promise<{ items: Record<string, DatalistItem[]>; issues: DatalistIssue[] }> {
  const data = await readDatalistJson(jsonPath);
  const baseDir = options.baseDir ?? path.dirname(jsonPath);
  const mode = normaliseMode(options.validate);
  const isSeg = options.isSegmentation ?? true;
  const keys = options.keys ?? Object.keys(data).filter((k) => Array.isArray(data[k]));
  const issues: DatalistIssue[] = [];
  const items: Record<string, DatalistItem[]> = {};
  if (options.baseDir !== undefined && mode !== 'none') {
    try {
      if (!(await fsp.stat(baseDir)).isDirectory()) issues.push({ where: 'baseDir', problem: `${baseDir} is not a directory` });
    } catch {
      issues.push({ where: 'baseDir', problem: `base directory not found: ${baseDir}` });
    }
  }
  for (const key of keys) {
    if (!(key in data)) {
      const lists = Object.keys(data).filter((k) => Array.isArray(data[k]));
      issues.push({ where: key, problem: `key "${key}" not found; lists in this file: ${lists.join(', ') || 'none'}` });
      items[key] = [];
      continue;
    }
    const parsed = parseItems(data[key], key, baseDir, isSeg, issues);
    items[key] = parsed.items;
    if (Array.isArray(data[key])) await checkItems(parsed.items, key, mode, issues, data[key] as unknown[], parsed.indices);
  }
  issues.sort((a, b) => naturalCompare(a.where, b.where));
  // When no file at all is found, the base directory is the likely culprit: say so first.
  const files = Object.values(items).reduce((n, list) => n + list.reduce((m, it) => m + (Array.isArray(it.image) ? it.image.length : 1) + (it.label ? 1 : 0), 0), 0);
  const missing = issues.filter((i) => i.problem.startsWith('file not found')).length;
  if (files >= 2 && missing === files) {
    issues.unshift({
      where: 'baseDir',
      problem: `none of the ${files} files exist under ${path.resolve(baseDir)}: wrong base directory? (set baseDir / --base-dir)`,
    });
  }
  return { items, issues };
}

/** Compare with embedded numbers in numeric order (training[2] before training[10]). */
function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

// ---- building a datalist from folders --------------------------------------------------------------------------------

const NIFTI_RE = /\.nii(\.gz)?$/i;
const ROLE = '(?:images?|imgs?|imaging|volumes?|vol|ct|labels?|lbls?|labelmaps?|seg|segs|segmentations?|masks?|gt)';
const ROLE_PREFIX = new RegExp(`^${ROLE}(?=$|[^a-z])[-_.]?`);
const ROLE_SUFFIX = new RegExp(`[-_.]?(?<![a-z])${ROLE}$`);

/**
 * The id that pairs an image file with its label file: the name without `.nii[.gz]`, lower-cased, with a leading or
 * trailing role word (img, image, label, seg, mask, ...) and an nnU-Net channel suffix `_0000` removed.
 * `img0001.nii.gz` and `label0001.nii.gz` → `0001`; `case_12_image.nii` and `case_12_seg.nii` → `case_12`.
 */
export function pairingKey(file: string): string {
  const stem = path.basename(file).replace(NIFTI_RE, '').toLowerCase();
  let k = stem.replace(/_0000$/, '');
  k = k.replace(ROLE_PREFIX, '').replace(ROLE_SUFFIX, '');
  k = k.replace(/^[-_.]+|[-_.]+$/g, '');
  return k || stem;
}

async function listNifti(dir: string, what: string, issues: DatalistIssue[]): Promise<string[]> {
  try {
    const names = (await fsp.readdir(dir, { withFileTypes: true }))
      .filter((d) => (d.isFile() || d.isSymbolicLink()) && NIFTI_RE.test(d.name) && !d.name.startsWith('.'))
      .map((d) => d.name);
    if (!names.length) issues.push({ where: what, problem: `no .nii or .nii.gz files in ${dir}` });
    return names.sort((a, b) => naturalCompare(a, b));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    issues.push({ where: what, problem: code === 'ENOENT' ? `folder not found: ${dir}` : code === 'ENOTDIR' ? `not a folder: ${dir}` : String(e) });
    return [];
  }
}

/** Split n items: `nVal` = round(n·fraction), at least 1 when fraction > 0 and n ≥ 2, at most n − 1. */
export function splitTrainVal(n: number, valFraction: number, rng: Random): { train: number[]; val: number[] } {
  const nVal = n < 2 || valFraction <= 0 ? 0 : Math.min(n - 1, Math.max(1, Math.round(n * valFraction)));
  const chosen = new Set(rng.permutation(n).slice(0, nVal));
  const all = Array.from({ length: n }, (_, i) => i);
  return { train: all.filter((i) => !chosen.has(i)), val: all.filter((i) => chosen.has(i)) };
}

export interface BuildDatalistOptions {
  imagesDir: string;
  labelsDir?: string;
  /** Default 0.2. */
  valFraction?: number;
  /** Default 0. */
  seed?: number;
  /** Folder the written paths are relative to (usually the output file's folder). */
  baseDir: string;
  /** Check that each image/label pair shares shape and affine (reads headers only); default true. */
  checkShapes?: boolean;
  name?: string;
  description?: string;
}

export interface BuiltDatalist {
  name: string;
  description: string;
  tensorImageSize: '3D';
  numTraining: number;
  training: Array<{ image: string; label?: string }>;
  validation: Array<{ image: string; label?: string }>;
}

const toPosix = (p: string) => p.split(path.sep).join('/');

/**
 * Build a Decathlon-style datalist from a folder of images (and a folder of labels paired by file name, see
 * `pairingKey`), with a seeded train/validation split. Throws DatalistError listing every unpaired file.
 */
export async function buildDatalist(opts: BuildDatalistOptions): Promise<BuiltDatalist> {
  const issues: DatalistIssue[] = [];
  const imagesDir = path.resolve(opts.imagesDir);
  const labelsDir = opts.labelsDir ? path.resolve(opts.labelsDir) : undefined;
  const images = await listNifti(imagesDir, 'images', issues);
  const labels = labelsDir ? await listNifti(labelsDir, 'labels', issues) : [];
  const pairs: Array<{ image: string; label?: string }> = [];
  if (labelsDir) {
    const byName = new Set(labels);
    const byKey = new Map<string, string[]>();
    for (const l of labels) byKey.set(pairingKey(l), [...(byKey.get(pairingKey(l)) ?? []), l]);
    const used = new Set<string>();
    for (const img of images) {
      let lab: string | undefined;
      if (byName.has(img)) lab = img;
      else {
        const cands = byKey.get(pairingKey(img)) ?? [];
        if (cands.length > 1) {
          issues.push({ where: `images/${img}`, problem: `ambiguous: labels ${cands.join(', ')} all have id "${pairingKey(img)}"` });
          continue;
        }
        lab = cands[0];
      }
      if (!lab) {
        issues.push({
          where: `images/${img}`,
          problem: `no label in ${labelsDir} (looked for "${img}" or a name with id "${pairingKey(img)}")`,
        });
        continue;
      }
      if (used.has(lab)) {
        issues.push({ where: `labels/${lab}`, problem: `matched by more than one image (second: ${img})` });
        continue;
      }
      used.add(lab);
      pairs.push({ image: path.join(imagesDir, img), label: path.join(labelsDir, lab) });
    }
    for (const l of labels) {
      if (!used.has(l) && !issues.some((i) => i.where === `labels/${l}`)) {
        issues.push({ where: `labels/${l}`, problem: `no image in ${imagesDir} with id "${pairingKey(l)}"` });
      }
    }
  } else {
    for (const img of images) pairs.push({ image: path.join(imagesDir, img) });
  }
  if (!issues.length && labelsDir && (opts.checkShapes ?? true)) {
    await Promise.all(
      pairs.map(async (p) => {
        const where = `images/${path.basename(p.image)}`;
        const [a, b] = await Promise.all([peekOrIssue(p.image, where, issues), peekOrIssue(p.label!, `labels/${path.basename(p.label!)}`, issues)]);
        if (!a || !b) return;
        if (a.shape.join() !== b.shape.join()) {
          issues.push({ where, problem: `image shape [${a.shape.join(', ')}] ≠ label shape [${b.shape.join(', ')}] (${path.basename(p.label!)})` });
        } else if (!allclose(flat(a.affine), flat(b.affine), 1e-4, 1e-3)) {
          issues.push({ where, problem: `image and label affines differ by up to ${maxAbsDiff(a.affine, b.affine).toPrecision(3)} mm (${path.basename(p.label!)})` });
        }
      }),
    );
  }
  if (issues.length) {
    issues.sort((a, b) => naturalCompare(a.where, b.where));
    throw new DatalistError(labelsDir ? `${imagesDir} + ${labelsDir}` : imagesDir, issues);
  }
  const seed = opts.seed ?? 0;
  const valFraction = opts.valFraction ?? 0.2;
  const { train, val } = splitTrainVal(pairs.length, valFraction, new Random(seed));
  const rel = (p: string) => toPosix(path.relative(path.resolve(opts.baseDir), p));
  const entry = (i: number) => (pairs[i].label ? { image: rel(pairs[i].image), label: rel(pairs[i].label!) } : { image: rel(pairs[i].image) });
  return {
    name: opts.name ?? path.basename(path.dirname(imagesDir)),
    description: opts.description ?? `built by ssl3d datalist (seed ${seed}, validation fraction ${valFraction})`,
    tensorImageSize: '3D',
    numTraining: train.length,
    training: train.map(entry),
    validation: val.map(entry),
  };
}
