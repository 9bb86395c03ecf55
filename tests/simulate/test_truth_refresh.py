"""Scene sets written before the water class gain it without their scenes being simulated again."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import rasterio

from glacierscale.simulate import RegionSpec, simulate
from glacierscale.simulate.scene import refresh_truth
from glacierscale.simulate.truth import TRUTH_VERSION


def test_an_old_scene_set_gains_the_water_class_and_keeps_its_scenes(tmp_path: Path) -> None:
    spec = RegionSpec(size_px=384, years=(2022,), seed=5, physics="full", s2_per_year=1, name="old")
    out = simulate(spec, tmp_path / "s", sensors=("s2",), progress=False).root
    tif = out / "truth" / "truth_classes_2022.tif"
    with rasterio.open(tif) as src:
        now, profile = src.read(1), src.profile
    assert (now == 3).sum() > 100  # the lake in front of the lake-terminating glacier
    # what a version-1 set holds: water written as background, no truth_version
    with rasterio.open(tif, "w", **profile) as dst:
        dst.write(np.where(now == 3, 0, now).astype(now.dtype), 1)
    meta = json.loads((out / "simulation.json").read_text())
    del meta["truth_version"]
    (out / "simulation.json").write_text(json.dumps(meta))
    scenes = sorted(p.stat().st_mtime_ns for p in (out / "sentinel-2-l2a").rglob("*.tif"))
    assert refresh_truth(out) is True
    with rasterio.open(tif) as src:
        np.testing.assert_array_equal(src.read(1), now)  # the spec in simulation.json rebuilds the same region
    assert json.loads((out / "simulation.json").read_text())["truth_version"] == TRUTH_VERSION
    assert sorted(p.stat().st_mtime_ns for p in (out / "sentinel-2-l2a").rglob("*.tif")) == scenes
    assert refresh_truth(out) is False  # up to date: nothing written
