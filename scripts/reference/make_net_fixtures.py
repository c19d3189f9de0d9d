#!/usr/bin/env python3
"""MONAI reference forward passes for ssl3d's networks (tiny configs), with random non-trivial weights.

How to rerun (from the repository root):

    pip install monai torch==2.13.0 safetensors numpy einops
    python3 scripts/reference/make_net_fixtures.py
    npm run build && python3 scripts/reference/make_net_fixtures.py --prove   # MONAI strict-loads ssl3d's checkpoints

Writes test/fixtures/nets/<name>.safetensors with the model's state dict (PyTorch layouts, MONAI 1.6 key names,
the unused `cross_attn`/`norm_cross_attn` keys dropped), the input `__input__` = det((1,1,32,32,32), seed 5) and
MONAI's eval-mode output `__output__`; and test/fixtures/nets/index.json with the constructor arguments.

Also writes, for each case, test/fixtures/nets/<name>.pt = torch.save(model.state_dict()) — the bare MONAI 1.6 state
dict as a user would save it (unused `norm_cross_attn` keys included), same weights as the .safetensors, so the tests
can check `ssl3d infer --weights <name>.pt` against `__output__`; and
test/fixtures/nets/vitautoenc_tutorial_format.ref.safetensors: `__input__`/`__output__` of MONAI's ViTAutoEnc that
loaded test/fixtures/checkpoints/vitautoenc_tutorial_format.pt (the tutorial's `{"state_dict": ...}` format with a
MONAI 0.8 `cls_token`, see make_checkpoint_fixtures.py) as the tutorial does (strict=False, cls_token dropped).
Adding these outputs consumes no random numbers after the existing ones, so the .safetensors stay bit-identical.
"""
import json
import os
import sys

import numpy as np
import torch
from monai.networks.nets import UNETR, ViTAutoEnc
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(__file__))
from det import det  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "nets")

CASES = {
    "vitautoenc_tiny": (ViTAutoEnc, dict(in_channels=1, img_size=[32, 32, 32], patch_size=[16, 16, 16], proj_type="conv",
                                         hidden_size=48, mlp_dim=96, num_layers=2, num_heads=4, deconv_chns=8)),
    "unetr_tiny": (UNETR, dict(in_channels=1, out_channels=3, img_size=[32, 32, 32], feature_size=4, hidden_size=48,
                               mlp_dim=96, num_heads=4, proj_type="conv", norm_name="instance", res_block=True)),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    index = {"generator": "scripts/reference/make_net_fixtures.py", "torch": torch.__version__, "cases": {}}
    import monai
    index["monai"] = monai.__version__
    for name, (cls, args) in CASES.items():
        model = cls(**args).eval()
        with torch.no_grad():
            for p in model.parameters():  # non-trivial values everywhere (LayerNorm weights too)
                p.add_(torch.randn_like(p) * 0.05)
        x = torch.tensor(det([1, 1, 32, 32, 32], 5))
        with torch.no_grad():
            y = model(x)
        y = y[0] if isinstance(y, tuple) else y
        sd = {k: v.detach().float().contiguous() for k, v in model.state_dict().items() if "cross_attn" not in k}
        sd["__input__"] = x.float()
        sd["__output__"] = y.float().contiguous()
        save_file(sd, os.path.join(OUT, f"{name}.safetensors"))
        torch.save(model.state_dict(), os.path.join(OUT, f"{name}.pt"))
        index["cases"][name] = {"args": args, "keys": [k for k in model.state_dict() if "cross_attn" not in k],
                                "output_shape": list(y.shape)}
        print(name, list(y.shape), len(index["cases"][name]["keys"]), "keys")
    index["tutorial_format"] = tutorial_format_reference()
    old = os.path.join(OUT, "index.json")
    if os.path.exists(old):  # keep the results of an earlier --prove run for unchanged cases
        prev = json.load(open(old)).get("cases", {})
        for name, c in index["cases"].items():
            p = prev.get(name, {})
            if "monai_strict_load_of_ssl3d_checkpoint" in p and p.get("args") == c["args"] and p.get("keys") == c["keys"]:
                c["monai_strict_load_of_ssl3d_checkpoint"] = p["monai_strict_load_of_ssl3d_checkpoint"]
    with open(old, "w") as f:
        json.dump(index, f, indent=1)


# The config of test/fixtures/checkpoints/vitautoenc_tutorial_format.pt (scripts/reference/make_checkpoint_fixtures.py).
TUTORIAL_FORMAT_ARGS = dict(in_channels=1, img_size=[8, 8, 8], patch_size=[4, 4, 4], proj_type="conv", hidden_size=16,
                            mlp_dim=32, num_layers=2, num_heads=4, deconv_chns=4)


def tutorial_format_reference():
    """MONAI's output for the tutorial-format checkpoint, loaded the way ssl_finetune.ipynb loads such files:
    torch.load(...)["state_dict"], keys the model lacks (cls_token) dropped, then load_state_dict(strict=False)."""
    ckpt = torch.load(os.path.join(ROOT, "test", "fixtures", "checkpoints", "vitautoenc_tutorial_format.pt"),
                      map_location="cpu", weights_only=False)
    model = ViTAutoEnc(**TUTORIAL_FORMAT_ARGS).eval()
    own = model.state_dict()
    sd = {k: v for k, v in ckpt["state_dict"].items() if k in own}
    missing = [k for k in own if k not in sd]
    assert all("cross_attn" in k for k in missing), missing  # only MONAI 1.6's unused norm_cross_attn
    model.load_state_dict(sd, strict=False)
    x = torch.tensor(det([1, 1, 8, 8, 8], 6))
    with torch.no_grad():
        y = model(x)[0]
    save_file({"__input__": x.float(), "__output__": y.float().contiguous()},
              os.path.join(OUT, "vitautoenc_tutorial_format.ref.safetensors"))
    print("vitautoenc_tutorial_format", list(y.shape), len(sd), "tensors loaded,",
          len(ckpt["state_dict"]) - len(sd), "ignored")
    return {"args": TUTORIAL_FORMAT_ARGS, "checkpoint": "test/fixtures/checkpoints/vitautoenc_tutorial_format.pt",
            "reference": "vitautoenc_tutorial_format.ref.safetensors", "output_shape": list(y.shape)}


if __name__ == "__main__" and "--prove" not in sys.argv:
    main()


def prove_monai_loads_ssl3d_checkpoints():
    """Issue requirement: a checkpoint saved by ssl3d loads into MONAI with load_state_dict(strict=True) and gives the
    same outputs. Needs `npm run build`: node loads each fixture's weights into the ssl3d model, saves it with
    saveCheckpoint, and MONAI loads that file strictly; the max output difference is recorded in index.json."""
    import subprocess
    import tempfile
    from safetensors.torch import load_file

    index_path = os.path.join(OUT, "index.json")
    index = json.load(open(index_path))
    for name, (cls, args) in CASES.items():
        tmp = tempfile.mkdtemp()
        out = os.path.join(tmp, "ssl3d.safetensors")
        js = f"""
const {{ decodeSafetensors }} = require({json.dumps(os.path.join(ROOT, 'dist/io/checkpoint/safetensors.js'))});
const nn = require({json.dumps(os.path.join(ROOT, 'dist/nn/index.js'))});
const {{ saveCheckpoint }} = require({json.dumps(os.path.join(ROOT, 'dist/nn/checkpoint.js'))});
const fs = require('fs');
(async () => {{
  const {{ tensors }} = decodeSafetensors(fs.readFileSync({json.dumps(os.path.join(OUT, name + '.safetensors'))}));
  const model = {json.dumps(name)}.startsWith('vit') ? new nn.ViTAutoEnc({json.dumps(args)}) : new nn.UNETR({json.dumps(args)});
  model.loadStateDict(tensors, {{ strict: true }});
  await saveCheckpoint(model, {json.dumps(out)});
}})();
"""
        subprocess.run(["node", "-e", js], check=True)
        model = cls(**args).eval()
        model.load_state_dict(load_file(out), strict=True)
        ref = load_file(os.path.join(OUT, f"{name}.safetensors"))
        with torch.no_grad():
            y = model(ref["__input__"])
        y = y[0] if isinstance(y, tuple) else y
        diff = float((y - ref["__output__"]).abs().max())
        index["cases"][name]["monai_strict_load_of_ssl3d_checkpoint"] = {"ok": True, "max_abs_output_diff": diff}
        print(name, "MONAI load_state_dict(strict=True) of the ssl3d checkpoint: ok, max |diff|", diff)
    json.dump(index, open(index_path, "w"), indent=1)


if __name__ == "__main__" and "--prove" in sys.argv:
    prove_monai_loads_ssl3d_checkpoints()
