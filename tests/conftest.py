"""Shared fixtures: one small simulated scene set (and its in-memory region) for the whole session."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from glacierscale.simulate import Region, RegionSpec, SceneSet, build_region, simulate

# 256 px at 10 m (2.56 km), two years, two Sentinel-2 and one Sentinel-1 scene a year: ~2 s to write.
SMALL_SPEC = RegionSpec(size_px=256, years=(2021, 2022), s2_per_year=2, s1_per_year=1, seed=3)

ItemReader = Callable[[str], list[dict[str, Any]]]
GridSampler = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@pytest.fixture(scope="session")
def small_spec() -> RegionSpec:
    return SMALL_SPEC


@pytest.fixture(scope="session")
def scene_set(tmp_path_factory: pytest.TempPathFactory) -> SceneSet:
    """The small region simulated once per session; tests only read it."""
    return simulate(SMALL_SPEC, tmp_path_factory.mktemp("small-sim"), progress=False)


@pytest.fixture(scope="session")
def region() -> Region:
    """The in-memory region behind ``scene_set`` (terrain, masks): the simulator's own ground truth."""
    return build_region(SMALL_SPEC)


@pytest.fixture(scope="session")
def read_items(scene_set: SceneSet) -> ItemReader:
    """Return a reader of the STAC item dicts of one collection of the small scene set, in file order."""

    def read(collection: str) -> list[dict[str, Any]]:
        lines = (scene_set.collections[collection] / "items.ndjson").read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    return read


@pytest.fixture(scope="session")
def stac_url(scene_set: SceneSet) -> Iterator[str]:
    """A `rustac serve` STAC API over the small scene set, shared by tests that only search it."""
    from glacierscale.catalog import LocalStacServer

    with LocalStacServer(scene_set.root) as server:
        yield server.url


@pytest.fixture(scope="session")
def sample_region(region: Region) -> GridSampler:
    """Return a sampler of a region-grid array at world pixel centres x (columns) × y (rows); NaN outside."""

    def sample(values: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        t = region.transform
        cols = np.floor((np.asarray(x) - t.c) / t.a).astype(int)
        rows = np.floor((np.asarray(y) - t.f) / t.e).astype(int)
        rr, cc = np.meshgrid(rows, cols, indexing="ij")
        h, w = values.shape
        inside = (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
        out = np.full(rr.shape, np.nan, dtype=np.float64)
        out[inside] = values[rr[inside], cc[inside]]
        return out

    return sample


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Run a module's tiny models on one torch thread (the machine is shared), then restore the setting."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run Ray Train's test first: in Ray 2.60 its controller does not start on a machine where another local Ray
    ran and was shut down earlier in the session (seen with every earlier Ray test; cause not found yet)."""
    items.sort(key=lambda item: 0 if item.get_closest_marker("ray_train_first") else 1)  # stable: order kept
