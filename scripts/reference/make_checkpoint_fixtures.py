#!/usr/bin/env python3
"""PyTorch `torch.save` checkpoints for ssl3d's .pt reader (src/io/checkpoint/torch.ts), with float32 references.

How to rerun (from the repository root):

    pip install monai torch==2.13.0 safetensors
    python3 scripts/reference/make_checkpoint_fixtures.py

Writes test/fixtures/checkpoints/:
  vitautoenc_tutorial_format.pt  torch.save({"epoch": 500, "state_dict": sd, "optimizer": adam.state_dict()}) with sd a
                                 ViTAutoEnc state dict in MONAI 0.8 key layout (cross_attn keys dropped,
                                 patch_embedding.cls_token (1,1,H) inserted after position_embeddings), like the
                                 tutorial's published vitautoenc_weights.pt
  vitautoenc_tutorial_unetr16.pt the tutorial format again for a ViT that fits a tiny UNETR (img 16, patch 16, hidden 16,
                                 12 layers, 2 heads): the fine-tuning tests use it as --pretrained
  vitautoenc_monai16.pt          torch.save(model.state_dict()) with MONAI 1.6.1 (incl. the unused cross_attn keys)
  unetr_bare.pt                  torch.save(unetr.state_dict()), like a fine-tuned best_metric_model.pth
  dtypes_views.pt                float64/float16/bfloat16/int64/bool tensors, a transposed (non-contiguous) view, a
                                 stride-0 expanded view, two overlapping views of one storage, a 0-d tensor, an
                                 nn.Parameter, and non-tensor entries
  vitautoenc_monai16_deflated.pt the same archive re-zipped with deflated entries (expected: vitautoenc_monai16)
  legacy.pt                      the same small dict saved with _use_new_zipfile_serialization=False (pre-1.6 format)
  <name>.expected.safetensors    the same tensors as float32 contiguous (safetensors.torch.save_file); the
                                 checkpoint's key order is in the metadata 'order' (JSON list)

Sizes are kept tiny (the whole folder < 1 MB): the models use much smaller configs than the tutorial. UNETR fixes
patch 16 and 12 layers, so its patch embedding alone is hidden*4096 floats; hence hidden_size=8 there.
"""
import json
import os
import zipfile
from collections import OrderedDict

import torch
from monai.networks.nets import UNETR, ViTAutoEnc
from safetensors.torch import save_file

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "checkpoints")


def expected(name, sd):
    # save_file sorts the tensors; the checkpoint's key order is kept in the metadata.
    save_file({k: v.detach().to(torch.float32).contiguous().clone() for k, v in sd.items()},
              os.path.join(OUT, name + ".expected.safetensors"), metadata={"order": json.dumps(list(sd))})


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)

    # ---- ViTAutoEnc (tiny) ----
    vit = ViTAutoEnc(in_channels=1, img_size=(8, 8, 8), patch_size=(4, 4, 4), proj_type="conv", hidden_size=16,
                     mlp_dim=32, num_layers=2, num_heads=4, deconv_chns=4)
    with torch.no_grad():  # LayerNorm/bias init is all ones/zeros: make every tensor distinctive
        for p in vit.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    sd16 = OrderedDict((k, v.clone()) for k, v in vit.state_dict().items())  # snapshot before the Adam step
    torch.save(vit.state_dict(), os.path.join(OUT, "vitautoenc_monai16.pt"))  # the real one (with _metadata)
    expected("vitautoenc_monai16", sd16)

    # MONAI 0.8 layout: no cross-attn keys, cls_token right after position_embeddings.
    sd08 = OrderedDict()
    for k, v in sd16.items():
        if "cross_attn" in k:
            continue
        sd08[k] = v
        if k == "patch_embedding.position_embeddings":
            sd08["patch_embedding.cls_token"] = torch.randn(1, 1, v.shape[-1])
    opt = torch.optim.Adam(vit.parameters(), lr=1e-4)
    x = torch.randn(1, 1, 8, 8, 8)
    out, _ = vit(x)
    out.mean().backward()
    opt.step()
    torch.save({"epoch": 500, "state_dict": sd08, "optimizer": opt.state_dict()},
               os.path.join(OUT, "vitautoenc_tutorial_format.pt"))
    expected("vitautoenc_tutorial_format", sd08)

    # ---- UNETR (tiny; patch 16 and 12 layers are fixed by MONAI) ----
    unetr = UNETR(in_channels=1, out_channels=3, img_size=(16, 16, 16), feature_size=1, hidden_size=8, mlp_dim=16,
                  num_heads=2, proj_type="conv", norm_name="instance", res_block=True)
    sdu = unetr.state_dict()
    torch.save(sdu, os.path.join(OUT, "unetr_bare.pt"))
    expected("unetr_bare", sdu)

    # ---- dtypes, views, shared storages ----
    base = torch.arange(15, dtype=torch.float32).reshape(3, 5) / 7 - 1
    shared = torch.randn(12)
    small = OrderedDict()
    small["f64"] = torch.randn(3, 4, dtype=torch.float64)
    small["f16"] = torch.randn(5, dtype=torch.float16)
    small["bf16"] = torch.randn(2, 3).to(torch.bfloat16)
    small["i64"] = torch.tensor([-3, 0, 7, 2 ** 40], dtype=torch.int64)
    small["i32"] = torch.tensor([[1, -2], [3, 4]], dtype=torch.int32)
    small["u8"] = torch.tensor([0, 255, 7], dtype=torch.uint8)
    small["bool"] = torch.tensor([True, False, True])
    small["transposed"] = base.t()  # stride (1, 5): non-contiguous
    small["sliced"] = base[:, 1::2]  # offset 1, stride (5, 2)
    small["expanded"] = torch.arange(3, dtype=torch.float32).expand(4, 3)  # stride (0, 1)
    small["shared_a"] = shared[0:6].view(2, 3)
    small["shared_b"] = shared[4:10]  # overlaps shared_a, storage offset 4
    small["scalar"] = torch.tensor(3.5)
    small["empty"] = torch.zeros(0, 3)
    small["param"] = torch.nn.Parameter(torch.randn(2, 2))
    torch.save({"state_dict": small, "epoch": 7, "note": "dtypes", "lr": 0.001, "flags": [1, 2], "nothing": None},
               os.path.join(OUT, "dtypes_views.pt"))
    expected("dtypes_views", small)

    torch.save({"w": torch.randn(2, 3)}, os.path.join(OUT, "legacy.pt"), _use_new_zipfile_serialization=False)

    # The same archive with deflated entries (torch writes stored ones; zip tools may recompress).
    src = os.path.join(OUT, "vitautoenc_monai16.pt")
    dst = os.path.join(OUT, "vitautoenc_monai16_deflated.pt")
    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zo:
        for info in zi.infolist():
            zo.writestr(info.filename, zi.read(info.filename))
    back, ref = torch.load(dst), torch.load(src)
    assert list(back) == list(ref) and all(torch.equal(back[k], ref[k]) for k in ref)

    # ---- tutorial format, UNETR-compatible (patch 16, 12 layers): fine-tuning tests load it as --pretrained ----
    torch.manual_seed(1)
    vit16 = ViTAutoEnc(in_channels=1, img_size=(16, 16, 16), patch_size=(16, 16, 16), proj_type="conv", hidden_size=16,
                       mlp_dim=32, num_layers=12, num_heads=2, deconv_chns=4)
    with torch.no_grad():
        for p in vit16.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    sd = OrderedDict()
    for k, v in vit16.state_dict().items():
        if "cross_attn" in k:
            continue
        sd[k] = v.clone()
        if k == "patch_embedding.position_embeddings":
            sd["patch_embedding.cls_token"] = torch.randn(1, 1, v.shape[-1])
    torch.save({"epoch": 500, "state_dict": sd, "optimizer": torch.optim.Adam(vit16.parameters(), lr=1e-4).state_dict()},
               os.path.join(OUT, "vitautoenc_tutorial_unetr16.pt"))
    expected("vitautoenc_tutorial_unetr16", sd)

    total = 0
    for f in sorted(os.listdir(OUT)):
        n = os.path.getsize(os.path.join(OUT, f))
        total += n
        print(f"{f:45s} {n:8d}")
    print(f"{'total':45s} {total:8d}")


if __name__ == "__main__":
    main()
