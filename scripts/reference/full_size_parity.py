#!/usr/bin/env python3
"""Full-size parity of ssl3d's networks with MONAI: the tutorial's ViTAutoEnc and UNETR (96³, hidden 768, 12 layers).

Not part of CI (each network is ~90 M parameters: ~360 MB per .pt file, ~1–2 min and several GB of memory per run).
The tests check the same code paths on tiny configs (test/cli/infer.test.ts, test/nn/*).

How to run (from the repository root; needs torch, monai ≥ 1.4, numpy, and a built ssl3d):

    npm run build
    python3 scripts/reference/full_size_parity.py                       # both networks, native backend
    python3 scripts/reference/full_size_parity.py --backend wasm --arch vitautoenc   # (UNETR 96³ on wasm: see below)
    python3 scripts/reference/full_size_parity.py --keep /tmp/parity    # keep the .pt/.npy files
    python3 scripts/reference/full_size_parity.py --f64                 # + errors against MONAI in float64

For each network it builds the MONAI model with the tutorial's constructor arguments (spec §3.1/§3.2), gives every
parameter random non-trivial values (seeded; noise of about each tensor's own scale, so LayerNorm weights, biases and
position embeddings are not at their trivial init and activations stay in a realistic range), saves
`torch.save(model.state_dict())` (bare MONAI state dict, unused norm_cross_attn keys included) and a random input
(1, 1, 96, 96, 96) as .npy, runs MONAI's eval forward under no_grad, then

    SSL3D_BACKEND=<backend> node bin/ssl3d.js infer --arch <arch> --arch-json arch.json --weights model.pt \\
        --input x.npy --output y.npy

and prints max |ssl3d − MONAI|, max |MONAI|, the relative difference max|diff| / max(1, max|MONAI|), PASS/FAIL
against 1e-4, and the wall times (MONAI forward; ssl3d's whole `infer` process including reading the .pt).
Exit status 1 if any network fails.

Last run (2026-11-26, 2-core Xeon, shared machine, native backend, MONAI 1.6.1, torch 2.13.0+cpu):
  vitautoenc: max|diff| 2.9e-06, max|ref| 1.79, rel 1.6e-06 PASS (MONAI float32 vs float64: 1.3e-06)
  unetr:      max|diff| 1.8e-04, max|ref| 5.81, rel 3.0e-05 PASS (MONAI float32 vs float64: 1.6e-06)
  On wasm, UNETR 96³ aborts ("memory access out of bounds"), most likely the 4 GiB wasm heap: the forward keeps every
  intermediate until its outer tf.tidy ends (bench/models.mjs: tf peak 1.46 GiB for a 2 × 48³ forward, so ~6 GiB
  for 96³).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from monai.networks.nets import UNETR, ViTAutoEnc

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOL = 1e-4

CONFIGS = {
    "vitautoenc": (ViTAutoEnc, dict(in_channels=1, img_size=[96, 96, 96], patch_size=[16, 16, 16], proj_type="conv",
                                    hidden_size=768, mlp_dim=3072, num_layers=12, num_heads=12, deconv_chns=16)),
    "unetr": (UNETR, dict(in_channels=1, out_channels=14, img_size=[96, 96, 96], feature_size=16, hidden_size=768,
                          mlp_dim=3072, num_heads=12, proj_type="conv", norm_name="instance", res_block=True,
                          dropout_rate=0.0)),
}


def randomize(model):
    """Non-trivial values everywhere: weights get noise of their own std, vectors (LayerNorm, biases) ±0.05."""
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2:
                p.add_(torch.randn_like(p) * max(float(p.std()), 0.02))
            else:
                p.add_(torch.randn_like(p) * 0.05)


def run_one(arch, backend, work, seed, node, f64=False):
    cls, args = CONFIGS[arch]
    torch.manual_seed(seed)
    model = cls(**args).eval()
    randomize(model)
    x = torch.randn(1, 1, 96, 96, 96)
    paths = {k: os.path.join(work, f"{arch}_{k}") for k in ("model.pt", "arch.json", "x.npy", "y.npy")}
    torch.save(model.state_dict(), paths["model.pt"])
    with open(paths["arch.json"], "w") as f:
        json.dump(args, f)
    np.save(paths["x.npy"], x.numpy())

    with torch.no_grad():
        model(x)  # warm-up (first-call allocations), not timed
        t = time.perf_counter()
        ref = model(x)
        t_monai = time.perf_counter() - t
    ref = (ref[0] if isinstance(ref, tuple) else ref).numpy()
    ref64 = None
    if f64:  # the float32 round-off floor: MONAI float32 and ssl3d against MONAI in float64
        model.double()
        with torch.no_grad():
            ref64 = model(x.double())
        ref64 = (ref64[0] if isinstance(ref64, tuple) else ref64).numpy()
    del model

    env = {**os.environ, "SSL3D_BACKEND": backend}
    cmd = [node, os.path.join(ROOT, "bin", "ssl3d.js"), "infer", "--arch", arch, "--arch-json", paths["arch.json"],
           "--weights", paths["model.pt"], "--input", paths["x.npy"], "--output", paths["y.npy"]]
    t = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    t_ssl3d = time.perf_counter() - t
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit(f"{arch}: ssl3d infer failed (exit {p.returncode})")
    y = np.load(paths["y.npy"])
    if y.shape != ref.shape:
        raise SystemExit(f"{arch}: ssl3d output shape {y.shape}, MONAI {ref.shape}")
    diff = float(np.abs(y.astype(np.float64) - ref).max())
    scale = float(np.abs(ref).max())
    rel = diff / max(1.0, scale)
    extra = {}
    if ref64 is not None:
        s64 = max(1.0, float(np.abs(ref64).max()))
        extra = dict(rel_monai32_vs_f64=float(np.abs(ref - ref64).max()) / s64,
                     rel_ssl3d_vs_f64=float(np.abs(y - ref64).max()) / s64)
    return dict(arch=arch, backend=backend, shape=list(ref.shape), max_abs_diff=diff, max_abs_ref=scale, rel=rel, **extra,
                ok=rel <= TOL, monai_forward_s=t_monai, ssl3d_infer_process_s=t_ssl3d,
                ssl3d_log=[l for l in p.stderr.splitlines() if l.startswith(("backend", "loaded"))][:3])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", default="native", help="SSL3D_BACKEND for ssl3d: native (default), wasm, cpu")
    ap.add_argument("--arch", default="vitautoenc,unetr", help="comma-separated: vitautoenc, unetr")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", metavar="DIR", help="write the files here and keep them (default: a temp dir, removed)")
    ap.add_argument("--node", default="node")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--f64", action="store_true",
                    help="also run MONAI in float64 and report MONAI-float32 and ssl3d errors against it (round-off floor)")
    a = ap.parse_args()
    if not os.path.exists(os.path.join(ROOT, "dist", "cli", "commands", "infer.js")):
        raise SystemExit("dist/ missing: run `npm run build` first")
    import monai
    print(f"MONAI {monai.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads); "
          f"ssl3d backend {a.backend}", flush=True)
    results = []
    ctx = tempfile.TemporaryDirectory(prefix="ssl3d-parity-") if not a.keep else None
    work = a.keep or ctx.name
    os.makedirs(work, exist_ok=True)
    try:
        for arch in a.arch.split(","):
            r = run_one(arch.strip(), a.backend, work, a.seed, a.node, a.f64)
            results.append(r)
            print(f"{r['arch']:10s} out {tuple(r['shape'])}: max|diff| {r['max_abs_diff']:.3e}, max|ref| "
                  f"{r['max_abs_ref']:.3e}, rel {r['rel']:.3e} -> {'PASS' if r['ok'] else 'FAIL'} (tol {TOL:g}); "
                  f"MONAI forward {r['monai_forward_s']:.2f} s, ssl3d infer process {r['ssl3d_infer_process_s']:.2f} s"
                  + (f" [{'; '.join(r['ssl3d_log'])}]" if r["ssl3d_log"] else ""), flush=True)
            if "rel_monai32_vs_f64" in r:
                print(f"{'':10s} vs MONAI float64: MONAI float32 rel {r['rel_monai32_vs_f64']:.3e}, "
                      f"ssl3d rel {r['rel_ssl3d_vs_f64']:.3e}", flush=True)
    finally:
        if ctx:
            ctx.cleanup()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    sys.exit(0 if all(r["ok"] for r in results) else 1)


if __name__ == "__main__":
    main()
