#!/usr/bin/env python3
"""PyTorch side of bench/ops.mjs: times the same ops at the tutorial's shapes (forward + backward) and prints one
JSON object {case: median_seconds}. Run with OMP_WAIT_POLICY=PASSIVE (bench/ops.mjs does)."""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    """MONAI TransformerBlock (pre-norm, qkv without bias, exact GELU)."""

    def __init__(self, d=768, mlp=3072, heads=12):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.out = nn.Linear(d, d)
        self.l1, self.l2 = nn.Linear(d, mlp), nn.Linear(mlp, d)

    def forward(self, x):
        B, T, D = x.shape
        h = self.norm1(x)
        q, k, v = self.qkv(h).reshape(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-1, -2) * (D // self.heads) ** -0.5, dim=-1) @ v
        x = x + self.out(a.transpose(1, 2).reshape(B, T, D))
        return x + self.l2(F.gelu(self.l1(self.norm2(x))))


def timeit(fn, repeats):
    fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    ts.sort()
    return ts[len(ts) // 2]


def main(repeats):
    torch.manual_seed(0)
    res = {}
    blk = Block()
    x = torch.randn(1, 216, 768, requires_grad=True)

    def vit():
        blk.zero_grad()
        blk(x).square().mean().backward()

    res["vit_block"] = timeit(vit, repeats)
    for n, c in ((96, 16), (48, 32), (24, 64)):
        conv = nn.Conv3d(c, c, 3, padding=1, bias=False)
        xi = torch.randn(1, c, n, n, n, requires_grad=True)

        def run():
            conv.zero_grad()
            conv(xi).square().mean().backward()

        res[f"conv3_{n}x{c}"] = timeit(run, repeats)
    ct = nn.ConvTranspose3d(32, 16, 2, stride=2, bias=False)
    xt = torch.randn(1, 32, 48, 48, 48, requires_grad=True)

    def runt():
        ct.zero_grad()
        ct(xt).square().mean().backward()

    res["convT2_48x32to16"] = timeit(runt, repeats)
    res["_threads"] = torch.get_num_threads()
    print(json.dumps(res))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
