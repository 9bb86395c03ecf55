"""The real-scene check's scoring masks (benchmarks/real_hls_athabasca.py) on the real HLS scene in ../shared."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "real_hls_athabasca.py"


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("real_hls_athabasca", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench_scene() -> tuple[ModuleType, dict[str, np.ndarray]]:
    bench = load_bench()
    if not (bench.REAL / "athabasca_dem.tif").is_file():
        pytest.skip(f"real scene not available: {bench.REAL} is missing (../shared/data/real beside the repository)")
    return bench, bench.load_scene(bench.REAL)


def test_the_rock_test_near_dome_glacier_is_scored_apart(bench_scene: tuple[ModuleType, dict[str, np.ndarray]]) -> None:
    bench, scene = bench_scene
    opt = scene["optical"]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = (opt[2] / opt[4]) > 2.0
    row = bench.score(ratio, scene)
    # 7,692 sunlit pixels pass the rock test, 4,872 of them near Dome Glacier
    assert (row["n_rock"], row["n_dome"]) == (2820, 4872)
    assert row["recall_inside_outline"] == pytest.approx(0.800, abs=0.001)
    assert row["false_ice_on_bare_rock"] == 0.0
    # a map that calls Dome Glacier's valley ice is not charged for it on bare rock, only in the old figure
    dome_ice = scene["dome"].copy()
    row = bench.score(dome_ice, scene)
    assert row["false_ice_on_bare_rock"] == 0.0 and row["rock_test_on_dome_glacier"] == 1.0
    assert row["false_ice_on_bare_rock_incl_dome"] == pytest.approx(4872 / 7692)
    # the inventory point (52°12.1' N, 117°18.1' W) lies in the frame, on the north-west side of the scene
    rows, cols = np.nonzero(scene["dome"])
    assert 0 < cols.mean() < opt.shape[2] / 2 and rows.min() == 0


def test_the_shadow_mask_is_read_as_shadow_where_it_is_zero(bench_scene: tuple[ModuleType, dict[str, np.ndarray]]) -> None:
    _, scene = bench_scene
    opt = scene["optical"]
    with np.errstate(invalid="ignore", divide="ignore"):
        snow = (opt[1] - opt[4]) / (opt[1] + opt[4]) > 0.7
    # SatRbedo's mask is 1 where lit: snow there is bright (green median ~0.94), in the shadow it marks dark (~0.04)
    lit_snow, shaded_snow = np.nanmedian(opt[1][snow & ~scene["shadow"]]), np.nanmedian(opt[1][snow & scene["shadow"]])
    assert lit_snow > 0.8 and shaded_snow < 0.1
    assert 0.08 < scene["shadow"].mean() < 0.2  # a twelfth of the frame (mid-August, sun ~47° high)


def test_the_scene_bare_rock_lies_at_the_dark_blue_edge_of_the_real_labelled_rock(
        bench_scene: tuple[ModuleType, dict[str, np.ndarray]]) -> None:
    bench, scene = bench_scene
    if not (bench.REAL.parent / "aberle-glacier-spectra").is_dir():
        pytest.skip("the real labelled spectra are not in ../shared/data/real")
    rock = bench.rock_spectra(scene)
    # B02 B03 B04 B08 B11 B12: the scene's rock is darker than the labelled rock, and its blue band most of all
    assert rock["scene_rock_median"][0] == pytest.approx(0.070, abs=0.002)
    assert rock["real_rock_median"][4] == pytest.approx(0.219, abs=0.002)
    assert rock["percentile_in_real_rock"][0] < 15 and max(rock["percentile_in_real_rock"]) < 55
