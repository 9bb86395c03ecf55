"""Inference throughput: model alone vs the whole pipeline, and model FLOPs against the machine's peak."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


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


def bench_inference(workdir: Path, *, threads: int = 2) -> dict[str, Any]:
    """Map the demo region end to end in a scratch archive, then time the model alone on the same cubes."""
    import torch

    from glacierscale.cli.demo import prepare
    from glacierscale.config import load_run_config
    from glacierscale.cube.store import open_unit
    from glacierscale.infer.patches import predict_probabilities, select_bands
    from glacierscale.model.checkpoint import load_checkpoint
    from glacierscale.pipeline import plan_run, run_pipeline

    torch.set_num_threads(threads)
    cfg = load_run_config(prepare(workdir, seed=7, progress=False))
    with tempfile.TemporaryDirectory() as tmp:
        cfg = cfg.model_copy(update={"archive": f"{tmp}/archive", "cube_store": f"{tmp}/cubes"})
        t = time.perf_counter()
        result = run_pipeline(cfg, progress=False)
        pipeline_s = time.perf_counter() - t
        _, units = plan_run(cfg)
        ckpt = load_checkpoint(cfg.model.checkpoint)
        cubes = []
        for u in units:
            ds = open_unit(cfg.resolved_cube_store(), u)
            assert ds is not None
            names = [str(b) for b in ds["band"].values]
            cubes += [select_bands(ckpt, ds["data"].sel(year=y).values, names) for y in cfg.years]
        predict_probabilities(ckpt, cubes[0][:, :128, :128])  # warm-up
        t = time.perf_counter()
        for c in cubes:
            predict_probabilities(ckpt, c, patch=cfg.infer.patch_size, overlap=cfg.infer.overlap,
                                  batch_size=cfg.infer.batch_size)
        model_s = time.perf_counter() - t
    pixels = sum(c.shape[1] * c.shape[2] for c in cubes)
    # overlapping patches: the network runs on more pixels than the tile has
    stride = cfg.infer.patch_size - cfg.infer.overlap
    n_side = int(np.ceil((units[0].read_size_px - cfg.infer.patch_size) / stride)) + 1
    net_px = len(cubes) * (n_side * cfg.infer.patch_size) ** 2
    flops_px = model_flops_per_pixel(ckpt, cfg.infer.patch_size)
    peak = matmul_flops_per_s()
    achieved = flops_px * net_px / model_s
    return {
        "pixels": pixels, "threads": threads,
        "model_px_per_s": pixels / model_s, "pipeline_px_per_s": pixels / pipeline_s,
        "efficiency": (pixels / pipeline_s) / (pixels / model_s),
        "pipeline_seconds": pipeline_s, "model_seconds": model_s, "stage_seconds": result.seconds,
        "model_mflop_per_px": flops_px / 1e6,
        "achieved_gflop_per_s": achieved / 1e9, "matmul_peak_gflop_per_s": peak / 1e9,
        "fraction_of_peak": achieved / peak,
    }
