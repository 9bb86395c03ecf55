"""Ray Train: two CPU workers run the shared step code with DDP and the loss falls."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from glacierscale.simulate import SceneSet
from glacierscale.training.data import Sample, band_statistics, scene_samples
from glacierscale.training.distributed import fit_distributed, shard
from glacierscale.training.steps import StepSettings


@pytest.fixture()
def local_ray() -> Iterator[None]:
    ray = pytest.importorskip("ray")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    os.environ.pop("RAY_ADDRESS", None)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def test_shard_gives_every_rank_its_own_region_years() -> None:
    samples = [Sample(f"r{i}", 2022, np.zeros((1, 2, 2)), np.zeros((2, 2), np.uint8)) for i in range(5)]
    assert [s.region for s in shard(samples, 0, 2)] == ["r0", "r2", "r4"]
    assert [s.region for s in shard(samples, 1, 2)] == ["r1", "r3"]
    assert shard(samples[:1], 1, 2) == samples[:1]  # fewer region-years than workers: all of them


def test_two_workers_train_and_the_loss_falls(scene_set: SceneSet, local_ray: None, tmp_path: Path) -> None:
    from glacierscale.catalog.provider import load_provider
    from glacierscale.cube.assemble import cube_bands
    from glacierscale.model.vitunet import ModelSpec, ViTUNet

    samples = scene_samples(scene_set.root, [2021, 2022], 20.0, 128)
    bands = cube_bands(load_provider("local"))
    mean, std = band_statistics(samples)
    spec = ModelSpec.for_bands(bands, widths=(8, 16, 16), embed_dim=32, depth=1, heads=2, stem_width=8)
    settings = StepSettings(steps=40, batch_size=8, patch_size=64, lr=5e-3, seed=0,
                            sensor_dropout={"sar": 0.3, "dem": 0.1})
    state, losses = fit_distributed(spec, samples, bands, mean, std, settings, workers=2, threads=1, storage=tmp_path)
    assert len(losses) == 40 and all(np.isfinite(losses))
    first, last = float(np.mean(losses[:5])), float(np.mean(losses[-5:]))
    assert last < 0.8 * first, (first, last)
    model = ViTUNet(spec)
    model.load_state_dict(state)  # the trained weights come back whole
