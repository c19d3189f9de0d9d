#!/usr/bin/env python3
"""MONAI side of bench/pipeline.mjs.

  label IMAGE OUT            write a label for the benchmark volume (organ = voxels > 75 HU inside the body, as uint8)
  time IMAGE LABEL PIPELINE PAD COLD WARM
                             time the tutorial's training pipeline (pretrain | finetune) on one volume: COLD runs of
                             the whole chain (monai.data.Dataset: every transform on every access) and WARM runs of the
                             random part on a deep copy of the cached deterministic output (CacheDataset). PAD=1 adds
                             SpatialPadd(96^3) after CropForegroundd for fine-tuning (volumes thinner than the patch).
Prints one JSON line. Run with OMP_WAIT_POLICY=PASSIVE. Needs monai, torch, nibabel."""
import copy
import json
import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")


def make_label(image, out):
    import nibabel as nib
    img = nib.load(image)
    vol = np.asarray(img.dataobj)
    lab = (vol > 75).astype(np.uint8)
    hdr = nib.Nifti1Image(lab, img.affine)
    hdr.header.set_qform(img.affine, 1)
    hdr.header.set_sform(img.affine, 1)
    nib.save(hdr, out)


def chains(pipeline, pad):
    from monai.transforms import (Compose, CopyItemsd, CropForegroundd, EnsureChannelFirstd, LoadImaged, OneOf,
                                  Orientationd, RandCoarseDropoutd, RandCoarseShuffled, RandCropByPosNegLabeld,
                                  RandFlipd, RandRotate90d, RandShiftIntensityd, RandSpatialCropSamplesd,
                                  ScaleIntensityRanged, Spacingd, SpatialPadd, ToTensord)
    if pipeline == "pretrain":
        k = ["image"]
        det = [LoadImaged(keys=k), EnsureChannelFirstd(keys=k), Spacingd(keys=k, pixdim=(2.0, 2.0, 2.0), mode=("bilinear")),
               ScaleIntensityRanged(keys=k, a_min=-57, a_max=164, b_min=0.0, b_max=1.0, clip=True),
               CropForegroundd(keys=k, source_key="image", allow_smaller=True), SpatialPadd(keys=k, spatial_size=(96, 96, 96))]

        def views(key):
            return [OneOf(transforms=[
                RandCoarseDropoutd(keys=[key], prob=1.0, holes=6, spatial_size=5, dropout_holes=True, max_spatial_size=32),
                RandCoarseDropoutd(keys=[key], prob=1.0, holes=6, spatial_size=20, dropout_holes=False, max_spatial_size=64)]),
                RandCoarseShuffled(keys=[key], prob=0.8, holes=10, spatial_size=8)]
        rnd = [RandSpatialCropSamplesd(keys=k, roi_size=(96, 96, 96), random_size=False, num_samples=2),
               CopyItemsd(keys=k, times=2, names=["gt_image", "image_2"], allow_missing_keys=False), *views("image"), *views("image_2")]
    else:
        k = ["image", "label"]
        det = [LoadImaged(keys=k), EnsureChannelFirstd(keys=k), Orientationd(keys=k, axcodes="RAS"),
               Spacingd(keys=k, pixdim=(1.5, 1.5, 2.0), mode=("bilinear", "nearest")),
               ScaleIntensityRanged(keys=["image"], a_min=-175, a_max=250, b_min=0.0, b_max=1.0, clip=True),
               CropForegroundd(keys=k, source_key="image", allow_smaller=True)]
        if pad:
            det.append(SpatialPadd(keys=k, spatial_size=(96, 96, 96)))
        rnd = [RandCropByPosNegLabeld(keys=k, label_key="label", spatial_size=(96, 96, 96), pos=1, neg=1, num_samples=4,
                                      image_key="image", image_threshold=0),
               RandFlipd(keys=k, spatial_axis=[0], prob=0.10), RandFlipd(keys=k, spatial_axis=[1], prob=0.10),
               RandFlipd(keys=k, spatial_axis=[2], prob=0.10), RandRotate90d(keys=k, prob=0.10, max_k=3),
               RandShiftIntensityd(keys=["image"], offsets=0.10, prob=0.50), ToTensord(keys=k)]
    return Compose(det), Compose(rnd), Compose(det + rnd)


def timeit(image, label, pipeline, pad, cold, warm):
    import torch
    from monai.utils import set_determinism
    set_determinism(seed=123)
    det, rnd, full = chains(pipeline, pad)
    item = {"image": image} if pipeline == "pretrain" else {"image": image, "label": label}
    cold_s, warm_s, n = [], [], 0
    for _ in range(cold):
        t = time.perf_counter()
        out = full(dict(item))
        cold_s.append(time.perf_counter() - t)
        n = len(out)
    cached = det(dict(item))
    for _ in range(warm):
        t = time.perf_counter()
        out = rnd(copy.deepcopy(cached))
        warm_s.append(time.perf_counter() - t)
    print(json.dumps({"cold_s": cold_s, "warm_s": warm_s, "samples": n, "shape": list(out[0]["image"].shape),
                      "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    if sys.argv[1] == "label":
        make_label(sys.argv[2], sys.argv[3])
    else:
        timeit(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] == "1", int(sys.argv[6]), int(sys.argv[7]))
