#!/usr/bin/env python3
"""Reference fixtures for ssl3d's deterministic preprocessing, made with MONAI.

How to rerun (from the repository root, on a machine with the shared data beside the checkout):

    pip install monai torch==2.13.0 nibabel      # torch 2.13.0 is the CPU wheel on this machine's local disk
    npm install && npm run build                  # the phantom inputs come from `ssl3d synth`
    python3 scripts/reference/make_preprocess_fixtures.py

What it writes (committed; the TypeScript tests compare against them):

    test/fixtures/preprocess/inputs/<case>_image.nii.gz, <case>_label.nii.gz
        Central 48×48×28 blocks of small phantoms from `ssl3d synth --small`, re-saved by nibabel with
        non-trivial affines:
        - phantom_flipped: axes stored as L-P-S with anisotropic voxels (x/y flipped relative to RAS);
        - phantom_oblique: rotated 20° about z and 8° about x, anisotropic voxels;
        - phantom_permuted: array axes permuted (stored as A-S-L style) and one axis flipped.
        The real CT (../shared/data/ct-abdomen-small) is read from its shared location, not copied.
    test/fixtures/preprocess/expected/<case>__<preset>__{image,label}.nii.gz
        MONAI's output of the tutorial's deterministic chain (float32 image, label as stored float values):
        - preset 'pretrain'    : LoadImaged, EnsureChannelFirstd, Spacingd(2,2,2 bilinear),
                                 ScaleIntensityRanged(-57,164,0,1,clip), CropForegroundd(allow_smaller), SpatialPadd(96)
        - preset 'finetune-val': LoadImaged, EnsureChannelFirstd, Orientationd(RAS), Spacingd((1.5,1.5,2),
                                 (bilinear,nearest)), ScaleIntensityRanged(-175,250,0,1,clip), CropForegroundd
    test/fixtures/preprocess/expected/manifest.json
        shapes, affines (MONAI MetaTensor .affine, float64) and the versions of MONAI/torch/nibabel used.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

import nibabel as nib
import numpy as np

warnings.filterwarnings("ignore")

import monai  # noqa: E402
import torch  # noqa: E402
from monai.transforms import (  # noqa: E402
    Compose,
    CropForegroundd,
    EnsureChannelFirstd,
    LoadImaged,
    Orientationd,
    ScaleIntensityRanged,
    Spacingd,
    SpatialPadd,
)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "preprocess")
SHARED_CT = os.path.abspath(os.path.join(ROOT, "..", "shared", "data", "ct-abdomen-small"))


def pretrain_chain():
    keys = ["image"]
    return Compose(
        [
            LoadImaged(keys=keys),
            EnsureChannelFirstd(keys=keys),
            Spacingd(keys=keys, pixdim=(2.0, 2.0, 2.0), mode=("bilinear")),
            ScaleIntensityRanged(keys=keys, a_min=-57, a_max=164, b_min=0.0, b_max=1.0, clip=True),
            CropForegroundd(keys=keys, source_key="image", allow_smaller=True),
            SpatialPadd(keys=keys, spatial_size=(96, 96, 96)),
        ]
    )


def finetune_val_chain(keys):
    return Compose(
        [
            LoadImaged(keys=keys),
            EnsureChannelFirstd(keys=keys),
            Orientationd(keys=keys, axcodes="RAS"),
            Spacingd(keys=keys, pixdim=(1.5, 1.5, 2.0), mode=("bilinear", "nearest")[: len(keys)]),
            ScaleIntensityRanged(keys=["image"], a_min=-175, a_max=250, b_min=0.0, b_max=1.0, clip=True),
            CropForegroundd(keys=keys, source_key="image", allow_smaller=True),
        ]
    )


def rot(axis: int, deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    m = np.eye(3)
    i, j = [a for a in range(3) if a != axis]
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


def make_phantom_inputs(inputs_dir: str) -> list[str]:
    """Two or more small phantoms from `ssl3d synth --small`, re-saved with flipped/oblique/permuted affines."""
    tmp = tempfile.mkdtemp()
    try:
        cmd = ["node", os.path.join(ROOT, "bin", "ssl3d.js"), "synth", "--small", "--labels", "--n", "3",
               "--unlabeled", "0", "--seed", "2024", "--out", tmp, "--quiet"]
        subprocess.run(cmd, check=True)
        manifest = json.load(open(os.path.join(tmp, "dataset.json")))
        pairs = manifest["training"] + manifest.get("validation", [])
        cases = []
        specs = {
            "phantom_flipped": lambda z: np.diag([-z[0], -z[1], z[2] * 1.0]),
            "phantom_oblique": lambda z: rot(2, 20.0) @ rot(0, 8.0) @ np.diag(z),
            "phantom_permuted": lambda z: np.array([[0, 0, -z[2]], [z[0], 0, 0], [0, z[1], 0]], dtype=float),
        }
        for (name, lin), pair in zip(specs.items(), pairs):
            img = nib.load(os.path.join(tmp, pair["image"]))
            lab = nib.load(os.path.join(tmp, pair["label"]))
            zooms = np.array([2.2, 2.6, 3.4])  # anisotropic on purpose
            aff = np.eye(4)
            aff[:3, :3] = lin(zooms)
            aff[:3, 3] = [31.5, -12.25, 7.0]
            # a central 48×48×28 block keeps the fixtures small (a few hundred kB each)
            sl = tuple(slice((n - m) // 2, (n - m) // 2 + m) for n, m in zip(img.shape, (48, 48, 28)))
            for arr, kind, dtype in ((np.asanyarray(img.dataobj)[sl], "image", np.int16), (np.asanyarray(lab.dataobj)[sl], "label", np.uint8)):
                out = nib.Nifti1Image(arr.astype(dtype), aff)
                out.header.set_qform(aff, code=1)
                out.header.set_sform(aff, code=1)
                nib.save(out, os.path.join(inputs_dir, f"{name}_{kind}.nii.gz"))
            cases.append(name)
        return cases
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    inputs_dir = os.path.join(OUT, "inputs")
    expected_dir = os.path.join(OUT, "expected")
    for d in (inputs_dir, expected_dir):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    cases: dict[str, dict[str, str]] = {}
    if os.path.exists(os.path.join(SHARED_CT, "example_ct_sm.nii.gz")):
        cases["real_ct"] = {
            "image": os.path.join(SHARED_CT, "example_ct_sm.nii.gz"),
            "label": os.path.join(SHARED_CT, "example_seg.nii.gz"),
            "image_ref": "shared:data/ct-abdomen-small/example_ct_sm.nii.gz",
            "label_ref": "shared:data/ct-abdomen-small/example_seg.nii.gz",
        }
    else:
        sys.exit(f"the shared real CT is missing at {SHARED_CT}")
    for name in make_phantom_inputs(inputs_dir):
        cases[name] = {
            "image": os.path.join(inputs_dir, f"{name}_image.nii.gz"),
            "label": os.path.join(inputs_dir, f"{name}_label.nii.gz"),
            "image_ref": f"fixtures:preprocess/inputs/{name}_image.nii.gz",
            "label_ref": f"fixtures:preprocess/inputs/{name}_label.nii.gz",
        }

    manifest = {
        "generator": "scripts/reference/make_preprocess_fixtures.py",
        "versions": {"monai": monai.__version__, "torch": torch.__version__, "nibabel": nib.__version__, "numpy": np.__version__},
        "cases": [],
    }
    for name, c in cases.items():
        for preset in ("pretrain", "finetune-val"):
            keys = ["image"] if preset == "pretrain" else ["image", "label"]
            chain = pretrain_chain() if preset == "pretrain" else finetune_val_chain(keys)
            out = chain({k: c[k] for k in keys})
            entry = {"case": name, "preset": preset, "inputs": {k: c[f"{k}_ref"] for k in keys}, "outputs": {}}
            for k in keys:
                t = out[k]
                arr = t[0].numpy().astype(np.float32)
                aff = np.asarray(t.affine, dtype=np.float64)
                fname = f"{name}__{preset}__{k}.nii.gz"
                img = nib.Nifti1Image(arr, aff)
                img.header.set_sform(aff, code=1)
                img.header.set_qform(aff, code=1)
                nib.save(img, os.path.join(expected_dir, fname))
                entry["outputs"][k] = {
                    "file": fname,
                    "shape": list(arr.shape),
                    "affine": aff.tolist(),
                    "min": float(arr.min()) if arr.size else None,
                    "max": float(arr.max()) if arr.size else None,
                    "mean": float(arr.mean(dtype=np.float64)) if arr.size else None,
                }
            manifest["cases"].append(entry)
            print(f"{name:18s} {preset:13s} " + ", ".join(f"{k} {entry['outputs'][k]['shape']}" for k in keys))
    with open(os.path.join(expected_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
