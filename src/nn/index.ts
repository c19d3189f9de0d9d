export { Module, Init, type Param } from './module';
export { Linear, LayerNorm, Conv3d, ConvTranspose3d } from './layers';
export { ViT, ViTAutoEnc, type ViTConfig, type ViTAutoEncConfig } from './nets/vit';
export { UNETR, type UNETRConfig } from './nets/unetr';
