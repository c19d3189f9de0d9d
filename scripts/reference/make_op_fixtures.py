#!/usr/bin/env python3
"""PyTorch reference values for ssl3d's op layer (src/nn/ops): forward outputs and gradients.

How to rerun (from the repository root):

    pip install torch==2.13.0 safetensors numpy     # torch 2.13.0 is the CPU wheel on this machine's local disk
    python3 scripts/reference/make_op_fixtures.py

Inputs are not stored: every input tensor is `det(shape, seed, scale)` (scripts/reference/det.py), which
test/helpers/det.ts reproduces bit for bit. Each case backpropagates L = Σ y·dy with dy = det(y.shape, seed_dy) and
stores, in PyTorch layouts (NCDHW, Conv3d [out,in,kd,kh,kw], ConvTranspose3d [in,out,kd,kh,kw], Linear [out,in]):
  test/fixtures/ops/<case>.safetensors : y and the gradient of every input (full tensors for small shapes;
                                         for tutorial-size shapes `*_samples` at det sample indices plus sum/abs-sum),
  test/fixtures/ops/index.json         : the case list with shapes, seeds, scales and op arguments, and versions.
All computation in float64 on the CPU, stored as float32 (so the reference is exact to float32 rounding).
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(__file__))
from det import det, sample_indices  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "ops")

torch.set_default_dtype(torch.float64)

SAMPLES = 512


def t(spec):
    shape, seed, scale = spec["shape"], spec["seed"], spec.get("scale", 1.0)
    a = det(shape, seed, scale).astype(np.float64)
    if "offset" in spec:
        a = a + spec["offset"]
    return torch.tensor(a, requires_grad=True)


def leaky(x):
    return F.leaky_relu(x, 0.01)


def attention(q, k, v):
    return torch.softmax(q @ k.transpose(1, 2) * 0.125, dim=-1) @ v


CASES = [
    ("linear", dict(x=dict(shape=[2, 5, 7], seed=1), w=dict(shape=[6, 7], seed=2, scale=0.4), b=dict(shape=[6], seed=3)),
     lambda x, w, b: F.linear(x, w, b), {}),
    ("bmm", dict(a=dict(shape=[3, 4, 5], seed=11), b=dict(shape=[3, 5, 6], seed=12)), lambda a, b: a @ b, {}),
    ("attention", dict(q=dict(shape=[6, 10, 8], seed=21, scale=2.0), k=dict(shape=[6, 10, 8], seed=22, scale=2.0),
                       v=dict(shape=[6, 10, 8], seed=23)), attention, {"scale": 0.125}),
    ("softmax", dict(x=dict(shape=[4, 9], seed=31, scale=3.0)), lambda x: torch.softmax(x, -1), {}),
    ("layernorm", dict(x=dict(shape=[3, 5, 16], seed=41, scale=2.0), w=dict(shape=[16], seed=42, scale=0.1, offset=1.0),
                       b=dict(shape=[16], seed=43, scale=0.1)), lambda x, w, b: F.layer_norm(x, (16,), w, b, 1e-5), {"eps": 1e-5}),
    ("gelu", dict(x=dict(shape=[1000], seed=51, scale=4.0)), lambda x: F.gelu(x, approximate="none"), {}),
    ("leaky_relu", dict(x=dict(shape=[500], seed=61, scale=2.0)), leaky, {"negative_slope": 0.01}),
    ("instance_norm", dict(x=dict(shape=[2, 3, 4, 5, 6], seed=71, scale=3.0)), lambda x: F.instance_norm(x, eps=1e-5), {"eps": 1e-5}),
    ("conv1", dict(x=dict(shape=[2, 6, 3, 4, 5], seed=81), w=dict(shape=[4, 6, 1, 1, 1], seed=82, scale=0.5)),
     lambda x, w: F.conv3d(x, w), {"padding": "valid", "stride": 1}),
    ("conv3", dict(x=dict(shape=[2, 3, 6, 5, 7], seed=91), w=dict(shape=[4, 3, 3, 3, 3], seed=92, scale=0.3)),
     lambda x, w: F.conv3d(x, w, padding=1), {"padding": "same", "stride": 1}),
    ("conv3_bias", dict(x=dict(shape=[1, 5, 4, 4, 4], seed=101), w=dict(shape=[2, 5, 3, 3, 3], seed=102, scale=0.3),
                        b=dict(shape=[2], seed=103)), lambda x, w, b: F.conv3d(x, w, b, padding=1), {"padding": "same", "stride": 1}),
    ("patch_embed", dict(x=dict(shape=[2, 1, 32, 32, 32], seed=111), w=dict(shape=[8, 1, 16, 16, 16], seed=112, scale=0.05),
                         b=dict(shape=[8], seed=113)), lambda x, w, b: F.conv3d(x, w, b, stride=16), {"padding": "valid", "stride": 16}),
    ("conv_transpose2", dict(x=dict(shape=[2, 6, 3, 4, 5], seed=121), w=dict(shape=[6, 3, 2, 2, 2], seed=122, scale=0.5)),
     lambda x, w: F.conv_transpose3d(x, w, stride=2), {"stride": 2}),
    ("conv_transpose4", dict(x=dict(shape=[1, 8, 2, 2, 2], seed=131), w=dict(shape=[8, 2, 4, 4, 4], seed=132, scale=0.5),
                             b=dict(shape=[2], seed=133)), lambda x, w, b: F.conv_transpose3d(x, w, b, stride=4), {"stride": 4}),
    ("concat", dict(a=dict(shape=[1, 2, 3, 3, 3], seed=141), b=dict(shape=[1, 3, 3, 3, 3], seed=142)),
     lambda a, b: torch.cat([a, b], 1), {}),
    # tutorial size: UNETR encoder1's first convolution (1 → 16 channels, 3³, 96³ patch)
    ("conv3_96", dict(x=dict(shape=[1, 1, 96, 96, 96], seed=151), w=dict(shape=[16, 1, 3, 3, 3], seed=152, scale=0.3)),
     lambda x, w: F.conv3d(x, w, padding=1), {"padding": "same", "stride": 1, "large": True}),
]


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    index = {"generator": "scripts/reference/make_op_fixtures.py", "torch": torch.__version__, "samples": SAMPLES, "cases": []}
    for name, inputs, fn, args in CASES:
        tensors = {k: t(v) for k, v in inputs.items()}
        y = fn(*tensors.values())
        dy_spec = dict(shape=list(y.shape), seed=10_000 + len(index["cases"]))
        dy = torch.tensor(det(dy_spec["shape"], dy_spec["seed"]).astype(np.float64))
        (y * dy).sum().backward()
        large = args.get("large", False)
        out: dict[str, np.ndarray] = {}
        stats = {}
        for key, val in [("y", y.detach())] + [(f"d{k}", v.grad) for k, v in tensors.items()]:
            arr = val.numpy().astype(np.float32)
            if large and arr.size > 100_000:
                idx = sample_indices(arr.size, SAMPLES, seed=7)
                out[f"{key}_samples"] = arr.reshape(-1)[idx]
                stats[key] = {"sum": float(val.sum()), "abs_sum": float(val.abs().sum()), "shape": list(arr.shape)}
            else:
                out[key] = arr
        save_file(out, os.path.join(OUT, f"{name}.safetensors"))
        index["cases"].append({"name": name, "inputs": inputs, "dy": dy_spec, "args": args, "stats": stats})
        print(f"{name:16s} y {list(y.shape)}")
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1)


if __name__ == "__main__":
    main()
