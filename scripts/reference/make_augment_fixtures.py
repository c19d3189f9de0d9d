#!/usr/bin/env python3
"""Reference fixtures for ssl3d's random augmentations, made with MONAI's own transforms.

How to rerun (from the repository root; takes about a minute on 2 cores):

    pip install monai torch==2.13.0      # torch 2.13.0 is the CPU wheel on this machine's local disk
    python3 scripts/reference/make_augment_fixtures.py

Every random transform is built with the tutorial's arguments (spec §1.1, §2.1), seeded once with
`set_random_state(seed=0)` and then called N times in a row on a fixed input; what MONAI drew is read back from the
transform (`dropper.hole_coords`, `shuffle.hole_coords`, `_do_transform`, `_rand_k`) or from the output.

What it writes (test/fixtures/augment/, committed; test/transforms/random_parity.test.ts and random_exact.test.ts
compare against them):

    dropout.json    RandCoarseDropoutd on a (1,96,96,96) volume, (det(shape, 7) + 1) / 2 in float32 (values in [0,1)):
                    'inpaint'  (prob=1, holes=6, spatial_size=5,  max_spatial_size=32, dropout_holes=True)
                    'outpaint' (prob=1, holes=6, spatial_size=20, max_spatial_size=64, dropout_holes=False),
                    2000 calls each: per call the 6 hole boxes [x0,y0,z0,sx,sy,sz] (flattened int list), the
                    fraction of voxels changed (in-painting) / kept (out-painting), and min/max of the fill values
                    (in-painting: over the changed voxels; out-painting: over the voxels outside every hole).
    shuffle.json    RandCoarseShuffled(prob=0.8, holes=10, spatial_size=8) on the same volume, 2000 calls: applied
                    flags, box starts of the applied calls, and for the first 50 applied calls whether the multiset
                    of the union of boxes is preserved, whether voxels outside the boxes are unchanged, and (for
                    boxes that overlap no other box) whether each box's multiset is preserved.
    posneg.json     RandCropByPosNegLabeld(keys=[image,label,idx], spatial_size=48, pos=1, neg=1, num_samples=4,
                    image_threshold=0) on a (1,120,110,100) image (positive inside an off-centre ellipsoid 'body',
                    0 outside) and label (1 inside an asymmetric ellipsoid blob strictly inside the valid-centre
                    region, so "crop centre is foreground" ⇔ "a foreground centre was drawn"); 'idx' holds the flat
                    voxel index, so the crop start is read from the output. 600 calls × 4 samples: crop starts and
                    whether the centre voxel is foreground. The generator of the inputs is described in 'inputs' (with the
                    foreground / background candidate counts and the image sum, so the TypeScript side can check it
                    rebuilt the same inputs).
    flip_rot_shift.json
                    RandFlipd(spatial_axis=[a], prob=0.1) for a = 0, 1, 2, RandRotate90d(prob=0.1, max_k=3) and
                    RandShiftIntensityd(offsets=0.1, prob=0.5), 4000 calls each: applied flags, k, offsets (1e-6).
    exact.json      Deterministic references on index-encoded volumes (value = flat C-order index):
                    Rotate90(k, spatial_axes=(0,1)) for k = 1, 2, 3 and (k=1) spatial_axes (0,2), (1,2) on a
                    (1,4,5,6) volume; Flip(spatial_axis=a) for a = 0, 1, 2; correct_crop_centers + SpatialCrop
                    (roi_center, roi_size) for centres near the edges of a (1,20,17,9) volume with even and odd ROIs.

Summaries are small on purpose (all files together well under 1.5 MB).
"""
from __future__ import annotations

import json
import os
import sys
import warnings

import numpy as np
import torch

import monai
from monai.transforms import (
    Flip,
    RandCoarseDropoutd,
    RandCoarseShuffled,
    RandCropByPosNegLabeld,
    RandFlipd,
    RandRotate90d,
    RandShiftIntensityd,
    Rotate90,
    SpatialCrop,
)
from monai.transforms.utils import correct_crop_centers

sys.path.insert(0, os.path.dirname(__file__))
from det import det  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "augment")
SEED = 0
warnings.filterwarnings("ignore")
monai.utils.set_determinism(None)


def write(name: str, obj) -> None:
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
    print(f"wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path)} bytes)")


def versions() -> dict:
    return {"monai": monai.__version__, "torch": torch.__version__, "numpy": np.__version__, "seed": SEED}


def r5(x: float) -> float:
    return round(float(x), 5)


def hole_box(h) -> list[int]:
    """A MONAI hole (slice(None), sx, sy, sz) → [x0, y0, z0, size_x, size_y, size_z]."""
    s = h[1:]
    return [int(a.start) for a in s] + [int(a.stop - a.start) for a in s]


def img96() -> np.ndarray:
    """(1,96,96,96) float32 in [0,1): (det(shape, 7) + 1) / 2, the same in test/transforms/random_parity.test.ts."""
    return ((det((1, 96, 96, 96), 7) + np.float32(1)) / np.float32(2)).astype(np.float32)


def dropout() -> None:
    img = img96()
    out = {"versions": versions(), "input": "(det((1,96,96,96), 7) + 1) / 2 float32", "shape": [1, 96, 96, 96]}
    modes = {
        "inpaint": dict(holes=6, spatial_size=5, max_spatial_size=32, dropout_holes=True),
        "outpaint": dict(holes=6, spatial_size=20, max_spatial_size=64, dropout_holes=False),
    }
    n = 2000
    for mode, kw in modes.items():
        t = RandCoarseDropoutd(keys=["image"], prob=1.0, **kw)
        t.set_random_state(seed=SEED)
        boxes, frac, fmin, fmax = [], [], [], []
        for _ in range(n):
            r = t({"image": torch.from_numpy(img.copy())})["image"]
            r = np.asarray(r)
            hb = [hole_box(h) for h in t.dropper.hole_coords]
            boxes.append([v for b in hb for v in b])
            changed = r != img
            if kw["dropout_holes"]:
                frac.append(r5(changed.mean()))
                fill = r[changed]
            else:
                inside = np.zeros(img.shape, bool)
                for h in t.dropper.hole_coords:
                    inside[h] = True
                frac.append(r5((~changed).mean()))
                fill = r[~inside]
            fmin.append(r5(fill.min()))
            fmax.append(r5(fill.max()))
        out[mode] = {
            "args": kw,
            "n": n,
            "boxes": boxes,
            "fraction": frac,
            "fill_min": fmin,
            "fill_max": fmax,
            "image_min": r5(img.min()),
            "image_max": r5(img.max()),
        }
        print(mode, "mean fraction", np.mean(frac))
    write("dropout.json", out)


def shuffle() -> None:
    img = img96()
    t = RandCoarseShuffled(keys=["image"], prob=0.8, holes=10, spatial_size=8)
    t.set_random_state(seed=SEED)
    n = 2000
    applied, starts, checks = [], [], []
    for _ in range(n):
        r = np.asarray(t({"image": torch.from_numpy(img.copy())})["image"])
        applied.append(int(t._do_transform))
        if not t._do_transform:
            assert np.array_equal(r, img)
            continue
        hb = [hole_box(h) for h in t.shuffle.hole_coords]
        starts.append([v for b in hb for v in b[:3]])
        if len(checks) < 50:
            inside = np.zeros(img.shape, bool)
            for h in t.shuffle.hole_coords:
                inside[h] = True
            union_ok = np.array_equal(np.sort(r[inside]), np.sort(img[inside]))
            outside_ok = np.array_equal(r[~inside], img[~inside])
            per_box = []
            for i, (h, b) in enumerate(zip(t.shuffle.hole_coords, hb)):
                alone = all(
                    any(b[a] + b[a + 3] <= o[a] or o[a] + o[a + 3] <= b[a] for a in range(3))
                    for j, o in enumerate(hb)
                    if j != i
                )
                if alone:
                    per_box.append(bool(np.array_equal(np.sort(r[h].ravel()), np.sort(img[h].ravel()))))
            moved = float((r[inside] != img[inside]).mean())
            checks.append({"union_multiset": bool(union_ok), "outside_unchanged": bool(outside_ok), "isolated_boxes": per_box, "moved": r5(moved)})
    write("shuffle.json", {"versions": versions(), "args": dict(prob=0.8, holes=10, spatial_size=8), "n": n, "applied": applied, "starts": starts, "checks": checks})


def posneg_inputs() -> tuple[np.ndarray, np.ndarray, dict]:
    """Image: (det+1)/2 + 0.01 (> 0) inside the 'body' ellipsoid, 0 outside; label: 1 inside the 'blob' ellipsoid."""
    shape = (120, 110, 100)
    desc = {
        "shape": [1, *shape],
        "body": {"center": [64, 52, 47], "radii": [52, 46, 44]},
        "blob": {"center": [40, 68, 58], "radii": [9, 14, 7]},
        "image": "where(inside(body), (det((1,120,110,100), 11) + 1) / 2 + 0.01, 0) float32",
    }
    x, y, z = np.meshgrid(*[np.arange(s, dtype=np.float64) for s in shape], indexing="ij")

    def inside(e):
        c, r = e["center"], e["radii"]
        return ((x - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((z - c[2]) / r[2]) ** 2 <= 1.0

    noise = ((det((1, *shape), 11) + np.float32(1)) / np.float32(2) + np.float32(0.01)).astype(np.float32)
    image = np.where(inside(desc["body"])[None], noise, np.float32(0)).astype(np.float32)
    label = inside(desc["blob"])[None].astype(np.float32)
    desc["n_foreground"] = int((label > 0).sum())
    desc["n_background"] = int(((image > 0) & (label == 0)).sum())
    desc["image_sum"] = float(image.astype(np.float64).sum())
    return image, label, desc


def posneg() -> None:
    image, label, desc = posneg_inputs()
    shape = image.shape[1:]
    S = 48
    # the blob lies strictly inside the valid-centre box [S//2, N - S//2], so centre correction never moves a
    # foreground centre off the blob nor a background centre onto it
    fgi = np.argwhere(label[0] > 0)
    assert (fgi.min(0) > S // 2).all() and (fgi.max(0) < np.array(shape) - S // 2).all(), (fgi.min(0), fgi.max(0))
    idx = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(1, *shape)
    t = RandCropByPosNegLabeld(
        keys=["image", "label", "idx"], label_key="label", spatial_size=(S, S, S), pos=1, neg=1, num_samples=4, image_key="image", image_threshold=0
    )
    t.set_random_state(seed=SEED)
    n = 600
    starts, fg = [], []
    data = {"image": torch.from_numpy(image), "label": torch.from_numpy(label), "idx": torch.from_numpy(idx)}
    for _ in range(n):
        for s in t(data):
            c = np.asarray(s["idx"])
            i0 = int(c[0, 0, 0, 0])
            st = np.unravel_index(i0, shape)
            # the whole crop is the box [st, st+S): verify against the index volume
            assert np.array_equal(c[0], idx[0, st[0] : st[0] + S, st[1] : st[1] + S, st[2] : st[2] + S])
            assert np.array_equal(np.asarray(s["label"]), label[:, st[0] : st[0] + S, st[1] : st[1] + S, st[2] : st[2] + S])
            starts.append([int(v) for v in st])
            fg.append(int(np.asarray(s["label"])[0, S // 2, S // 2, S // 2] > 0))
    print("posneg fg fraction", np.mean(fg))
    write("posneg.json", {"versions": versions(), "inputs": desc, "spatial_size": S, "num_samples": 4, "n_calls": n, "starts": starts, "center_fg": fg})


def flip_rot_shift() -> None:
    n = 4000
    vol = torch.arange(4 * 5 * 6, dtype=torch.float32).reshape(1, 4, 5, 6)
    res = {"versions": versions(), "n": n}
    for a in range(3):
        t = RandFlipd(keys=["image"], spatial_axis=[a], prob=0.1)
        t.set_random_state(seed=SEED)
        fl = []
        for _ in range(n):
            r = t({"image": vol.clone()})["image"]
            f = not torch.equal(torch.as_tensor(r), vol)
            assert f == bool(t._do_transform)
            fl.append(int(f))
        res[f"flip{a}"] = fl
    t = RandRotate90d(keys=["image"], prob=0.1, max_k=3)
    t.set_random_state(seed=SEED)
    ks = []
    vol2 = torch.arange(4 * 4 * 3, dtype=torch.float32).reshape(1, 4, 4, 3)
    for _ in range(n):
        r = torch.as_tensor(t({"image": vol2.clone()})["image"])
        k = 0
        for kk in (1, 2, 3):
            if torch.equal(r, torch.rot90(vol2, kk, dims=(1, 2))):
                k = kk
        assert k == (t._rand_k if t._do_transform else 0)
        ks.append(k)
    res["rot90_k"] = ks  # 0 = not applied
    t = RandShiftIntensityd(keys=["image"], offsets=0.1, prob=0.5)
    t.set_random_state(seed=SEED)
    zeros = torch.zeros(1, 2, 2, 2)
    off = []
    for _ in range(n):
        r = torch.as_tensor(t({"image": zeros.clone()})["image"])
        off.append(round(float(r[0, 0, 0, 0]), 6) if t._do_transform else None)
    res["shift_offset"] = off  # null = not applied
    write("flip_rot_shift.json", res)


def exact() -> None:
    res = {"versions": versions()}
    shape = (1, 4, 5, 6)
    vol = torch.arange(int(np.prod(shape)), dtype=torch.float32).reshape(shape)
    res["index_shape"] = list(shape)
    rot = []
    for k, axes in [(1, (0, 1)), (2, (0, 1)), (3, (0, 1)), (1, (0, 2)), (1, (1, 2)), (3, (1, 2))]:
        r = torch.as_tensor(Rotate90(k=k, spatial_axes=axes)(vol.clone()))
        assert torch.equal(r, torch.rot90(vol, k, dims=(axes[0] + 1, axes[1] + 1)))
        rot.append({"k": k, "axes": list(axes), "shape": list(r.shape), "data": r.flatten().int().tolist()})
    res["rot90"] = rot
    res["flip"] = []
    for a in range(3):
        r = torch.as_tensor(Flip(spatial_axis=a)(vol.clone()))
        res["flip"].append({"axis": a, "data": r.flatten().int().tolist()})
    cshape = (1, 20, 17, 9)
    cvol = torch.arange(int(np.prod(cshape)), dtype=torch.float32).reshape(cshape)
    crops = []
    for roi in [(8, 8, 8), (7, 5, 9), (20, 16, 3), (1, 17, 2)]:
        for c in [(0, 0, 0), (3, 2, 1), (4, 3, 4), (10, 8, 4), (15, 14, 7), (19, 16, 8), (17, 12, 6), (11, 3, 8)]:
            cc = correct_crop_centers(list(c), roi, cshape[1:])
            cc = [int(v) for v in cc]
            r = np.asarray(SpatialCrop(roi_center=cc, roi_size=roi)(cvol.clone()))
            st = np.unravel_index(int(r[0, 0, 0, 0]), cshape[1:])
            assert list(r.shape[1:]) == list(roi)
            crops.append({"roi": list(roi), "center": list(c), "corrected": cc, "start": [int(v) for v in st]})
    res["crop_shape"] = list(cshape)
    res["crops"] = crops
    write("exact.json", res)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    jobs = sys.argv[1:] or ["exact", "flip_rot_shift", "posneg", "shuffle", "dropout"]
    for j in jobs:
        globals()[j]()
