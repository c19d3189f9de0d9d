/**
 * Build a network from a checkpoint alone: the architecture and its MONAI constructor arguments travel with the
 * weights, so `ssl3d segment run/` needs nothing else.
 *
 * Where the architecture comes from, first match wins per field (`opts` → safetensors metadata → sidecar JSON):
 * - `opts.arch` / `opts.archConfig` (the CLI's `--arch` / `--arch-json`); needed for MONAI-made `.pt`/`.pth` files;
 * - safetensors metadata written by ssl3d: `ssl3d.arch` (`'unetr' | 'vitautoenc'`) and `ssl3d.arch_config` (JSON of
 *   the MONAI constructor arguments), see {@link checkpointMetadata};
 * - a sidecar `<checkpoint without .safetensors/.pt/.pth>.json` holding `{ "arch": ..., "arch_config": {...} }`.
 *
 * `source` may be a run directory: `<dir>/checkpoints/best.safetensors`, else `last.safetensors` (else `prev.safetensors`,
 * present alone only while a training run is replacing `last`).
 * Every failure is a `CheckpointError` naming the file.
 */
import { existsSync, promises as fsp, statSync } from 'node:fs';
import * as path from 'node:path';
import { Ssl3dError } from '../errors';
import { CheckpointError } from '../io/checkpoint/safetensors';
import { isIgnorableKey, readStateDict, type LoadReport } from './checkpoint';
import { UNETR, type UNETRConfig } from './nets/unetr';
import { ViTAutoEnc, type ViTAutoEncConfig } from './nets/vit';

export type ArchName = 'unetr' | 'vitautoenc';
export const ARCH_NAMES: readonly ArchName[] = ['unetr', 'vitautoenc'];

/** safetensors metadata keys (values are strings). */
export const METADATA_ARCH_KEY = 'ssl3d.arch';
export const METADATA_ARCH_CONFIG_KEY = 'ssl3d.arch_config';

/** What a checkpoint's MONAI constructor arguments must at least contain. */
const REQUIRED: Record<ArchName, string[]> = {
  unetr: ['in_channels', 'out_channels', 'img_size'],
  vitautoenc: ['in_channels', 'img_size', 'patch_size'],
};

const DESCRIBE: Record<ArchName, string> = {
  unetr: 'a UNETR (segmentation network)',
  vitautoenc: 'a ViTAutoEnc (the self-supervised autoencoder)',
};

/** The metadata record for `saveCheckpoint(model, file, { metadata: checkpointMetadata(arch, cfg) })`. */
export function checkpointMetadata(arch: ArchName, archConfig: UNETRConfig | ViTAutoEncConfig | Record<string, unknown>): Record<string, string> {
  if (!ARCH_NAMES.includes(arch)) throw new CheckpointError('<metadata>', `unknown arch '${String(arch)}'; use one of ${ARCH_NAMES.join(', ')}`);
  return { [METADATA_ARCH_KEY]: arch, [METADATA_ARCH_CONFIG_KEY]: JSON.stringify(archConfig) };
}

export interface LoadModelOptions {
  /** Architecture, overriding the checkpoint's (needed for `.pt`/`.pth` files without a sidecar). */
  arch?: ArchName | string;
  /** MONAI constructor arguments, overriding the checkpoint's. */
  archConfig?: Record<string, unknown>;
  /** Refuse any other architecture (checked before the weights are read into a model). */
  requireArch?: ArchName;
  /** Seed of the (immediately overwritten) initialisation. */
  seed?: number;
}

export interface LoadModelReport extends LoadReport {
  /** The checkpoint file actually read (a run directory resolves to its best/last checkpoint). */
  file: string;
  /** Where arch and arch_config came from. */
  archSource: 'options' | 'metadata' | 'sidecar';
  configSource: 'options' | 'metadata' | 'sidecar';
  /** The safetensors metadata / extra top-level entries of a `.pt` file. */
  metadata: Record<string, unknown>;
}

export interface LoadedModel {
  /** In eval mode. The caller owns it (dispose() when done). */
  model: UNETR | ViTAutoEnc;
  arch: ArchName;
  archConfig: Record<string, unknown>;
  report: LoadModelReport;
}

/** `source` itself, or a run directory's `checkpoints/best.safetensors` (else `last.safetensors`). */
export function resolveCheckpointPath(source: string): string {
  let isDir = false;
  try {
    isDir = statSync(source).isDirectory();
  } catch (e) {
    throw new CheckpointError(source, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message);
  }
  if (!isDir) return source;
  // prev.* exists alone only for the instant in which a training run replaces last.*
  for (const name of ['best.safetensors', 'last.safetensors', 'prev.safetensors']) {
    const f = path.join(source, 'checkpoints', name);
    if (existsSync(f)) return f;
  }
  throw new CheckpointError(source, 'is a directory without checkpoints/best.safetensors or checkpoints/last.safetensors (give a run directory or a checkpoint file)');
}

/** `<file without .safetensors/.pt/.pth>.json`. */
export function sidecarPath(file: string): string {
  return file.replace(/\.(safetensors|pth?)$/i, '') + '.json';
}

function parseArch(v: unknown, file: string, where: string): ArchName {
  if (typeof v !== 'string' || !ARCH_NAMES.includes(v as ArchName)) {
    throw new CheckpointError(file, `${where}: unknown arch ${JSON.stringify(v)}; use one of ${ARCH_NAMES.join(', ')}`);
  }
  return v as ArchName;
}

function parseConfig(v: unknown, file: string, where: string): Record<string, unknown> {
  let c = v;
  if (typeof c === 'string') {
    try {
      c = JSON.parse(c);
    } catch (e) {
      throw new CheckpointError(file, `${where}: arch_config is not valid JSON (${(e as Error).message})`);
    }
  }
  if (typeof c !== 'object' || c === null || Array.isArray(c)) {
    throw new CheckpointError(file, `${where}: arch_config must be a JSON object of MONAI constructor arguments, got ${JSON.stringify(c)}`);
  }
  return c as Record<string, unknown>;
}

async function readSidecar(file: string): Promise<{ path: string; arch?: unknown; config?: unknown } | null> {
  const p = sidecarPath(file);
  if (p === file || !existsSync(p)) return null;
  let j: unknown;
  try {
    j = JSON.parse(await fsp.readFile(p, 'utf8'));
  } catch (e) {
    throw new CheckpointError(p, `sidecar of ${file} is not valid JSON (${(e as Error).message})`);
  }
  if (typeof j !== 'object' || j === null) throw new CheckpointError(p, 'sidecar must be a JSON object { "arch": ..., "arch_config": {...} }');
  const o = j as Record<string, unknown>;
  return { path: p, arch: o.arch, config: o.arch_config };
}

/** Build an uninitialised-weights model of `arch` from MONAI constructor arguments (clear errors naming `file`). */
export function buildModel(arch: ArchName, cfg: Record<string, unknown>, file = '<config>', seed = 0): UNETR | ViTAutoEnc {
  const missing = REQUIRED[arch].filter((k) => cfg[k] === undefined);
  if (missing.length) {
    throw new CheckpointError(file, `arch_config for ${arch} lacks ${missing.join(', ')} (got ${JSON.stringify(cfg)})`);
  }
  try {
    return arch === 'unetr' ? new UNETR(cfg as unknown as UNETRConfig, seed) : new ViTAutoEnc(cfg as unknown as ViTAutoEncConfig, seed);
  } catch (e) {
    if (e instanceof Ssl3dError && !(e instanceof CheckpointError)) throw new CheckpointError(file, `arch_config for ${arch}: ${e.message}`);
    throw e;
  }
}

/** Load a checkpoint (file or run directory) into a new network of the architecture it declares; eval mode. */
export async function loadModel(source: string, opts: LoadModelOptions = {}): Promise<LoadedModel> {
  const file = resolveCheckpointPath(source);
  const { tensors, extra } = await readStateDict(file);
  const sidecar = await readSidecar(file);

  const metaArch = extra[METADATA_ARCH_KEY];
  const metaCfg = extra[METADATA_ARCH_CONFIG_KEY];
  let arch: ArchName;
  let archSource: LoadModelReport['archSource'];
  if (opts.arch !== undefined) {
    arch = parseArch(opts.arch, file, '--arch');
    archSource = 'options';
    if (metaArch !== undefined && metaArch !== arch) {
      throw new CheckpointError(file, `holds ${DESCRIBE[parseArch(metaArch, file, 'metadata')]} ('${String(metaArch)}'), not the requested '${arch}'`);
    }
  } else if (metaArch !== undefined) {
    arch = parseArch(metaArch, file, `metadata '${METADATA_ARCH_KEY}'`);
    archSource = 'metadata';
  } else if (sidecar?.arch !== undefined) {
    arch = parseArch(sidecar.arch, sidecar.path, 'sidecar');
    archSource = 'sidecar';
  } else {
    throw new CheckpointError(
      file,
      `the architecture is unknown: no '${METADATA_ARCH_KEY}' metadata and no sidecar ${sidecarPath(file)}; ` +
        'pass --arch unetr|vitautoenc and --arch-json FILE (MONAI constructor arguments), as for MONAI-made .pt/.pth files',
    );
  }
  if (opts.requireArch && arch !== opts.requireArch) {
    throw new CheckpointError(file, `holds ${DESCRIBE[arch]}; this needs ${DESCRIBE[opts.requireArch]} checkpoint`);
  }

  let archConfig: Record<string, unknown>;
  let configSource: LoadModelReport['configSource'];
  const sidecarMatches = sidecar?.config !== undefined && (sidecar.arch === undefined || sidecar.arch === arch);
  if (opts.archConfig !== undefined) {
    archConfig = parseConfig(opts.archConfig, file, '--arch-json');
    configSource = 'options';
  } else if (metaCfg !== undefined && (metaArch === undefined || metaArch === arch)) {
    archConfig = parseConfig(metaCfg, file, `metadata '${METADATA_ARCH_CONFIG_KEY}'`);
    configSource = 'metadata';
  } else if (sidecar && sidecarMatches) {
    archConfig = parseConfig(sidecar.config, sidecar.path, 'sidecar');
    configSource = 'sidecar';
  } else {
    throw new CheckpointError(
      file,
      `the ${arch} constructor arguments are unknown: no '${METADATA_ARCH_CONFIG_KEY}' metadata and no sidecar ${sidecarPath(file)}; pass --arch-json FILE`,
    );
  }

  const model = buildModel(arch, archConfig, file, opts.seed ?? 0);
  try {
    const r = model.loadStateDict(tensors, { strict: true, source: file });
    const ignored = r.unexpected.filter(isIgnorableKey);
    const bad = r.unexpected.filter((k) => !isIgnorableKey(k));
    if (bad.length) {
      throw new CheckpointError(file, `${bad.length} key(s) do not belong to ${DESCRIBE[arch]} (wrong architecture?), e.g. ${bad.slice(0, 5).join(', ')}`);
    }
    model.eval();
    return {
      model,
      arch,
      archConfig,
      report: { loaded: r.loaded, ignored, missing: r.missing, file, archSource, configSource, metadata: extra },
    };
  } catch (e) {
    model.dispose();
    if (e instanceof CheckpointError && /missing from the checkpoint|has shape/.test(e.message)) {
      throw new CheckpointError(file, `${e.problem} — the weights do not fit ${DESCRIBE[arch]} with arch_config ${JSON.stringify(archConfig)}`);
    }
    throw e;
  }
}
