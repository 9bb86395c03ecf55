"""Network cost figures: the model's FLOPs per pixel and this machine's measured matmul FLOP/s (the run-level
throughput benchmark is ``glacierscale.pipeline.bench_inference``)."""

from __future__ import annotations

import time
from typing import Any


def matmul_flops_per_s(n: int = 1024, repeats: int = 10) -> float:
    """Return this machine's measured fp32 matmul FLOP/s (torch, current thread setting)."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - t)


def model_flops_per_pixel(ckpt: Any, patch: int = 128) -> float:
    """Return forward FLOPs per pixel of the checkpoint's network on one patch (torch's FLOP counter)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.zeros(1, len(ckpt.bands), patch, patch)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        ckpt.model(x)
    return counter.get_total_flops() / patch**2
