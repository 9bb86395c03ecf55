"""Ray Train: two CPU workers run the shared step code with DDP and the loss falls."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from glacierscale.simulate import SceneSet
from glacierscale.training.data import Sample, band_statistics, scene_samples
from glacierscale.training.distributed import fit_distributed, shard
from glacierscale.training.steps import StepSettings


def _fit_in_a_fresh_process(scene_root: str, storage: str) -> tuple[list[float], bool]:
    """Train two Ray Train workers in this (fresh) process; return the losses and whether the weights load.

    Run in a spawned process: Ray Train 2.60 cannot start its controller in a process that already ran and shut
    down another Ray session (earlier tests of the suite do), so the test owns a process and a Ray of its own.
    """
    import ray

    from glacierscale.catalog.provider import load_provider
    from glacierscale.cube.assemble import cube_bands
    from glacierscale.model.vitunet import ModelSpec, ViTUNet

    os.environ["RAY_AUTH_MODE"] = "disabled"
    os.environ.pop("RAY_ADDRESS", None)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        samples = scene_samples(Path(scene_root), [2021, 2022], 20.0, 128)
        bands = cube_bands(load_provider("local"))
        mean, std = band_statistics(samples)
        spec = ModelSpec.for_bands(bands, widths=(8, 16, 16), embed_dim=32, depth=1, heads=2, stem_width=8)
        settings = StepSettings(steps=40, batch_size=8, patch_size=64, lr=5e-3, seed=0,
                                sensor_dropout={"sar": 0.3, "dem": 0.1})
        state, losses = fit_distributed(spec, samples, bands, mean, std, settings, workers=2, threads=1,
                                        storage=Path(storage))
        ViTUNet(spec).load_state_dict(state)  # the trained weights come back whole
        return [float(v) for v in losses], True
    finally:
        ray.shutdown()


def test_shard_gives_every_rank_its_own_region_years() -> None:
    samples = [Sample(f"r{i}", 2022, np.zeros((1, 2, 2)), np.zeros((2, 2), np.uint8)) for i in range(5)]
    assert [s.region for s in shard(samples, 0, 2)] == ["r0", "r2", "r4"]
    assert [s.region for s in shard(samples, 1, 2)] == ["r1", "r3"]
    assert shard(samples[:1], 1, 2) == samples[:1]  # fewer region-years than workers: all of them


@pytest.mark.ray_train_first
def test_two_workers_train_and_the_loss_falls(scene_set: SceneSet, tmp_path: Path) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        losses, loaded = pool.submit(_fit_in_a_fresh_process, str(scene_set.root), str(tmp_path)).result(timeout=600)
    assert len(losses) == 40 and all(np.isfinite(losses))
    first, last = float(np.mean(losses[:5])), float(np.mean(losses[-5:]))
    assert last < 0.8 * first, (first, last)
    assert loaded
