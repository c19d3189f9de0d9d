/**
 * A rough estimate of the host memory a training step needs, printed before training starts so a config that
 * cannot fit fails early with advice instead of deep into a run. Calibrated against measured peak RSS (see the
 * README's benchmark section); it is an estimate, not a bound.
 */
import * as os from 'node:os';
import type { TrainConfig } from './config';

export interface MemoryEstimate {
  parameters: number;
  /** Weights, gradients and the two Adam moments. */
  paramBytes: number;
  /** Activations kept for the backward pass, for one step. */
  activationBytes: number;
  totalBytes: number;
  availableBytes: number;
  fits: boolean;
}

function cube(v: number | number[]): number {
  return typeof v === 'number' ? v ** 3 : v[0] * v[1] * v[2];
}

/** Parameters of the ViT body (patch embedding, position embedding, blocks, final norm). */
function vitParams(inCh: number, patch: number, tokens: number, h: number, mlp: number, layers: number, qkvBias: boolean): number {
  const embed = inCh * patch ** 3 * h + h + tokens * h;
  const block = 4 * h + (3 * h * h + (qkvBias ? 3 * h : 0)) + (h * h + h) + (h * mlp + mlp) + (mlp * h + h);
  return embed + layers * block + 2 * h;
}

export function estimateTrainingMemory(c: TrainConfig): MemoryEstimate {
  const m = c.model;
  const V = cube(m.img_size);
  const patch = c.kind === 'pretrain' ? (typeof c.model.patch_size === 'number' ? c.model.patch_size : c.model.patch_size[0]) : 16;
  const layers = c.kind === 'pretrain' ? c.model.num_layers : 12;
  const tokens = V / patch ** 3;
  const h = m.hidden_size;
  let params = vitParams(m.in_channels, patch, tokens, h, m.mlp_dim, layers, m.qkv_bias);
  // Activations per crop (floats): per transformer layer ≈ tokens·(10·h + 2·mlp) + 3·heads·tokens² (attention).
  const perLayer = tokens * (10 * h + 2 * m.mlp_dim) + 3 * m.num_heads * tokens * tokens;
  let perCrop = layers * perLayer;
  let crops: number;
  if (c.kind === 'pretrain') {
    const k = Math.sqrt(patch);
    const d = c.model.deconv_chns;
    params += h * d * k ** 3 + d + d * m.out_channels * k ** 3 + m.out_channels;
    perCrop = 2 * (perCrop + (V / k ** 3) * d * 2 + V * m.out_channels * 4); // two views
    crops = c.train.batch_size * c.transforms.crops_per_volume;
  } else {
    const f = c.model.feature_size;
    // decoder/encoder convolutions: ≈ 27·f floats per voxel at full resolution over all levels, plus the logits
    params += 27 * f * f * 40 + h * f * 200; // order of magnitude of the conv weights (small next to the ViT)
    perCrop += V * (27 * f + 6 * m.out_channels);
    crops = c.train.batch_size * c.transforms.samples_per_volume;
  }
  const paramBytes = 16 * params;
  // TF.js eager keeps forward tensors plus gradient temporaries: ×2 margin on the activations.
  const activationBytes = 2 * 4 * perCrop * crops;
  const totalBytes = paramBytes + activationBytes + 300 * 2 ** 20; // runtime + data pipeline
  const availableBytes = os.totalmem();
  return { parameters: params, paramBytes, activationBytes, totalBytes, availableBytes, fits: totalBytes < 0.9 * availableBytes };
}

export function formatBytes(b: number): string {
  return b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(1)} GiB` : `${(b / 2 ** 20).toFixed(0)} MiB`;
}

export function describeEstimate(e: MemoryEstimate): string {
  return (
    `memory estimate: ${formatBytes(e.totalBytes)} (parameters ${(e.parameters / 1e6).toFixed(1)} M → ${formatBytes(e.paramBytes)} with ` +
    `gradients and Adam moments; activations ≈ ${formatBytes(e.activationBytes)} per step); this machine has ${formatBytes(e.availableBytes)}`
  );
}
