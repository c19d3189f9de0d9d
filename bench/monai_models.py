#!/usr/bin/env python3
"""MONAI side of bench/models.mjs: times one network in one phase in this process and prints one JSON line.

    python3 bench/monai_models.py '{"net": "vitautoenc"|"unetr", "args": {...MONAI constructor...},
                                    "phase": "forward"|"train", "batch": 2, "repeats": 3, "warmup": 1, "warmup_s": 3}'

forward: model.eval(), torch.no_grad(), input (B, 1, *img_size).
train:   model.train(); ViTAutoEnc: the tutorial's step (ssl_train.ipynb) on two views of B crops:
             out1 = model(view1)[0]; out2 = model(view2)[0]
             r = L1Loss()(out1, gt); cl = ContrastiveLoss(temperature=0.05)(out1.flatten(1), out2.flatten(1))
             (r + cl * r).backward(); Adam(lr=1e-4).step()
         UNETR: DiceCELoss(to_onehot_y=True, softmax=True)(model(x), y) with y integer labels in [0, out_channels),
             backward, AdamW(lr=1e-4, weight_decay=1e-5).step() (ssl_finetune.ipynb).
Times are wall-clock seconds per step (median over `repeats` after `warmup` untimed steps); per_sample = / batch.
peak_rss_mb = resource.getrusage(RUSAGE_SELF).ru_maxrss of this process (model, optimizer state and the steps).
Run with OMP_WAIT_POLICY=PASSIVE (bench/models.mjs does).

"device": "cuda" (default "cpu") puts the model and data on the GPU; every step ends with torch.cuda.synchronize()
inside the timing, and cuda_peak_mb = torch.cuda.max_memory_allocated over the warm-up and timed steps (the peak
statistics are reset at the start of each job). The argument may also be a JSON list of jobs: they run one after
the other in this process (one JSON line each; on cuda this saves the interpreter/CUDA start per job; on cpu the
peak RSS is then cumulative)."""
import json
import resource
import sys
import time
import warnings

warnings.filterwarnings("ignore")


def run(cfg):
    import torch
    from monai.losses import ContrastiveLoss, DiceCELoss
    from monai.networks.nets import UNETR, ViTAutoEnc

    torch.manual_seed(0)
    dev = torch.device(cfg.get("device", "cpu"))
    cuda = dev.type == "cuda"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)
    sync = (lambda: torch.cuda.synchronize(dev)) if cuda else (lambda: None)
    net, args, phase, b = cfg["net"], cfg["args"], cfg["phase"], int(cfg["batch"])
    model = (ViTAutoEnc if net == "vitautoenc" else UNETR)(**args).to(dev)
    shape = (b, args.get("in_channels", 1), *args["img_size"])
    x = torch.rand(shape, device=dev)

    if phase == "forward":
        model.eval()

        def step():
            with torch.no_grad():
                y = model(x)
            return y[0] if isinstance(y, tuple) else y
    elif net == "vitautoenc":
        model.train()
        x2, gt = torch.rand(shape, device=dev), torch.rand(shape, device=dev)
        l1, cl_loss = torch.nn.L1Loss(), ContrastiveLoss(temperature=0.05)
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)

        def step():
            opt.zero_grad()
            out1, _ = model(x)
            out2, _ = model(x2)
            r = l1(out1, gt)
            cl = cl_loss(out1.flatten(start_dim=1), out2.flatten(start_dim=1))
            loss = r + cl * r
            loss.backward()
            opt.step()
            return loss
    else:
        model.train()
        y = torch.randint(0, args["out_channels"], (b, 1, *args["img_size"]), device=dev).float()
        loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-5)

        def step():
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            return loss

    # at least `warmup` steps and until `warmup_s` seconds have passed (the same rule as bench/models.mjs)
    warmup_times = []
    w0 = time.perf_counter()
    while len(warmup_times) < int(cfg.get("warmup", 1)) or (
            time.perf_counter() - w0 < float(cfg.get("warmup_s", 0)) and len(warmup_times) < 2000):
        t = time.perf_counter()
        step()
        sync()
        warmup_times.append(time.perf_counter() - t)
    times = []
    for _ in range(int(cfg["repeats"])):
        t = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t)
    med = sorted(times)[len(times) // 2]
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    n_params = sum(p.numel() for p in model.parameters())
    out = {"median_s": med, "per_sample_s": med / b, "times": times, "peak_rss_mb": rss_kb / 1024,
           "threads": torch.get_num_threads(), "torch": torch.__version__, "params": n_params,
           "warmup_steps": len(warmup_times), "warmup_s": sum(warmup_times)}
    if cuda:
        import monai

        out.update(device=torch.cuda.get_device_name(dev), warmup_times=warmup_times, monai=monai.__version__,
                   cuda_peak_mb=torch.cuda.max_memory_allocated(dev) / 2**20)
    return out


def main():
    cfg = json.loads(sys.argv[1])
    for job in cfg if isinstance(cfg, list) else [cfg]:
        try:
            out = run(job)
        except Exception as e:  # one failing job (e.g. out of memory) must not lose the others of a list
            if not isinstance(cfg, list):
                raise
            out = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"}
        if isinstance(cfg, list):
            out["job"] = {k: job.get(k) for k in ("config", "net", "phase", "batch", "device")}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
