#!/usr/bin/env python3
"""MONAI side of bench/preprocess.mjs: `gen OUT.nii.gz` writes the benchmark volume, `time FILE PRESET REPEATS`
times MONAI's load + deterministic preprocessing and prints one JSON line. Needs `pip install monai torch==2.13.0 nibabel`."""
import json
import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")


def gen(out):
    import nibabel as nib

    rng = np.random.default_rng(0)
    X, Y, Z = 512, 512, 200
    x, y = np.meshgrid(np.linspace(-1, 1, X), np.linspace(-1, 1, Y), indexing="ij")
    body = (x / 0.85) ** 2 + (y / 0.65) ** 2 < 1
    organ = ((x + 0.3) / 0.3) ** 2 + ((y - 0.1) / 0.25) ** 2 < 1
    sl = np.full((X, Y), -1000, np.float32)
    sl[body] = -90
    sl[body & ((x / 0.78) ** 2 + (y / 0.58) ** 2 < 1)] = 40
    sl[organ] = 110
    vol = np.repeat(sl[:, :, None], Z, axis=2) + rng.normal(0, 15, (X, Y, Z)).astype(np.float32)
    aff = np.diag([0.78, 0.78, 2.5, 1.0])
    aff[:3, 3] = [-200, -200, -250]
    img = nib.Nifti1Image(vol.astype(np.int16), aff)
    img.header.set_qform(aff, 1)
    img.header.set_sform(aff, 1)
    nib.save(img, out)


def chain(preset):
    from monai.transforms import (Compose, CropForegroundd, EnsureChannelFirstd, LoadImaged, Orientationd,
                                  ScaleIntensityRanged, Spacingd, SpatialPadd)
    k = ["image"]
    if preset == "pretrain":
        return Compose([LoadImaged(keys=k), EnsureChannelFirstd(keys=k), Spacingd(keys=k, pixdim=(2.0, 2.0, 2.0), mode="bilinear"),
                        ScaleIntensityRanged(keys=k, a_min=-57, a_max=164, b_min=0.0, b_max=1.0, clip=True),
                        CropForegroundd(keys=k, source_key="image", allow_smaller=True), SpatialPadd(keys=k, spatial_size=(96, 96, 96))])
    return Compose([LoadImaged(keys=k), EnsureChannelFirstd(keys=k), Orientationd(keys=k, axcodes="RAS"),
                    Spacingd(keys=k, pixdim=(1.5, 1.5, 2.0), mode="bilinear"),
                    ScaleIntensityRanged(keys=k, a_min=-175, a_max=250, b_min=0.0, b_max=1.0, clip=True),
                    CropForegroundd(keys=k, source_key="image", allow_smaller=True)])


def timeit(file, preset, repeats):
    import torch
    c = chain(preset)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = c({"image": file})
        times.append(time.perf_counter() - t)
    print(json.dumps({"median_s": float(np.median(times)), "times": times, "shape": list(out["image"].shape[1:]),
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(sys.argv[2])
    else:
        timeit(sys.argv[2], sys.argv[3], int(sys.argv[4]))
