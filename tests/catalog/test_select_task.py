"""Scene selection as a run task: persisted per unit-year, reused on resume, gaps instead of errors."""

from __future__ import annotations

from pathlib import Path

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
