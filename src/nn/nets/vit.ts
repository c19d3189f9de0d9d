/** MONAI `ViT` (classification=False) and `ViTAutoEnc`, with MONAI's constructor arguments and state-dict keys. */
import * as tf from '@tensorflow/tfjs';
import { Random } from '../../core/random';
import { ArgumentError } from '../../errors';
import { PatchEmbeddingBlock, TransformerBlock } from '../blocks/transformer';
import { ConvTranspose3d, LayerNorm } from '../layers';
import { Init, Module } from '../module';

export interface ViTConfig {
  in_channels: number;
  img_size: number | number[];
  patch_size: number | number[];
  /** 'conv' (strided Conv3d patch embedding; the tutorial's). Older MONAI called it `pos_embed`. */
  proj_type?: 'conv';
  pos_embed?: 'conv';
  hidden_size?: number;
  mlp_dim?: number;
  num_layers?: number;
  num_heads?: number;
  dropout_rate?: number;
  qkv_bias?: boolean;
  spatial_dims?: number;
}

export interface ViTAutoEncConfig extends ViTConfig {
  out_channels?: number;
  deconv_chns?: number;
}

function cube(v: number | number[], name: string): number[] {
  const t = typeof v === 'number' ? [v, v, v] : v;
  if (t.length !== 3) throw new ArgumentError(`${name} must have 3 values, got ${JSON.stringify(v)}`);
  return t;
}

export function resolveViT(c: ViTConfig) {
  const proj = c.proj_type ?? c.pos_embed ?? 'conv';
  if (proj !== 'conv') throw new ArgumentError(`proj_type '${proj}' is not supported (use 'conv', the tutorial's)`);
  if ((c.spatial_dims ?? 3) !== 3) throw new ArgumentError('only spatial_dims = 3 is supported');
  if ((c.dropout_rate ?? 0) !== 0) throw new ArgumentError('dropout_rate must be 0 (the tutorial uses 0)');
  const img = cube(c.img_size, 'img_size');
  const patch = cube(c.patch_size, 'patch_size');
  if (new Set(patch).size !== 1) throw new ArgumentError(`only cubic patches are supported, got [${patch}]`);
  img.forEach((s, i) => {
    if (s % patch[i]) throw new ArgumentError(`img_size [${img}] must be divisible by patch_size [${patch}]`);
  });
  const r = {
    inChannels: c.in_channels,
    img,
    patch: patch[0],
    hidden: c.hidden_size ?? 768,
    mlp: c.mlp_dim ?? 3072,
    layers: c.num_layers ?? 12,
    heads: c.num_heads ?? 12,
    qkvBias: c.qkv_bias ?? false,
  };
  if (r.hidden % r.heads) throw new ArgumentError(`hidden_size ${r.hidden} must be divisible by num_heads ${r.heads}`);
  return r;
}

/** The ViT body (patch embedding, blocks, final norm) registered on `owner` under MONAI's names. */
export class ViTBody {
  readonly patchEmbedding: PatchEmbeddingBlock;
  readonly blocks: TransformerBlock[];
  readonly norm: LayerNorm;
  constructor(
    add: <M extends Module>(name: string, m: M) => M,
    init: Init,
    readonly cfg: ReturnType<typeof resolveViT>,
  ) {
    this.patchEmbedding = add('patch_embedding', new PatchEmbeddingBlock(init, cfg.inChannels, cfg.img, cfg.patch, cfg.hidden));
    this.blocks = Array.from({ length: cfg.layers }, (_, i) => add(`blocks.${i}`, new TransformerBlock(init, cfg.hidden, cfg.mlp, cfg.heads, cfg.qkvBias)));
    this.norm = add('norm', new LayerNorm(cfg.hidden));
  }
  /** x [B, X, Y, Z, C] → (normed tokens [B, n, hidden], hidden states after each block). */
  forward(x: tf.Tensor5D): { x: tf.Tensor3D; hidden: tf.Tensor3D[] } {
    // Each block in its own tidy: in inference its intermediates are freed at once (under a gradient tape the
    // tensors the backward pass needs are kept by the tape anyway).
    // the blocks run on tokens as rows [B·n, hidden] (TransformerBlock.forwardRows: fewer reshapes)
    const B = x.shape[0];
    const tokens = (rows: tf.Tensor) => tf.reshape(rows, [B, -1, this.cfg.hidden]) as tf.Tensor3D;
    let h = tf.tidy(() => tf.reshape(this.patchEmbedding.forward(x), [-1, this.cfg.hidden]) as tf.Tensor2D);
    const hidden: tf.Tensor3D[] = [];
    for (const b of this.blocks) {
      const prev = h;
      h = tf.tidy(() => b.forwardRows(prev, B));
      prev.dispose();
      hidden.push(tokens(h));
    }
    const out = tf.tidy(() => tokens(this.norm.forward(h)));
    h.dispose();
    return { x: out, hidden };
  }
}

/** MONAI `ViT(..., classification=False)`. */
export class ViT extends Module {
  readonly body: ViTBody;
  constructor(config: ViTConfig, seed = 0) {
    super();
    this.body = new ViTBody((n, m) => this.addModule(n, m), new Init(new Random(seed)), resolveViT(config));
  }
  forward(x: tf.Tensor5D): { x: tf.Tensor3D; hidden: tf.Tensor3D[] } {
    return this.body.forward(x);
  }
}

/**
 * MONAI `ViTAutoEnc`: the ViT, then two transposed convolutions (hidden → deconv_chns → out_channels, kernel =
 * stride = √patch each; no activation). Input/output NDHWC.
 */
export class ViTAutoEnc extends Module {
  readonly body: ViTBody;
  readonly convT1: ConvTranspose3d;
  readonly convT2: ConvTranspose3d;
  constructor(config: ViTAutoEncConfig, seed = 0) {
    super();
    const cfg = resolveViT(config);
    const init = new Init(new Random(seed));
    this.body = new ViTBody((n, m) => this.addModule(n, m), init, cfg);
    const k = Math.sqrt(cfg.patch);
    if (!Number.isInteger(k)) throw new ArgumentError(`ViTAutoEnc: the transposed-conv kernel is √patch_size, so patch_size ${cfg.patch} must be a square (e.g. 16)`);
    const deconv = config.deconv_chns ?? 16;
    this.convT1 = this.addModule('conv3d_transpose', new ConvTranspose3d(init, cfg.hidden, deconv, k));
    this.convT2 = this.addModule('conv3d_transpose_1', new ConvTranspose3d(init, deconv, config.out_channels ?? 1, k));
  }
  forward(x: tf.Tensor5D): { out: tf.Tensor5D; hidden: tf.Tensor3D[] } {
    const { x: t, hidden } = this.body.forward(x);
    const [gx, gy, gz] = this.body.patchEmbedding.grid;
    const vol = tf.reshape(t, [x.shape[0], gx, gy, gz, this.body.cfg.hidden]) as tf.Tensor5D;
    return { out: tf.tidy(() => this.convT2.forward(this.convT1.forward(vol))), hidden };
  }
  /**
   * The reconstructions of two views (the tutorial's `model(inputs)`, `model(inputs_2)`) in one pass over the batch
   * [x1; x2]: the same outputs and gradients as two calls of `forward` (every layer acts per sample), with half the
   * kernel calls, and each weight's gradient summed inside its matmul instead of added up over two uses.
   */
  forwardViews(x1: tf.Tensor5D, x2: tf.Tensor5D): [tf.Tensor5D, tf.Tensor5D] {
    if (!tf.util.arraysEqual(x1.shape.slice(1), x2.shape.slice(1))) {
      throw new ArgumentError(`ViTAutoEnc.forwardViews: the views' shapes [${x1.shape}] and [${x2.shape}] differ beyond the batch axis`);
    }
    return tf.tidy(() => {
      const { out } = this.forward(tf.concat([x1, x2], 0) as tf.Tensor5D);
      return tf.split(out, [x1.shape[0], x2.shape[0]], 0) as [tf.Tensor5D, tf.Tensor5D];
    });
  }
}
