/** The op layer the networks are built on: every primitive with forward and gradients correct on every backend. */
export { matmul2d, linear, bmm, bmmNT } from './matmul';
export { nativeKernels, type KernelFamily } from './kernels';
export { gelu, biasGelu, leakyRelu, softmax } from './activations';
export { layerNorm, instanceNorm } from './norm';
export { splitHeads, mergeHeads } from './heads';
export { conv3d, setMaxChunkElements, type Conv3dOptions } from './conv3d';
export { convTranspose3d } from './conv_transpose3d';
export { concatChannels } from './concat';
export { add, reshape } from './add';
