"""``glacierscale bench inference``: the model alone vs the whole run, on the same Ray actors and CPUs.

A bench region (simulated once into ``--workdir``: 2 × 2 tiles × 4 years = 16 unit-years of 384 px at 20 m, or
``--tiles N``: a region N × N tiles wide, mapped where it holds glaciers) is
run cold (fresh archive and cube store: CPU-seconds per tile-year per stage, the sizing figures), then warm
(fresh archive; cubes and selections stored). ``pipeline_px_per_s`` = tile pixels of the warm run / seconds from its first
item submitted to its last item staged; ``model_px_per_s`` = the same cubes pushed straight into the same
actors (forward + blend on in-memory cubes); ``efficiency`` = their ratio.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

YEARS = (2021, 2022, 2023, 2024)
TILE_PX, RES_M, SEED = 384, 20.0, 11  # tiles of 384 px × 20 m = 768 simulated px × 10 m
QUICK_YEARS, QUICK_TILE_PX, QUICK_SIZE_PX = (2021, 2022), 192, 768  # 4 tiles × 2 years: for tests


def prepare(workdir: Path, *, progress: bool = False, quick: bool = False, tiles: int = 2) -> Path:
    """Simulate the bench region (``tiles`` × ``tiles`` tiles) into ``workdir/catalog`` unless present; write and
    return its run config."""
    from glacierscale.config import build_run_config, dump_run_config
    from glacierscale.simulate import RegionSpec, simulate

    years, tile_px, size_px = (QUICK_YEARS, QUICK_TILE_PX, QUICK_SIZE_PX) if quick else (YEARS, TILE_PX, 768 * tiles)
    spec = RegionSpec(seed=SEED, years=years, size_px=size_px, grid_m=tile_px * RES_M, name="bench")
    catalog = workdir / "catalog"
    marker = catalog / "simulation.json"
    meta = json.loads(marker.read_text()) if marker.is_file() else {}
    if meta.get("seed") != SEED or meta.get("size_px", size_px) != size_px:
        shutil.rmtree(catalog, ignore_errors=True)
        simulate(spec, catalog, progress=progress)
    cfg = build_run_config({
        "name": "bench-inference", "catalog": {"url": str(catalog.resolve())},
        "inventory": str((catalog / "inventory.gpkg").resolve()), "years": list(years),
        "archive": str((workdir / "archive").resolve()), "cube_store": str((workdir / "cubes").resolve()),
        "grid": {"resolution": RES_M, "tile_size": tile_px, "margin_m": 500, "overlap_px": 0},
        # two single-thread actors on the two CPUs; the CPU tasks (cube read, reduce, stage) fit beside them
        "infer": {"num_actors": 2, "num_cpus": 0.75, "threads_per_actor": 1, "compile": False},
        "stream": {"task_cpus": 0.25, "keep_selections": True},
    }, "bench inference")
    path = workdir / "bench.yaml"
    dump_run_config(cfg, path)
    return path


def _model_only(cfg: Any, ledger: str) -> tuple[float, int]:
    """Push the warm run's stored cubes straight into fresh actors of the same config; return (s, pixels)."""
    import ray

    from glacierscale.catalog.provider import load_provider
    from glacierscale.catalog.tasks import SelectionRecord
    from glacierscale.cube.tasks import cube_item
    from glacierscale.infer.actors import InferenceWorker
    from glacierscale.pipeline.context import check_checkpoint, plan_run
    from glacierscale.pipeline.ledger import read_ledger

    provider = load_provider(cfg.catalog.provider)
    _, units = plan_run(cfg)
    by_id = {u.unit_id: u for u in units}
    records = read_ledger(ledger)
    cubes = []
    for (uid, year), rec in sorted(records.items()):
        sel = SelectionRecord(uid, year, {}, rec.input_hash, "")
        cube = cube_item(provider, by_id[uid], sel, cfg.resolved_cube_store())
        if cube.data is not None and not cube.built:
            cubes.append(ray.put(cube))
    i = cfg.infer
    worker: Any = ray.remote(InferenceWorker).options(num_cpus=i.num_cpus)
    actors: list[Any] = [worker.remote(check_checkpoint(cfg, provider), i.threads_per_actor, i.patch_size, i.overlap,
                            i.batch_size, i.options(len(cubes))) for _ in range(i.num_actors)]
    ray.get([a.bands.remote() for a in actors])  # loaded before the clock starts, as in a warm run
    ray.get([a.predict_cube.remote(cubes[0]) for a in actors])  # first-call warm-up
    t0 = time.perf_counter()
    ray.get([actors[k % len(actors)].predict_cube.remote(c) for k, c in enumerate(cubes)])
    seconds = time.perf_counter() - t0
    for a in actors:
        ray.kill(a)
    return seconds, len(cubes) * by_id[next(iter(by_id))].size_px ** 2


def bench_inference(workdir: Path, *, threads: int = 1, quick: bool = False, tiles: int = 2) -> dict[str, Any]:
    """Return cold-run CPU-seconds per stage, model-only and pipeline px/s, their ratio, and FLOP figures."""
    import ray

    from glacierscale.config import load_run_config
    from glacierscale.model.bench import matmul_flops_per_s, model_flops_per_pixel
    from glacierscale.model.checkpoint import load_checkpoint
    from glacierscale.pipeline.ledger import read_ledger
    from glacierscale.pipeline.run import run_pipeline

    cfg = load_run_config(prepare(workdir, quick=quick, tiles=tiles))
    tile_px = cfg.grid.tile_size
    for p in (cfg.archive, cfg.resolved_cube_store(), cfg.resolved_state_dir()):
        shutil.rmtree(p, ignore_errors=True)
    from glacierscale.pipeline.context import LOCAL_RAY_SYSTEM_CONFIG

    ray.init(address="local", num_cpus=max(2, os.cpu_count() or 2), include_dashboard=False, log_to_driver=False,
             _system_config=LOCAL_RAY_SYSTEM_CONFIG)
    try:
        cold = run_pipeline(cfg, progress=False)
        cold_records = read_ledger(cold.ledger)
        shutil.rmtree(cfg.archive, ignore_errors=True)  # warm: the cubes and the selections stay
        warm = run_pipeline(cfg, progress=False)
        model_s, pixels = _model_only(cfg, warm.ledger)
    finally:
        ray.shutdown()
    stages = ("select", "cube", "infer", "reduce", "stage")
    cpu = {s: float(np.mean([r.seconds.get(f"{s}_cpu", np.nan) for r in cold_records.values()])) for s in stages}
    warm_records = read_ledger(warm.ledger)
    warm_cpu = {s: float(np.mean([r.seconds.get(f"{s}_cpu", np.nan) for r in warm_records.values()])) for s in stages}
    infer_s = [r.seconds["infer"] for r in warm_records.values() if "infer" in r.seconds]
    pipeline_px_s = warm.seconds["pixels"] / warm.seconds["stream"]
    ckpt = load_checkpoint(cfg.model.checkpoint)
    from glacierscale.infer.patches import inference_window

    patch, overlap = inference_window(ckpt, cfg.infer.patch_size, cfg.infer.overlap)
    flops_px = model_flops_per_pixel(ckpt, patch)
    import torch

    torch.set_num_threads(threads)
    peak = matmul_flops_per_s()
    model_px_s = pixels / model_s
    stride = patch - overlap
    n_side = int(np.ceil((tile_px - patch) / stride)) + 1
    net_px_per_tile_px = (n_side * patch) ** 2 / tile_px**2  # overlapping patches
    return {
        "unit_years": len(cold_records), "tile_px": tile_px, "pixels": pixels,
        "model_px_per_s": model_px_s, "pipeline_px_per_s": pipeline_px_s, "efficiency": pipeline_px_s / model_px_s,
        "model_seconds": model_s, "pipeline_seconds": warm.seconds["stream"],
        "cold_cpu_seconds_per_tile_year": cpu, "cold_seconds": cold.seconds["total"],
        "warm_cpu_seconds_per_tile_year": warm_cpu,
        # where the warm run loses against the model alone: a forward slowed by the CPU work beside it, and
        # actors waiting (fill, drain, a cube not ready): efficiency ≈ forward ratio × busy share
        "warm_forward_seconds": float(np.mean(infer_s)) if infer_s else float("nan"),
        "model_forward_seconds": model_s * cfg.infer.num_actors / max(1, pixels // tile_px**2),
        "actor_busy_share": float(np.sum(infer_s)) / (warm.seconds["stream"] * cfg.infer.num_actors),
        "warm_seconds": warm.seconds["total"], "actors": cfg.infer.num_actors,
        "threads_per_actor": cfg.infer.threads_per_actor,
        "model_mflop_per_px": flops_px / 1e6,
        "achieved_gflop_per_s": flops_px * net_px_per_tile_px * model_px_s / 1e9,
        "matmul_peak_gflop_per_s": peak * cfg.infer.num_actors / 1e9,
        "fraction_of_peak": flops_px * net_px_per_tile_px * model_px_s / (peak * cfg.infer.num_actors),
    }
