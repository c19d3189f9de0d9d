/** MONAI's UNETR decoder blocks: UnetResBlock, UnetrBasicBlock, UnetrPrUpBlock, UnetrUpBlock, UnetOutBlock (NDHWC). */
import * as tf from '@tensorflow/tfjs';
import { Conv3d, ConvTranspose3d, ConvWrap } from '../layers';
import { Init, Module } from '../module';
import * as ops from '../ops';

/** conv1 → IN → LReLU → conv2 → IN, + (conv3 → IN)(x) when channels change, → LReLU. Convs without bias. */
export class UnetResBlock extends Module {
  readonly conv1: ConvWrap<Conv3d>;
  readonly conv2: ConvWrap<Conv3d>;
  readonly conv3?: ConvWrap<Conv3d>;
  constructor(init: Init, inC: number, outC: number) {
    super();
    this.conv1 = this.addModule('conv1', new ConvWrap(new Conv3d(init, inC, outC, 3, 1, false)));
    this.conv2 = this.addModule('conv2', new ConvWrap(new Conv3d(init, outC, outC, 3, 1, false)));
    if (inC !== outC) this.conv3 = this.addModule('conv3', new ConvWrap(new Conv3d(init, inC, outC, 1, 1, false)));
  }
  forward(x: tf.Tensor5D): tf.Tensor5D {
    const h = ops.instanceNorm(this.conv2.forward(ops.leakyRelu(ops.instanceNorm(this.conv1.forward(x))) as tf.Tensor5D));
    const r = this.conv3 ? ops.instanceNorm(this.conv3.forward(x)) : x;
    return ops.leakyRelu(ops.add(h, r)) as tf.Tensor5D;
  }
}

/** UnetrBasicBlock(res_block=True): `layer` = UnetResBlock. */
export class UnetrBasicBlock extends Module {
  readonly layer: UnetResBlock;
  constructor(init: Init, inC: number, outC: number) {
    super();
    this.layer = this.addModule('layer', new UnetResBlock(init, inC, outC));
  }
  forward(x: tf.Tensor5D): tf.Tensor5D {
    return this.layer.forward(x);
  }
}

/** A `blocks.i` entry of UnetrPrUpBlock: Sequential(ConvT k2s2, UnetResBlock) → keys `i.0.conv.*`, `i.1.conv1.*`. */
class UpResPair extends Module {
  readonly up: ConvWrap<ConvTranspose3d>;
  readonly res: UnetResBlock;
  constructor(init: Init, c: number) {
    super();
    this.up = this.addModule('0', new ConvWrap(new ConvTranspose3d(init, c, c, 2, false)));
    this.res = this.addModule('1', new UnetResBlock(init, c, c));
  }
  forward(x: tf.Tensor5D): tf.Tensor5D {
    return this.res.forward(this.up.forward(x));
  }
}

/** UnetrPrUpBlock(in, out, num_layer, res_block=True): ConvT(in→out) then num_layer × (ConvT(out→out), UnetResBlock). */
export class UnetrPrUpBlock extends Module {
  readonly init0: ConvWrap<ConvTranspose3d>;
  readonly blocks: UpResPair[];
  constructor(init: Init, inC: number, outC: number, numLayer: number) {
    super();
    this.init0 = this.addModule('transp_conv_init', new ConvWrap(new ConvTranspose3d(init, inC, outC, 2, false)));
    this.blocks = Array.from({ length: numLayer }, (_, i) => this.addModule(`blocks.${i}`, new UpResPair(init, outC)));
  }
  forward(x: tf.Tensor5D): tf.Tensor5D {
    let h = this.init0.forward(x);
    for (const b of this.blocks) h = b.forward(h);
    return h;
  }
}

/** UnetrUpBlock(in, out, res_block=True): ConvT(in→out), cat([up, skip]) on channels, UnetResBlock(2·out→out). */
export class UnetrUpBlock extends Module {
  readonly transpConv: ConvWrap<ConvTranspose3d>;
  readonly convBlock: UnetResBlock;
  constructor(init: Init, inC: number, outC: number) {
    super();
    this.transpConv = this.addModule('transp_conv', new ConvWrap(new ConvTranspose3d(init, inC, outC, 2, false)));
    this.convBlock = this.addModule('conv_block', new UnetResBlock(init, 2 * outC, outC));
  }
  forward(x: tf.Tensor5D, skip: tf.Tensor5D): tf.Tensor5D {
    return this.convBlock.forward(ops.concatChannels([this.transpConv.forward(x), skip]));
  }
}

/** UnetOutBlock: a 1³ conv with bias under `conv.conv`. */
export class UnetOutBlock extends Module {
  readonly conv: ConvWrap<Conv3d>;
  constructor(init: Init, inC: number, outC: number) {
    super();
    this.conv = this.addModule('conv', new ConvWrap(new Conv3d(init, inC, outC, 1, 1, true)));
  }
  forward(x: tf.Tensor5D): tf.Tensor5D {
    return this.conv.forward(x);
  }
}
