import * as tf from '@tensorflow/tfjs';
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UNETR, ViTAutoEnc } from '../../src/nn';
import { loadCheckpoint, loadViTBackbone, saveCheckpoint } from '../../src/nn/checkpoint';

const vitArgs = { in_channels: 1, img_size: [32, 32, 32], patch_size: [16, 16, 16], hidden_size: 48, mlp_dim: 96, num_layers: 12, num_heads: 4, deconv_chns: 8 };
const unetrArgs = { in_channels: 1, out_channels: 3, img_size: [32, 32, 32], feature_size: 4, hidden_size: 48, mlp_dim: 96, num_heads: 4 };

describe('checkpoints', () => {
  it('ViTAutoEnc → UNETR copies exactly the 137 backbone tensors and skips the transposed convs and cls_token', () => {
    const ae = new ViTAutoEnc(vitArgs, 1);
    const unetr = new UNETR(unetrArgs, 2);
    const sd = ae.stateDict();
    sd.set('patch_embedding.cls_token', { shape: [1, 1, 48], data: new Float32Array(48) });
    const before = unetr.stateDict();
    const { copied, skipped } = loadViTBackbone(unetr, sd);
    expect(copied).toHaveLength(137);
    expect(skipped.sort()).toEqual(['conv3d_transpose.bias', 'conv3d_transpose.weight', 'conv3d_transpose_1.bias', 'conv3d_transpose_1.weight', 'patch_embedding.cls_token']);
    const after = unetr.stateDict();
    const k = 'blocks.5.attn.qkv.weight';
    expect(Array.from(after.get(`vit.${k}`)!.data)).toEqual(Array.from(sd.get(k)!.data));
    // the decoder is untouched
    expect(Array.from(after.get('decoder2.conv_block.conv1.conv.weight')!.data)).toEqual(Array.from(before.get('decoder2.conv_block.conv1.conv.weight')!.data));
    ae.dispose();
    unetr.dispose();
  });

  it('save → load round trip (safetensors, MONAI keys); the wrong architecture is rejected', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ssl3d-ckpt-'));
    const a = new UNETR(unetrArgs, 3);
    const file = path.join(dir, 'unetr.safetensors');
    await saveCheckpoint(a, file, { metadata: { note: 'test' } });
    const b = new UNETR(unetrArgs, 4);
    const r = await loadCheckpoint(b, file);
    expect(r.loaded.length).toBe(a.namedParameters().length);
    const x = tf.randomUniform([1, 32, 32, 32, 1]) as tf.Tensor5D;
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a.forward(x), b.forward(x)))).dataSync()[0]);
    expect(d).toBe(0);
    await expect(loadCheckpoint(new ViTAutoEnc(vitArgs), file)).rejects.toThrow(/missing|do not belong/);
    x.dispose();
  });
});
