#!/usr/bin/env python3
"""MONAI side of bench/inference.mjs: sliding-window inference of a UNETR over one volume, timed, one JSON line.

    python3 bench/monai_inference.py '{"args": {...UNETR constructor...}, "shape": [X, Y, Z], "roi": [r, r, r],
                                       "sw_batch_size": 4, "overlap": 0.25, "repeats": 2, "warmup": 1}'

As the tutorial's validation (ssl_finetune.ipynb, spec 4.6): model.eval(), torch.no_grad(),
sliding_window_inference(x, roi, sw_batch_size, model) with the defaults (overlap 0.25, mode "constant"), x of shape
(1, 1, X, Y, Z), random uniform. The warm-up runs one window batch (sw_batch_size windows of roi) through the model.
Times: wall-clock seconds per volume (median of `repeats`); peak_rss_mb = ru_maxrss of this process.
Run with OMP_WAIT_POLICY=PASSIVE (bench/inference.mjs does)."""
import json
import resource
import sys
import time
import warnings

warnings.filterwarnings("ignore")


def main():
    cfg = json.loads(sys.argv[1])
    import torch
    from monai.inferers import sliding_window_inference
    from monai.networks.nets import UNETR

    torch.manual_seed(0)
    model = UNETR(**cfg["args"]).eval()
    x = torch.rand(1, 1, *cfg["shape"])
    roi = tuple(cfg["roi"])
    n = cfg.get("sw_batch_size", 4)
    with torch.no_grad():
        for _ in range(cfg.get("warmup", 1)):
            model(torch.rand(n, 1, *roi))
        times = []
        for _ in range(cfg.get("repeats", 2)):
            t = time.perf_counter()
            y = sliding_window_inference(x, roi, n, model, overlap=cfg.get("overlap", 0.25))
            times.append(time.perf_counter() - t)
    times_sorted = sorted(times)
    print(json.dumps({
        "median_s": times_sorted[len(times) // 2],
        "times": times,
        "out_shape": list(y.shape),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
