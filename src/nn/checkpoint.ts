/**
 * Checkpoints of ssl3d networks: save/load safetensors with MONAI key names and PyTorch layouts (so MONAI's
 * `model.load_state_dict(safetensors.torch.load_file(path))` works unchanged), import of PyTorch `.pt`/`.pth` files,
 * and the tutorial's transfer of a pretrained ViTAutoEnc backbone into UNETR.
 */
import { promises as fsp } from 'node:fs';
import { CheckpointError, decodeSafetensors, saveSafetensors, type StateDict } from '../io/checkpoint/safetensors';
import { loadTorchCheckpoint } from '../io/checkpoint/torch';
import type { Module } from './module';

/** Keys that MONAI checkpoints may hold and that never affect the forward pass (spec §3.5). */
export function isIgnorableKey(k: string): boolean {
  return (
    /(^|\.)cls_token$/.test(k) ||
    /(^|\.)(norm_)?cross_attn\./.test(k) ||
    /^encoder[23]\.blocks\.\d+\.1\.conv3\./.test(k) // dead conv3 of MONAI ≤ 0.8 UnetResBlocks
  );
}


/** Read a state dict from `.safetensors` or a PyTorch `torch.save` file (`{"state_dict": ...}` or bare). */
export async function readStateDict(file: string): Promise<{ tensors: StateDict; extra: Record<string, unknown> }> {
  let head: Buffer;
  try {
    const fh = await fsp.open(file, 'r');
    head = Buffer.alloc(4);
    await fh.read(head, 0, 4, 0);
    await fh.close();
  } catch (e) {
    throw new CheckpointError(file, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message);
  }
  if (head[0] === 0x50 && head[1] === 0x4b) {
    const r = await loadTorchCheckpoint(file);
    return { tensors: r.tensors, extra: r.extra };
  }
  const { tensors, metadata } = decodeSafetensors(await fsp.readFile(file), file);
  return { tensors, extra: metadata };
}

/**
 * MONAI 1.4–1.5 create unused cross-attention parameters in every TransformerBlock (`norm_cross_attn.*` and
 * `cross_attn.*`), MONAI 1.6 only `norm_cross_attn.*`, and `load_state_dict(strict=True)` wants exactly the model's
 * keys. Insert them after each `blocks.i.norm2.bias`, in MONAI's order (LayerNorm ones/zeros, linear weights zero:
 * they never take part in the forward pass).
 */
export function withMonaiCrossAttention(sd: StateDict, linears = true): StateDict {
  const out: StateDict = new Map();
  for (const [k, v] of sd) {
    out.set(k, v);
    const m = /^(.*blocks\.\d+\.)norm2\.bias$/.exec(k);
    if (!m) continue;
    const d = v.shape[0];
    const p = m[1];
    const vec = (fill: number) => ({ shape: [d], data: new Float32Array(d).fill(fill) });
    const mat = () => ({ shape: [d, d], data: new Float32Array(d * d) });
    out.set(`${p}norm_cross_attn.weight`, vec(1));
    out.set(`${p}norm_cross_attn.bias`, vec(0));
    if (!linears) continue;
    out.set(`${p}cross_attn.out_proj.weight`, mat());
    out.set(`${p}cross_attn.out_proj.bias`, vec(0));
    out.set(`${p}cross_attn.to_q.weight`, mat());
    out.set(`${p}cross_attn.to_k.weight`, mat());
    out.set(`${p}cross_attn.to_v.weight`, mat());
  }
  return out;
}

export interface SaveCheckpointOptions {
  metadata?: Record<string, string>;
  /** Which MONAI's `load_state_dict(strict=True)` the file must satisfy: 'monai-1.6' (default: adds the unused
   *  `norm_cross_attn` keys), 'monai-1.4' (MONAI 1.4–1.5: also the unused `cross_attn` linears), or 'minimal' (only
   *  the parameters the forward pass uses: MONAI 0.9–1.3). `loadCheckpoint` reads all of them. */
  layout?: 'monai-1.6' | 'monai-1.4' | 'minimal';
}

/** Save a model's parameters as safetensors (MONAI keys, PyTorch layouts), atomically. */
export async function saveCheckpoint(model: Module, file: string, opts: SaveCheckpointOptions = {}): Promise<void> {
  const sd = await model.stateDictAsync();
  const layout = opts.layout ?? 'monai-1.6';
  const out = layout === 'minimal' ? sd : withMonaiCrossAttention(sd, layout === 'monai-1.4');
  await saveSafetensors(file, out, { layout, ...(opts.metadata ?? {}) });
}

export interface LoadReport {
  loaded: string[];
  ignored: string[];
  missing: string[];
}

/**
 * Load a checkpoint into `model`: every parameter must be present and of the right shape; keys MONAI leaves unused
 * (cls_token, cross-attention, dead conv3) are ignored; any other unknown key is an error (wrong architecture).
 */
export async function loadCheckpoint(model: Module, file: string): Promise<LoadReport> {
  const { tensors } = await readStateDict(file);
  const r = model.loadStateDict(tensors, { strict: true, source: file });
  const ignored = r.unexpected.filter(isIgnorableKey);
  const bad = r.unexpected.filter((k) => !isIgnorableKey(k));
  if (bad.length) {
    throw new CheckpointError(file, `${bad.length} key(s) do not belong to this model (wrong architecture?), e.g. ${bad.slice(0, 5).join(', ')}`);
  }
  return { loaded: r.loaded, ignored, missing: r.missing };
}

/**
 * The tutorial's backbone transfer (spec §3.3): copy the checkpoint tensors whose names exist in UNETR's `vit.`
 * (patch embedding, position embedding, blocks, final norm: 137 tensors for ViT-B), skip the rest
 * (`conv3d_transpose*`, `cls_token`, cross-attention). The decoder keeps its random initialisation.
 */
export function loadViTBackbone(unetr: Module, tensors: StateDict, source = '<checkpoint>'): { copied: string[]; skipped: string[] } {
  const own = new Set(unetr.namedParameters().map(([k]) => k));
  const prefixed: StateDict = new Map();
  const skipped: string[] = [];
  for (const [k, v] of tensors) {
    const key = k.startsWith('vit.') ? k : `vit.${k}`;
    if (own.has(key)) prefixed.set(key, v);
    else skipped.push(k);
  }
  const r = unetr.loadStateDict(prefixed, { source });
  return { copied: r.loaded, skipped };
}
