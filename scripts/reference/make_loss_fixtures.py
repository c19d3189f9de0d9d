#!/usr/bin/env python3
"""MONAI/PyTorch reference values for ssl3d's losses (src/losses) and DiceMetric (src/metrics).

How to rerun (from the repository root):

    pip install torch==2.13.0 monai==1.6.1 safetensors numpy
    python3 scripts/reference/make_loss_fixtures.py

Continuous inputs are not stored: every one is `det(shape, seed, scale)` (scripts/reference/det.py, reproduced bit for
bit by test/helpers/det.ts), optionally plus a second det tensor (`plus`), the sum taken in float32 (so TS and Python
see the same float32 values). Integer class-id inputs (labels, predictions) are stored, as float32.
All references are computed in float64 on the CPU and stored as float32 in PyTorch layouts (NCDHW):
  test/fixtures/losses/<case>.safetensors : values, gradients, ids, metric matrices (NaN = class absent from the label)
  test/fixtures/losses/index.json         : input specs, scalar values (float64) and versions.
Cases:
  contrastive_t005, contrastive_t05 : monai.losses.ContrastiveLoss(temperature=τ)(a, b), a, b (4, 1000); grads da, db
  regularized      : r = L1Loss()(out1, gt); cl = ContrastiveLoss(0.05)(flatten(out1), flatten(out2)); total = r + cl·r,
                     out1/out2/gt (4,1,8,8,8); grads dout1, dout2 of total
  dice_ce          : DiceCELoss(to_onehot_y=True, softmax=True)(logits (2,4,6,5,7), labels (2,1,6,5,7)); class 3 is
                     absent from sample 1; grad dlogits
  dice_metric[_nobg]: DiceMetric(include_background=True|False, reduction='mean') called once per case (batch 1, as the
                     tutorial does) on AsDiscrete(argmax, to_onehot) predictions; per-case per-class buffer, aggregate,
                     the running aggregate after each case and its mean (the tutorial's "mean of running means").
"""
from __future__ import annotations

import json
import os
import sys

import monai
import numpy as np
import torch
from monai.losses import ContrastiveLoss, DiceCELoss
from monai.metrics import DiceMetric
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(__file__))
from det import det  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "losses")
torch.set_default_dtype(torch.float64)


def make(spec):
    a = det(spec["shape"], spec["seed"], spec.get("scale", 1.0))
    if "plus" in spec:
        a = (a + det(spec["shape"], spec["plus"]["seed"], spec["plus"].get("scale", 1.0))).astype(np.float32)
    return torch.tensor(a.astype(np.float64), requires_grad=True)


def f32(t):
    return np.ascontiguousarray(t.detach().numpy().astype(np.float32))


def main():
    os.makedirs(OUT, exist_ok=True)
    index = {"generator": "scripts/reference/make_loss_fixtures.py", "torch": torch.__version__,
             "monai": monai.__version__, "cases": {}}

    # (1) contrastive
    for name, tau in (("contrastive_t005", 0.05), ("contrastive_t05", 0.5)):
        specs = {"a": dict(shape=[4, 1000], seed=101),
                 "b": dict(shape=[4, 1000], seed=101, plus=dict(seed=102, scale=5.0))}
        a, b = make(specs["a"]), make(specs["b"])
        loss = ContrastiveLoss(temperature=tau)(a, b)
        da, db = torch.autograd.grad(loss, [a, b])
        save_file({"da": f32(da), "db": f32(db)}, os.path.join(OUT, f"{name}.safetensors"))
        index["cases"][name] = {"inputs": specs, "temperature": tau, "loss": loss.item()}

    # (2) regularized total
    shp = [4, 1, 8, 8, 8]
    specs = {"out1": dict(shape=shp, seed=201),
             "out2": dict(shape=shp, seed=201, plus=dict(seed=202, scale=4.0)),
             "gt": dict(shape=shp, seed=201, plus=dict(seed=203, scale=0.3))}
    o1, o2, gt = make(specs["out1"]), make(specs["out2"]), make(specs["gt"])
    r = torch.nn.L1Loss()(o1, gt)
    cl = ContrastiveLoss(temperature=0.05)(o1.flatten(start_dim=1, end_dim=4), o2.flatten(start_dim=1, end_dim=4))
    total = r + cl * r
    d1, d2 = torch.autograd.grad(total, [o1, o2])
    save_file({"dout1": f32(d1), "dout2": f32(d2)}, os.path.join(OUT, "regularized.safetensors"))
    index["cases"]["regularized"] = {"inputs": specs, "temperature": 0.05, "total": total.item(), "l1": r.item(),
                                     "contrastive": cl.item()}

    # (3) DiceCELoss
    specs = {"logits": dict(shape=[2, 4, 6, 5, 7], seed=301, scale=3.0)}
    logits = make(specs["logits"])
    u = det([2, 1, 6, 5, 7], 302)
    labels = np.clip(np.floor((u.astype(np.float64) + 1) * 2), 0, 3)  # ids 0..3
    labels[1][labels[1] == 3] = 2  # class 3 absent from sample 1
    lab = torch.tensor(labels)
    loss = DiceCELoss(to_onehot_y=True, softmax=True)(logits, lab)
    (dl,) = torch.autograd.grad(loss, [logits])
    save_file({"labels": labels.astype(np.float32), "dlogits": f32(dl)}, os.path.join(OUT, "dice_ce.safetensors"))
    index["cases"]["dice_ce"] = {"inputs": specs, "loss": loss.item(), "num_classes": 4}

    # (4) DiceMetric: 4 cases, 4 classes, spatial (5,4,3), class ids
    nc, sp = 4, [5, 4, 3]
    preds, labs = [], []
    for k in range(4):
        lab_k = np.clip(np.floor((det(sp, 401 + k).astype(np.float64) + 1) * 2), 0, 3)
        noise = det(sp, 411 + k)
        pred_k = np.where(noise > 0.2 - 0.4 * k / 3, lab_k, np.clip(np.floor((noise.astype(np.float64) + 1) * 2), 0, 3))
        if k == 1:
            lab_k[lab_k == 2] = 1        # class 2 absent from the label but present in pred → NaN
        if k == 2:
            lab_k[lab_k == 3] = 0        # class 3 absent from label and pred → NaN
            pred_k[pred_k == 3] = 0
        if k == 3:
            pred_k[pred_k == 1] = 2      # class 1 in the label, never predicted → 0
        preds.append(pred_k)
        labs.append(lab_k)
    preds, labs = np.stack(preds), np.stack(labs)
    for name, bg in (("dice_metric", True), ("dice_metric_nobg", False)):
        m = DiceMetric(include_background=bg, reduction="mean")
        running = []
        for k in range(len(preds)):
            yp = torch.nn.functional.one_hot(torch.tensor(preds[k]).long(), nc).permute(3, 0, 1, 2)[None].double()
            yy = torch.nn.functional.one_hot(torch.tensor(labs[k]).long(), nc).permute(3, 0, 1, 2)[None].double()
            m(y_pred=yp, y=yy)
            running.append(m.aggregate().item())
        buf = m.get_buffer()
        agg = m.aggregate().item()
        save_file({"pred": preds.astype(np.float32), "label": labs.astype(np.float32), "per_case": f32(buf)},
                  os.path.join(OUT, f"{name}.safetensors"))
        index["cases"][name] = {"include_background": bg, "num_classes": nc, "aggregate": agg,
                                "running": running, "mean_of_running": float(np.mean(running))}

    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    print(json.dumps(index, indent=1))


if __name__ == "__main__":
    main()
