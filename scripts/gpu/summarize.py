#!/usr/bin/env python3
"""Summary of a device run (scripts/gpu/device_run.sh): ssl3d on TF.js webgpu vs MONAI/PyTorch on cuda.

    python3 scripts/gpu/summarize.py RESULTS.jsonl [SSL3D_BENCH.json]

RESULTS.jsonl holds the run's JSON lines ({"step": ...}, {"opcheck": ...}, MONAI lines with "job"); the optional
bench/models.mjs --json output holds the ssl3d rows. The ssl3d rows are appended to RESULTS.jsonl (as
{"step": "ssl3d", ...}) and a markdown table is printed."""
import json
import sys


def main():
    jsonl = sys.argv[1]
    lines = []
    with open(jsonl) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    lines.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    monai = {}
    for r in lines:
        j = r.get("job")
        if j and r.get("step") == "monai":
            monai[(j["config"], j["net"], j["phase"])] = r
    rows = []
    if len(sys.argv) > 2:
        try:
            with open(sys.argv[2]) as f:
                rows = json.load(f)["rows"]
        except (OSError, ValueError, KeyError) as e:
            print(f"(no ssl3d bench results: {e})")
    with open(jsonl, "a") as f:
        for r in rows:
            f.write(json.dumps({"step": "ssl3d", **{k: r[k] for k in ("config", "net", "phase", "backend", "batch")}, "result": r["ssl3d"]}) + "\n")
    ours = {(r["config"], r["net"], r["phase"]): r for r in rows}

    def fmt(v, d=4):
        return "–" if v is None else (f"{v:.2e}" if v < 1e-3 else f"{v:.{d}f}")

    adapter = next((r for r in lines if r.get("step") == "adapter"), None)
    gpu = next((r for r in lines if r.get("step") == "gpu"), None)
    op = next((r for r in lines if r.get("opcheck") == "summary"), None)
    print("\n## summary")
    if gpu:
        print(f"GPU: {gpu.get('nvidia_smi', '?')}")
    if adapter:
        a = adapter.get("adapter") or {}
        print(f"WebGPU adapter: {a.get('vendor')} / {a.get('architecture')} / {a.get('description') or a.get('device')}"
              if a else f"WebGPU adapter: none ({adapter.get('error', '')})")
    if op:
        print(f"op check on webgpu: {op['passed']}/{op['total']} ok" + (f"; failed: {', '.join(op['failed'])}" if op["failed"] else ""))
    else:
        print("op check on webgpu: not run, or did not finish")
    for r in lines:
        if r.get("opcheck", "").startswith("stock_conv3d"):
            print(f"  {r['opcheck']}: rel err vs torch {r.get('rel', float('nan')):.2e} (tol {r.get('tol')}), gpu_error={r.get('gpu_error')}, "
                  f"max abs vs cpu {r.get('max_abs_vs_cpu')}" + (f" ERROR {r['error']}" if r.get("error") else ""))
    keys = []
    for k in list(monai) + list(ours):
        if k not in keys:
            keys.append(k)
    dev = next((r["job"].get("device") or "cpu" for r in monai.values() if r.get("job")), "cuda")
    print(f"\n| config | network | phase | ssl3d webgpu s/sample | first step s | MONAI {dev} s/sample | ratio | MONAI {dev} peak | note |")
    print("|---|---|---|---|---|---|---|---|---|")
    for k in keys:
        o = ours.get(k, {}).get("ssl3d") or {}
        m = monai.get(k) or {}
        ps = o.get("per_sample_s") if not o.get("error") else None
        note = o.get("error") or ""
        if o.get("gpu_errors"):
            ps = None
            note += f" VOID: {o['gpu_errors']} GPU errors (first: {o.get('gpu_error_first')})"
        if o.get("error") and o.get("times"):
            ps_partial = sorted(o["times"])[len(o["times"]) // 2] / (ours[k].get("batch") or 2)
            note += f" (partial: {len(o['times'])} timed steps, median {ps_partial:.3f} s/sample)"
        elif o.get("error") and o.get("warmup_times"):
            note += f" (warm-up step took {o['warmup_times'][0]:.1f} s)"
        if m.get("error"):
            note += f" MONAI: {m['error']}"
        first = (o.get("warmup_times") or [None])[0]
        mps = m.get("per_sample_s")
        ratio = f"{ps / mps:.1f}×" if ps and mps else "–"
        peak = f"{m['cuda_peak_mb']:.0f} MiB" if m.get("cuda_peak_mb") is not None else "–"
        print(f"| {k[0]} | {k[1]} | {k[2]} | {fmt(ps)} | {fmt(first, 2)} | {fmt(mps)} | {ratio} | {peak} | {note.strip()} |")

    demo = next((r for r in lines if r.get("step") == "demo"), None)
    if demo:
        print(f"\nssl3d demo on webgpu (a few steps): {'ok' if demo.get('rc') == 0 else 'FAILED (exit %s)' % demo.get('rc')} in {demo.get('s')} s")
    ab = [r for r in lines if r.get("step") == "ab"]
    if ab:
        convs = [r for r in lines if str(r.get("opcheck", "")).startswith("ops.conv3")]
        conv_ok = all(r.get("ok") for r in convs)
        print("\nA/B, webgpu 3³ filter gradient (SSL3D_WEBGPU_CONV_DW), full UNETR train s/sample:")
        base = ours.get(("full", "unetr", "train"), {}).get("ssl3d") or {}
        for name, res in [("batched (default)", base)] + [(r["conv_dw"], r.get("result") or {}) for r in ab]:
            ps = res.get("per_sample_s") if not res.get("error") else None
            print(f"  {name}: {fmt(ps)}" + (f" ({res['error']})" if res.get("error") else ""))
        print(f"  op layer 3³ cases vs PyTorch over all routes: {sum(1 for r in convs if r.get('ok'))}/{len(convs)} ok" + ("" if conv_ok else " FAILED"))


if __name__ == "__main__":
    main()
