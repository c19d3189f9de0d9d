/** Parameterised layers with PyTorch's names (`weight`, `bias`) and default initialisation; NDHWC activations. */
import * as tf from '@tensorflow/tfjs';
import { Init, Module } from './module';
import * as ops from './ops';

/** nn.Linear(in, out, bias): weight [in, out] here ([out, in] in PyTorch). */
export class Linear extends Module {
  readonly weight: tf.Variable;
  readonly bias?: tf.Variable;
  constructor(init: Init, inF: number, outF: number, bias = true) {
    super();
    this.weight = this.addParam('weight', init.fanIn([inF, outF], inF), 'linear');
    if (bias) this.bias = this.addParam('bias', init.fanIn([outF], inF));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return ops.linear(x, this.weight as tf.Tensor2D, this.bias as tf.Tensor1D | undefined);
  }
}

/** nn.LayerNorm(dim, eps 1e-5). */
export class LayerNorm extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  constructor(dim: number, readonly eps = 1e-5) {
    super();
    this.weight = this.addParam('weight', tf.ones([dim]));
    this.bias = this.addParam('bias', tf.zeros([dim]));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return ops.layerNorm(x, this.weight as tf.Tensor1D, this.bias as tf.Tensor1D, this.eps);
  }
}

/** nn.Conv3d(in, out, k, stride, padding) for the supported cases (1³; k = stride; 3³ 'same'). */
export class Conv3d extends Module {
  readonly weight: tf.Variable;
  readonly bias?: tf.Variable;
  constructor(
    init: Init,
    inC: number,
    outC: number,
    readonly k: number,
    readonly stride = 1,
    bias = true,
  ) {
    super();
    const fanIn = inC * k * k * k;
    this.weight = this.addParam('weight', init.fanIn([k, k, k, inC, outC], fanIn), 'conv');
    if (bias) this.bias = this.addParam('bias', init.fanIn([outC], fanIn));
  }
  forward(x: tf.Tensor5D): tf.Tensor5D {
    const padding = this.k === 3 && this.stride === 1 ? 'same' : 'valid';
    return ops.conv3d(x, this.weight as tf.Tensor5D, this.bias as tf.Tensor1D | undefined, { stride: this.stride, padding });
  }
}

/** nn.ConvTranspose3d(in, out, k, stride=k): weight [in, k, k, k, out] here ([in, out, k, k, k] in PyTorch). */
export class ConvTranspose3d extends Module {
  readonly weight: tf.Variable;
  readonly bias?: tf.Variable;
  constructor(init: Init, inC: number, outC: number, readonly k: number, bias = true) {
    super();
    const fanIn = outC * k * k * k; // PyTorch computes fan_in from weight dim 1 (= out channels) for ConvTranspose
    this.weight = this.addParam('weight', init.fanIn([inC, k, k, k, outC], fanIn), 'conv_transpose');
    if (bias) this.bias = this.addParam('bias', init.fanIn([outC], fanIn));
  }
  forward(x: tf.Tensor5D): tf.Tensor5D {
    return ops.convTranspose3d(x, this.weight as tf.Tensor5D, this.bias as tf.Tensor1D | undefined);
  }
}

/** MONAI's `Convolution` wrapper without act/norm: the conv sits under the sub-module name `conv`. */
export class ConvWrap<C extends Conv3d | ConvTranspose3d> extends Module {
  constructor(readonly conv: C) {
    super();
    this.addModule('conv', conv);
  }
  forward(x: tf.Tensor5D): tf.Tensor5D {
    return this.conv.forward(x);
  }
}
