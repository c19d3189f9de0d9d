#!/usr/bin/env python3
"""PyTorch Adam / AdamW trajectories for ssl3d's optimizer (src/train/optim.ts).

How to rerun (from the repository root):

    pip install torch==2.13.0 numpy
    python3 scripts/reference/make_optim_fixtures.py

Two parameters (a [3,4] matrix and a [5] vector) start at det(shape, seed 1/2); at step t the gradient of each is
det(shape, 100 + 10·t + i, scale 0.5) (t = 0..7, i = parameter index), set by hand, so no model is involved. The
script records the parameters after every step for torch.optim.Adam(lr 1e-2), Adam(lr 1e-2, weight_decay 1e-2) and
AdamW(lr 1e-2, weight_decay 1e-5, the tutorial's fine-tuning setting) and AdamW(lr 1e-1, wd 0.5) in
test/fixtures/optim/trajectories.json.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from det import det  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "optim", "trajectories.json")
SHAPES = [[3, 4], [5]]
STEPS = 8
CASES = {
    "adam": (torch.optim.Adam, dict(lr=1e-2)),
    "adam_l2": (torch.optim.Adam, dict(lr=1e-2, weight_decay=1e-2)),
    "adamw_tutorial": (torch.optim.AdamW, dict(lr=1e-2, weight_decay=1e-5)),
    "adamw_strong": (torch.optim.AdamW, dict(lr=1e-1, weight_decay=0.5)),
}


def main():
    out = {"generator": "scripts/reference/make_optim_fixtures.py", "torch": torch.__version__, "shapes": SHAPES,
           "steps": STEPS, "cases": {}}
    for name, (cls, kw) in CASES.items():
        params = [torch.nn.Parameter(torch.tensor(det(s, i + 1))) for i, s in enumerate(SHAPES)]
        opt = cls(params, **kw)
        traj = []
        for t in range(STEPS):
            for i, (p, s) in enumerate(zip(params, SHAPES)):
                p.grad = torch.tensor(det(s, 100 + 10 * t + i, 0.5))
            opt.step()
            traj.append([p.detach().flatten().tolist() for p in params])
        out["cases"][name] = {"optimizer": cls.__name__, "kwargs": kw, "trajectory": traj}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
