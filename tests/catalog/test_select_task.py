"""Scene selection as a run task: persisted per unit-year, reused on resume, gaps instead of errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from glacierscale.catalog.provider import load_provider
from glacierscale.catalog.tasks import input_hash, select_item, selected_items
from glacierscale.inventory.units import WorkUnit, plan_units, read_inventory
from glacierscale.simulate import SceneSet

KW = {"season": ("07-15", "09-30"), "south_season": ("01-15", "03-31"), "max_cloud": 80.0, "max_scenes": 4}


def _unit(scene_set: SceneSet) -> WorkUnit:
    return max(plan_units(read_inventory(scene_set.inventory), 20, 128, 0, overlap_px=0), key=lambda u: len(u.glacier_ids))


def test_selection_is_persisted_and_reused(scene_set: SceneSet, stac_url: str, tmp_path: Path) -> None:
    provider, unit = load_provider("local"), _unit(scene_set)
    first = select_item(stac_url, provider, unit, 2022, state=str(tmp_path), run_id="r1", **KW)
    assert not first.reused and not first.is_gap
    assert 1 <= len(first.scene_ids["s2"]) <= 4 and first.scene_ids["dem"]
    items = selected_items(first)
    assert [it["id"] for it in items["s2"]] == first.scene_ids["s2"]
    again = select_item("http://127.0.0.1:9/unreachable", provider, unit, 2022, state=str(tmp_path), run_id="r1", **KW)
    assert again.reused and again.input_hash == first.input_hash  # no search: the catalog is not even asked
    assert first.input_hash == input_hash(unit, "local", first.scene_ids, "cube-2")
    assert input_hash(unit, "local", {**first.scene_ids, "s2": first.scene_ids["s2"][:1]}, "cube-2") != first.input_hash


def test_a_year_without_scenes_is_a_gap_not_an_error(scene_set: SceneSet, stac_url: str, tmp_path: Path) -> None:
    sel = select_item(stac_url, load_provider("local"), _unit(scene_set), 2019, state=str(tmp_path), run_id="r", **KW)
    assert sel.is_gap and sel.scene_ids["s2"] == []
    assert "no optical scene" in sel.gap_reason and "2019-07-15" in sel.gap_reason


def test_a_year_without_clear_optical_scenes_is_mapped_from_sar_when_the_run_maps_under_clouds(
        scene_set: SceneSet, stac_url: str, tmp_path: Path) -> None:
    """max_cloud 0 drops every Sentinel-2 scene: a gap, unless the run maps under clouds and SAR sees the unit."""
    from glacierscale.cube.tasks import cube_item

    provider, unit = load_provider("local"), _unit(scene_set)
    kw = {**KW, "max_cloud": 0.0}
    default = select_item(stac_url, provider, unit, 2022, state=str(tmp_path / "a"), run_id="r", **kw)
    assert default.is_gap and default.scene_ids["s2"] == [] and default.scene_ids["s1"]
    radar = select_item(stac_url, provider, unit, 2022, state=str(tmp_path / "b"), run_id="r", optical_required=False,
                        **kw)
    assert not radar.is_gap and radar.input_hash == default.input_hash  # the same scenes, the same cube
    assert any(n.startswith("mapped from SAR alone: no optical scene") for n in radar.notes)
    # the persisted selection is read back by what the run asks now, not by what the first run asked
    again = select_item(stac_url, provider, unit, 2022, state=str(tmp_path / "b"), run_id="r", **kw)
    assert again.reused and again.is_gap
    cube = cube_item(provider, unit, radar, str(tmp_path / "cubes"), optical_required=False)
    assert cube.data is not None and cube.missing["s2"] and not cube.missing["s1"] and cube.clear_share == 0.0
    sar, dem = (np.isfinite(cube.data[cube.bands.index(b)]).mean() for b in ("VV", "ELEV"))
    assert sar > 0.5 and sar == pytest.approx(dem, abs=0.02)  # SAR read wherever the region is (the DEM's extent)
    assert np.isnan(cube.data[cube.bands.index("B03")]).all()
    assert cube_item(provider, unit, again, str(tmp_path / "cubes")).data is None  # optical required: a gap
