/** MONAI `UNETR` (norm_name='instance', res_block=True, conv_block=True), MONAI constructor args and keys; NDHWC. */
import * as tf from '@tensorflow/tfjs';
import { Random } from '../../core/random';
import { ArgumentError } from '../../errors';
import { UnetOutBlock, UnetrBasicBlock, UnetrPrUpBlock, UnetrUpBlock } from '../blocks/unetr';
import { Init, Module } from '../module';
import { resolveViT, ViTBody } from './vit';

export interface UNETRConfig {
  in_channels: number;
  out_channels: number;
  img_size: number | number[];
  feature_size?: number;
  hidden_size?: number;
  mlp_dim?: number;
  num_heads?: number;
  proj_type?: 'conv';
  pos_embed?: 'conv';
  norm_name?: 'instance';
  res_block?: boolean;
  conv_block?: boolean;
  dropout_rate?: number;
  qkv_bias?: boolean;
  spatial_dims?: number;
}

/** A Module holding the ViT under the key prefix `vit.`. */
class ViTHolder extends Module {
  readonly body: ViTBody;
  constructor(init: Init, cfg: ReturnType<typeof resolveViT>) {
    super();
    this.body = new ViTBody((n, m) => this.addModule(n, m), init, cfg);
  }
}

export class UNETR extends Module {
  readonly vit: ViTHolder;
  readonly encoder1: UnetrBasicBlock;
  readonly encoder2: UnetrPrUpBlock;
  readonly encoder3: UnetrPrUpBlock;
  readonly encoder4: UnetrPrUpBlock;
  readonly decoder5: UnetrUpBlock;
  readonly decoder4: UnetrUpBlock;
  readonly decoder3: UnetrUpBlock;
  readonly decoder2: UnetrUpBlock;
  readonly out: UnetOutBlock;
  readonly hidden: number;

  constructor(config: UNETRConfig, seed = 0) {
    super();
    if ((config.norm_name ?? 'instance') !== 'instance') throw new ArgumentError(`norm_name '${config.norm_name}' is not supported (use 'instance')`);
    if (config.res_block === false || config.conv_block === false) throw new ArgumentError('only res_block=True, conv_block=True (the tutorial\'s) are supported');
    const cfg = resolveViT({ ...config, patch_size: 16, num_layers: 12 });
    const f = config.feature_size ?? 16;
    const h = cfg.hidden;
    this.hidden = h;
    const init = new Init(new Random(seed));
    this.vit = this.addModule('vit', new ViTHolder(init, cfg));
    this.encoder1 = this.addModule('encoder1', new UnetrBasicBlock(init, config.in_channels, f));
    this.encoder2 = this.addModule('encoder2', new UnetrPrUpBlock(init, h, 2 * f, 2));
    this.encoder3 = this.addModule('encoder3', new UnetrPrUpBlock(init, h, 4 * f, 1));
    this.encoder4 = this.addModule('encoder4', new UnetrPrUpBlock(init, h, 8 * f, 0));
    this.decoder5 = this.addModule('decoder5', new UnetrUpBlock(init, h, 8 * f));
    this.decoder4 = this.addModule('decoder4', new UnetrUpBlock(init, 8 * f, 4 * f));
    this.decoder3 = this.addModule('decoder3', new UnetrUpBlock(init, 4 * f, 2 * f));
    this.decoder2 = this.addModule('decoder2', new UnetrUpBlock(init, 2 * f, f));
    this.out = this.addModule('out', new UnetOutBlock(init, f, config.out_channels));
  }

  /** tokens [B, n, hidden] → NDHWC feature volume [B, gx, gy, gz, hidden] (MONAI proj_feat). */
  private projFeat(t: tf.Tensor3D): tf.Tensor5D {
    const [gx, gy, gz] = this.vit.body.patchEmbedding.grid;
    return tf.reshape(t, [t.shape[0], gx, gy, gz, this.hidden]) as tf.Tensor5D;
  }

  /** x [B, X, Y, Z, C_in] → logits [B, X, Y, Z, C_out]. */
  forward(x: tf.Tensor5D): tf.Tensor5D {
    // Block by block in tidies, dropping each skip connection once used: in inference the peak is a few feature
    // maps, not all of them (the full-size UNETR forward fits wasm's 4 GiB this way).
    return tf.tidy(() => {
      const { x: t, hidden } = this.vit.body.forward(x);
      const enc4 = tf.tidy(() => this.encoder4.forward(this.projFeat(hidden[9])));
      let dec = tf.tidy(() => this.decoder5.forward(this.projFeat(t), enc4));
      tf.dispose([enc4, t, hidden[9], ...hidden.slice(10)]);
      const enc3 = tf.tidy(() => this.encoder3.forward(this.projFeat(hidden[6])));
      dec = this.step(() => this.decoder4.forward(dec, enc3), [dec, enc3, hidden[6]]);
      const enc2 = tf.tidy(() => this.encoder2.forward(this.projFeat(hidden[3])));
      dec = this.step(() => this.decoder3.forward(dec, enc2), [dec, enc2, ...hidden]);
      const enc1 = tf.tidy(() => this.encoder1.forward(x));
      dec = this.step(() => this.decoder2.forward(dec, enc1), [dec, enc1]);
      return this.step(() => this.out.forward(dec), [dec]);
    });
  }

  /** Run `f` in a tidy, then dispose `done` (inputs no longer needed). */
  private step(f: () => tf.Tensor5D, done: tf.Tensor[]): tf.Tensor5D {
    const r = tf.tidy(f);
    tf.dispose(done);
    return r;
  }
}
