/**
 * Training configs: typed, validated at load (unknown keys and wrong types are errors naming the key), overridable
 * from the command line (`--set train.lr=3e-4`), written into the run folder. Presets live in `configs/*.json`.
 *
 * Paths in a config (`data.data_root`, `data.json_path`, `logdir`, `pretrained`) are taken relative to the current
 * directory, as in the tutorial's scripts; `data.json_path` relative paths that do not exist there are also tried
 * relative to the package root (so the bundled `json_files/` work from anywhere).
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors';

const posInt = z.number().int().positive();
const nonNegInt = z.number().int().min(0);
const cube = z.union([posInt, z.array(posInt).length(3)]);

const DataSchema = z.strictObject({
  /** MONAI's `base_dir`: datalist paths are joined to it. */
  data_root: z.string().min(1),
  /** Decathlon-style datalist JSON. */
  json_path: z.string().min(1),
  train_key: z.string().default('training'),
  val_key: z.string().default('validation'),
  /** Use only the first N training items (the labeled-set size of the results table); null = all. */
  max_train: posInt.nullable().default(null),
  /** Use only the first N validation items; null = all. */
  max_val: posInt.nullable().default(null),
  /** Persistent cache of the deterministic preprocessing; null = none. */
  cache_dir: z.string().nullable().default(null),
  /** Data-loading worker threads (0 = on the main thread). */
  num_workers: nonNegInt.default(1),
  /** In-memory cache of preprocessed volumes per worker, MB. */
  memory_cache_mb: z.number().min(0).default(1024),
});

const ViTArgs = {
  in_channels: posInt.default(1),
  img_size: cube,
  hidden_size: posInt.default(768),
  mlp_dim: posInt.default(3072),
  num_heads: posInt.default(12),
  proj_type: z.literal('conv').default('conv'),
  dropout_rate: z.literal(0).default(0),
  qkv_bias: z.boolean().default(false),
};

const ViTAutoEncSchema = z.strictObject({
  ...ViTArgs,
  patch_size: cube.default(16),
  num_layers: posInt.default(12),
  out_channels: posInt.default(1),
  deconv_chns: posInt.default(16),
});

const UNETRSchema = z.strictObject({
  ...ViTArgs,
  out_channels: posInt.default(14),
  feature_size: posInt.default(16),
  norm_name: z.literal('instance').default('instance'),
  res_block: z.literal(true).default(true),
});

const common = {
  /** Seeds the model initialisation, the data order and every augmentation. */
  seed: nonNegInt.default(0),
  /** The run folder (config, metrics.jsonl, checkpoints, log). */
  logdir: z.string().min(1),
  data: DataSchema,
};

const PretrainSchema = z.strictObject({
  kind: z.literal('pretrain'),
  ...common,
  model: ViTAutoEncSchema,
  transforms: z.strictObject({
    patch: posInt.default(96),
    crops_per_volume: posInt.default(2),
    /** Resampling spacing in mm (tutorial: 2 mm isotropic); coarser spacings suit small CPU runs. */
    pixdim: z.array(z.number().positive()).length(3).default([2, 2, 2]),
  }),
  train: z.strictObject({
    max_epochs: posInt.default(500),
    /** Volumes per step (each gives `crops_per_volume` crops). */
    batch_size: posInt.default(4),
    lr: z.number().positive().default(1e-4),
    temperature: z.number().positive().default(0.05),
    /** Validate when `epoch % val_interval_epochs == 0` (0-based), as the tutorial. */
    val_interval_epochs: posInt.default(2),
    /** Stop after this many steps (null = run all epochs). */
    max_steps: posInt.nullable().default(null),
    /** Validation batches per validation (null = the whole validation list). */
    val_max_batches: posInt.nullable().default(null),
    checkpoint_every_steps: posInt.default(50),
    log_every_steps: posInt.default(1),
  }),
});

const FinetuneSchema = z.strictObject({
  kind: z.literal('finetune'),
  ...common,
  /** 'random' or 'pretrained' (then `pretrained` names a ViTAutoEnc/ViT checkpoint: .safetensors, .pt, .pth). */
  init: z.enum(['random', 'pretrained']).default('random'),
  pretrained: z.string().nullable().default(null),
  model: UNETRSchema,
  transforms: z.strictObject({
    patch: posInt.default(96),
    samples_per_volume: posInt.default(4),
    /**
     * How crops are centred: 'pos_neg' = RandCropByPosNegLabeld(pos 1, neg 1) as the tutorial; 'label_classes' =
     * RandCropByLabelClassesd, every class (background included) equally often unless `class_ratios` says otherwise.
     */
    crop_sampler: z.enum(['pos_neg', 'label_classes']).default('pos_neg'),
    class_ratios: z.array(z.number().min(0)).nullable().default(null),
    /** Zero-pad training volumes smaller than the patch (MONAI raises instead). */
    pad_to_patch: z.boolean().default(false),
    /** Resampling spacing in mm (tutorial: 1.5 × 1.5 × 2). */
    pixdim: z.array(z.number().positive()).length(3).default([1.5, 1.5, 2]),
  }),
  train: z.strictObject({
    max_steps: posInt.default(30000),
    /** Volumes per step (each gives `samples_per_volume` crops); the tutorial uses 1. */
    batch_size: posInt.default(1),
    lr: z.number().positive().default(1e-4),
    weight_decay: z.number().min(0).default(1e-5),
    val_every_steps: posInt.default(100),
    sw_batch_size: posInt.default(4),
    overlap: z.number().min(0).max(0.99).default(0.25),
    checkpoint_every_steps: posInt.default(100),
    log_every_steps: posInt.default(1),
  }),
});

export type PretrainConfig = z.infer<typeof PretrainSchema>;
export type FinetuneConfig = z.infer<typeof FinetuneSchema>;
export type TrainConfig = PretrainConfig | FinetuneConfig;
export type DataConfig = z.infer<typeof DataSchema>;

/** Package root (configs/ and json_files/ live there). */
export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');
export const CONFIG_DIR = path.join(PACKAGE_ROOT, 'configs');

function formatIssues(err: z.ZodError): string[] {
  return err.issues.map((i) => {
    const at = i.path.length ? i.path.join('.') : '(top level)';
    if (i.code === 'unrecognized_keys') return `${at}: unknown key(s) ${(i as { keys: string[] }).keys.map((k) => `'${k}'`).join(', ')}`;
    return `${at}: ${i.message}`;
  });
}

/** Cross-field rules MONAI would enforce when building the model / pipeline. */
function crossCheck(c: TrainConfig): string[] {
  const out: string[] = [];
  const img = typeof c.model.img_size === 'number' ? [c.model.img_size, c.model.img_size, c.model.img_size] : c.model.img_size;
  const patch = c.transforms.patch;
  if (img.some((s) => s !== patch)) out.push(`model.img_size [${img}] must equal the crop size transforms.patch ${patch}`);
  const vp = c.kind === 'pretrain' ? (typeof c.model.patch_size === 'number' ? c.model.patch_size : c.model.patch_size[0]) : 16;
  if (patch % vp) {
    out.push(`transforms.patch ${patch} is not divisible by the ViT patch size ${vp} (use a multiple of ${vp}, e.g. ${Math.max(vp, Math.round(patch / vp) * vp)})`);
  }
  if (c.model.hidden_size % c.model.num_heads) out.push(`model.hidden_size ${c.model.hidden_size} must be divisible by model.num_heads ${c.model.num_heads}`);
  if (c.kind === 'pretrain' && !Number.isInteger(Math.sqrt(vp))) out.push(`model.patch_size ${vp} must be a square (ViTAutoEnc's transposed-conv kernel is its square root)`);
  if (c.kind === 'finetune' && c.transforms.class_ratios && c.transforms.class_ratios.length !== c.model.out_channels) {
    out.push(`transforms.class_ratios has ${c.transforms.class_ratios.length} entries but model.out_channels is ${c.model.out_channels} (one ratio per class, background first)`);
  }
  if (c.kind === 'finetune' && c.init === 'pretrained' && !c.pretrained) out.push(`init is 'pretrained' but no 'pretrained' checkpoint is given`);
  return out;
}

/** Validate a parsed config object; `source` names it in errors. */
export function parseConfig(raw: unknown, source = '<config>'): TrainConfig {
  const kind = (raw as { kind?: unknown })?.kind;
  const schema = kind === 'pretrain' ? PretrainSchema : kind === 'finetune' ? FinetuneSchema : null;
  if (!schema) throw new ConfigError(source, [`kind: must be 'pretrain' or 'finetune', got ${JSON.stringify(kind)}`]);
  const r = schema.safeParse(raw);
  if (!r.success) throw new ConfigError(source, formatIssues(r.error));
  const cfg = r.data as TrainConfig;
  const cross = crossCheck(cfg);
  if (cross.length) throw new ConfigError(source, cross);
  return cfg;
}

/** A preset name (`pretrain_cpu_small`) or a path to a JSON file. */
export function resolveConfigPath(nameOrPath: string): string {
  if (existsSync(nameOrPath)) return path.resolve(nameOrPath);
  const preset = path.join(CONFIG_DIR, nameOrPath.endsWith('.json') ? nameOrPath : `${nameOrPath}.json`);
  if (existsSync(preset)) return preset;
  throw new ConfigError(nameOrPath, [`no such config file, and no preset of that name in ${CONFIG_DIR} (presets: ${listPresets().join(', ')})`]);
}

export function listPresets(): string[] {
  try {
    return require('node:fs')
      .readdirSync(CONFIG_DIR)
      .filter((f: string) => f.endsWith('.json'))
      .map((f: string) => f.replace(/\.json$/, ''))
      .sort();
  } catch {
    return [];
  }
}

/** Parse a `key.path=value` override: value as JSON when it parses (numbers, true, null, [..]), else a string. */
export function parseOverride(s: string): [string[], unknown] {
  const eq = s.indexOf('=');
  if (eq <= 0) throw new ConfigError('--set', [`'${s}' is not of the form key.path=value`]);
  const keyPath = s.slice(0, eq).trim().split('.');
  const text = s.slice(eq + 1);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = text;
  }
  return [keyPath, value];
}

/** Set `obj[a][b]... = value`, creating objects on the way (validation catches unknown keys afterwards). */
export function setPath(obj: Record<string, unknown>, keyPath: string[], value: unknown): void {
  let o = obj;
  for (const k of keyPath.slice(0, -1)) {
    if (o[k] === undefined || o[k] === null || typeof o[k] !== 'object') o[k] = {};
    o = o[k] as Record<string, unknown>;
  }
  o[keyPath[keyPath.length - 1]] = value;
}

export interface LoadConfigOptions {
  /** `key.path=value` strings, applied in order. */
  set?: string[];
  /** Already-parsed overrides (the CLI's named flags), applied after `set`. */
  overrides?: Array<[string[], unknown]>;
}

/** Read a preset or file, apply overrides, validate. Returns the config and the file it came from. */
export function loadConfig(nameOrPath: string, opts: LoadConfigOptions = {}): { config: TrainConfig; file: string } {
  const file = resolveConfigPath(nameOrPath);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(file, [`not valid JSON: ${(e as Error).message}`]);
  }
  for (const s of opts.set ?? []) setPath(raw, ...parseOverride(s));
  for (const [k, v] of opts.overrides ?? []) if (v !== undefined) setPath(raw, k, v);
  return { config: parseConfig(raw, file), file };
}

/** `json_path` as given if it exists, else relative to the package root (bundled json_files/), else as given. */
export function resolveJsonPath(p: string): string {
  if (path.isAbsolute(p) || existsSync(p)) return path.resolve(p);
  const alt = path.join(PACKAGE_ROOT, p);
  return existsSync(alt) ? alt : path.resolve(p);
}
