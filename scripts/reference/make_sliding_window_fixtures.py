#!/usr/bin/env python3
"""MONAI reference outputs for ssl3d's sliding-window inference (src/inference).

How to rerun (from the repository root):

    pip install torch==2.13.0 monai==1.6.1 safetensors numpy
    python3 scripts/reference/make_sliding_window_fixtures.py

Inputs are not stored: each is `det([1, C, X, Y, Z], seed)` (scripts/reference/det.py, reproduced bit for bit by
test/helpers/det.ts). The predictor is deterministic and simple enough to re-implement exactly in TS, and depends on
the position inside the window (so overlaps and blending matter):

    logits[n, k, x, y, z] = sum_c A[k, c] * inp[n, c, x, y, z] + b[k] + cz[k] * z + cx[k] * x

with x, z the *window-local* indices along the first and last spatial axes. A, b, cz, cx are in index.json.
Everything runs in float32 on the CPU (MONAI's own dtype), via monai.inferers.sliding_window_inference.

Written:
  test/fixtures/inference/<case>.safetensors : `out` (1, K, X, Y, Z) float32 (PyTorch layout), and for each case
                                               `importance` (rx, ry, rz) = compute_importance_map(roi, mode, sigma)
  test/fixtures/inference/index.json         : case specs, window counts, window-start lists, versions.
"""
from __future__ import annotations

import json
import os
import sys

import monai
import numpy as np
import torch
from monai.data.utils import compute_importance_map, dense_patch_slices
from monai.inferers import sliding_window_inference
from monai.inferers.utils import _get_scan_interval
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(__file__))
from det import det  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "inference")

CASES = [
    # name, C, K, spatial size, roi, sw_batch_size, overlap, mode, seed
    dict(name="pad_const_bs1", C=1, K=2, size=[10, 20, 12], roi=[16, 16, 16], bs=1, overlap=0.25, mode="constant", seed=1),
    dict(name="pad_gauss_bs3", C=2, K=3, size=[16, 9, 21], roi=[16, 12, 16], bs=3, overlap=0.25, mode="gaussian", seed=2),
    dict(name="exact_gauss_bs3", C=1, K=2, size=[16, 16, 16], roi=[16, 16, 16], bs=3, overlap=0.25, mode="gaussian", seed=3),
    dict(name="shift_o25_const_bs1", C=1, K=2, size=[50, 40, 35], roi=[16, 16, 16], bs=1, overlap=0.25, mode="constant", seed=4),
    dict(name="shift_o50_gauss_bs3", C=1, K=2, size=[50, 40, 35], roi=[16, 16, 16], bs=3, overlap=0.5, mode="gaussian", seed=5),
    dict(name="aniso_gauss_bs3", C=2, K=3, size=[30, 11, 25], roi=[12, 8, 10], bs=3, overlap=0.25, mode="gaussian", seed=6),
]

STARTS = [
    # size, roi, overlap
    (250, 96, 0.25), (180, 96, 0.25), (90, 96, 0.25), (96, 96, 0.25), (97, 96, 0.25), (50, 16, 0.25), (50, 16, 0.5),
    (35, 16, 0.5), (40, 16, 0.25), (300, 96, 0.5), (10, 3, 0.9), (7, 4, 0.75), (512, 96, 0.25),
]


def params(C, K):
    A = (np.arange(K * C, dtype=np.float64).reshape(K, C) * 0.37 - 0.5).round(4)
    b = (np.arange(K, dtype=np.float64) * 0.25 - 0.3).round(4)
    cz = (np.arange(K, dtype=np.float64) * 0.05 + 0.02).round(4)
    cx = (0.03 - np.arange(K, dtype=np.float64) * 0.04).round(4)
    return A, b, cz, cx


def make_predictor(A, b, cz, cx):
    At = torch.tensor(A, dtype=torch.float32)
    bt = torch.tensor(b, dtype=torch.float32)
    czt = torch.tensor(cz, dtype=torch.float32)
    cxt = torch.tensor(cx, dtype=torch.float32)

    def predictor(x):  # x: (n, C, rx, ry, rz)
        n, C, rx, ry, rz = x.shape
        y = torch.einsum("kc,ncxyz->nkxyz", At, x)
        zl = torch.arange(rz, dtype=torch.float32)
        xl = torch.arange(rx, dtype=torch.float32)
        y = y + bt[None, :, None, None, None]
        y = y + czt[None, :, None, None, None] * zl[None, None, None, None, :]
        y = y + cxt[None, :, None, None, None] * xl[None, None, :, None, None]
        return y

    return predictor


def starts_of(size, roi, overlap):
    image = max(size, roi)
    interval = _get_scan_interval((image,), (roi,), 1, (overlap,))
    return [int(s[0].start) for s in dense_patch_slices((image,), (roi,), interval)]


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    index = {"versions": {"monai": monai.__version__, "torch": torch.__version__}, "cases": {}, "starts": []}
    for c in CASES:
        A, b, cz, cx = params(c["C"], c["K"])
        x = torch.tensor(det([1, c["C"], *c["size"]], c["seed"]))
        calls = []
        pred = make_predictor(A, b, cz, cx)

        def counted(t):
            calls.append(int(t.shape[0]))
            return pred(t)

        with torch.no_grad():
            out = sliding_window_inference(x, c["roi"], c["bs"], counted, overlap=c["overlap"], mode=c["mode"],
                                           sigma_scale=0.125)
        imp = compute_importance_map(tuple(c["roi"]), mode=c["mode"], sigma_scale=0.125, dtype=torch.float32)
        assert tuple(out.shape) == (1, c["K"], *c["size"]), out.shape
        save_file({"out": np.ascontiguousarray(out.numpy().astype(np.float32)),
                   "importance": np.ascontiguousarray(imp.numpy().astype(np.float32))},
                  os.path.join(OUT, f"{c['name']}.safetensors"))
        starts = [starts_of(c["size"][i], c["roi"][i], c["overlap"]) for i in range(3)]
        index["cases"][c["name"]] = {**c, "A": A.tolist(), "b": b.tolist(), "cz": cz.tolist(), "cx": cx.tolist(),
                                     "windows": sum(calls), "batches": calls, "axis_starts": starts}
        print(c["name"], "windows", sum(calls), calls[:6], "max|out|", float(out.abs().max()))
    for size, roi, ov in STARTS:
        index["starts"].append({"size": size, "roi": roi, "overlap": ov, "starts": starts_of(size, roi, ov)})
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    for s in index["starts"]:
        print(s)


if __name__ == "__main__":
    main()
