/** MONAI's ViT building blocks: PatchEmbeddingBlock (conv), SABlock, MLPBlock, TransformerBlock (pre-norm). */
import * as tf from '@tensorflow/tfjs';
import { ArgumentError } from '../../errors';
import { Conv3d, LayerNorm, Linear } from '../layers';
import { Init, Module } from '../module';
import * as ops from '../ops';

export class PatchEmbeddingBlock extends Module {
  readonly positionEmbeddings: tf.Variable;
  readonly patchEmbeddings: Conv3d;
  readonly grid: [number, number, number];
  constructor(init: Init, inChannels: number, imgSize: number[], readonly patchSize: number, readonly hidden: number) {
    super();
    if (imgSize.some((s) => s % patchSize)) throw new ArgumentError(`img_size [${imgSize}] must be divisible by patch_size ${patchSize}`);
    this.grid = [imgSize[0] / patchSize, imgSize[1] / patchSize, imgSize[2] / patchSize];
    const n = this.grid[0] * this.grid[1] * this.grid[2];
    this.positionEmbeddings = this.addParam('position_embeddings', init.truncNormal([1, n, hidden], 0.02));
    this.patchEmbeddings = this.addModule('patch_embeddings', new Conv3d(init, inChannels, hidden, patchSize, patchSize));
  }
  /** x [B, X, Y, Z, C] → tokens [B, n, hidden] (token t = x·gy·gz + y·gz + z, as MONAI's flatten(2)). */
  forward(x: tf.Tensor5D): tf.Tensor3D {
    const y = this.patchEmbeddings.forward(x);
    const B = x.shape[0];
    return tf.add(tf.reshape(y, [B, -1, this.hidden]), this.positionEmbeddings) as tf.Tensor3D;
  }
}

/** f on tokens as rows: x [B, T, D] → [B·T, D] → f → [B, T, D]. */
function onRows(x: tf.Tensor3D, f: (rows: tf.Tensor2D, B: number) => tf.Tensor2D): tf.Tensor3D {
  const [B, T, D] = x.shape;
  return tf.reshape(f(tf.reshape(x, [B * T, D]) as tf.Tensor2D, B), [B, T, D]) as tf.Tensor3D;
}

export class SABlock extends Module {
  readonly qkv: Linear;
  readonly outProj: Linear;
  constructor(init: Init, readonly hidden: number, readonly heads: number, qkvBias = false) {
    super();
    if (hidden % heads) throw new ArgumentError(`hidden_size ${hidden} must be divisible by num_heads ${heads}`);
    // MONAI registers out_proj before qkv
    this.outProj = this.addModule('out_proj', new Linear(init, hidden, hidden));
    this.qkv = this.addModule('qkv', new Linear(init, hidden, 3 * hidden, qkvBias));
  }
  forward(x: tf.Tensor3D): tf.Tensor3D {
    return onRows(x, (rows, B) => this.forwardRows(rows, B));
  }
  /** The same on tokens as rows, x [B·T, D] → [B·T, D] (sample-major), so the linear layers need no reshapes. */
  forwardRows(x: tf.Tensor2D, B: number): tf.Tensor2D {
    const D = x.shape[1];
    const H = this.heads,
      d = D / H;
    // einops "b h (qkv l d) -> qkv b l h d", as [B·H, T, d] each; the scale 1/√d on q instead of on the scores
    const [q, k, v] = ops.splitHeads(this.qkv.forward(x) as tf.Tensor2D, B, H, 3, d ** -0.5);
    const att = ops.softmax(ops.bmmNT(q, k)) as tf.Tensor3D;
    return this.outProj.forward(ops.mergeHeads([ops.bmm(att, v)], B)) as tf.Tensor2D;
  }
}

export class MLPBlock extends Module {
  readonly linear1: Linear;
  readonly linear2: Linear;
  constructor(init: Init, hidden: number, mlp: number) {
    super();
    this.linear1 = this.addModule('linear1', new Linear(init, hidden, mlp));
    this.linear2 = this.addModule('linear2', new Linear(init, mlp, hidden));
  }
  forward(x: tf.Tensor): tf.Tensor {
    // linear1's bias added inside the activation (one op on native with ssl3d's ops; else gelu(x·W + b))
    const { weight, bias } = this.linear1;
    const h = ops.linear(x, weight as tf.Tensor2D);
    return this.linear2.forward(bias ? ops.biasGelu(h, bias as tf.Tensor1D) : ops.gelu(h));
  }
}

export class TransformerBlock extends Module {
  readonly mlp: MLPBlock;
  readonly norm1: LayerNorm;
  readonly attn: SABlock;
  readonly norm2: LayerNorm;
  constructor(init: Init, hidden: number, mlp: number, heads: number, qkvBias = false) {
    super();
    // registration order = MONAI 0.8 state-dict order: mlp, norm1, attn, norm2
    this.mlp = this.addModule('mlp', new MLPBlock(init, hidden, mlp));
    this.norm1 = this.addModule('norm1', new LayerNorm(hidden));
    this.attn = this.addModule('attn', new SABlock(init, hidden, heads, qkvBias));
    this.norm2 = this.addModule('norm2', new LayerNorm(hidden));
  }
  forward(x: tf.Tensor3D): tf.Tensor3D {
    return onRows(x, (rows, B) => this.forwardRows(rows, B));
  }
  /**
   * The block on tokens as rows, x [B·T, D] (sample-major) → [B·T, D]: what ViTBody runs, so that layer norms,
   * linear layers and residual adds need no reshapes (each one is a kernel dispatch on the native backend).
   */
  forwardRows(x: tf.Tensor2D, B: number): tf.Tensor2D {
    const h = tf.add(x, this.attn.forwardRows(this.norm1.forward(x) as tf.Tensor2D, B)) as tf.Tensor2D;
    return tf.add(h, this.mlp.forward(this.norm2.forward(h))) as tf.Tensor2D;
  }
}
