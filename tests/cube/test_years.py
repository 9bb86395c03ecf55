"""Cube years in the store: atomic (marker last), verified on read, other years kept, rebuilt when partial."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from glacierscale.catalog.provider import Provider, load_provider
from glacierscale.catalog.tasks import select_item
from glacierscale.cube.assemble import YearComposite
from glacierscale.cube.tasks import cube_item
from glacierscale.cube.years import cube_year_complete, read_cube_year, write_cube_year, year_paths
from glacierscale.inventory.units import WorkUnit, plan_units, read_inventory
from glacierscale.simulate import SceneSet

UNIT = WorkUnit("32632_20m_64_10_80", 32632, 10, 80, 20.0, 64, ("G1",))


def _composite(value: float) -> YearComposite:
    data = np.full((2, 64, 64), value, dtype=np.float32)
    return YearComposite(data, ["B03", "B11"], np.ones((64, 64), dtype=np.int16), {"s2": False}, {"s2": ["a"]})


def test_a_year_is_complete_only_with_its_marker_and_every_chunk(tmp_path: Path) -> None:
    store = str(tmp_path / "cubes")
    assert read_cube_year(store, UNIT, 2021, "h1") is None
    url = write_cube_year(store, UNIT, 2021, _composite(0.5), "h1")
    back = read_cube_year(store, UNIT, 2021, "h1")
    assert back is not None and float(back["data"].mean()) == pytest.approx(0.5)
    assert back.rio.crs.to_epsg() == 32632
    assert not cube_year_complete(store, UNIT, 2021, "other-scenes")  # new scenes: not reused
    chunk = next(p for p in (Path(url) / "data" / "c").rglob("*") if p.is_file())
    chunk.unlink()  # an interrupted write (or a lost object)
    assert not cube_year_complete(store, UNIT, 2021, "h1")
    assert read_cube_year(store, UNIT, 2021, "h1") is None  # never read back as NaN


def test_writing_a_year_keeps_the_other_years(tmp_path: Path) -> None:
    store = str(tmp_path / "cubes")
    write_cube_year(store, UNIT, 2021, _composite(0.1), "h21")
    write_cube_year(store, UNIT, 2022, _composite(0.2), "h22")
    write_cube_year(store, UNIT, 2022, _composite(0.3), "h22b")  # the 2022 update
    a, b = read_cube_year(store, UNIT, 2021, "h21"), read_cube_year(store, UNIT, 2022, "h22b")
    assert a is not None and b is not None
    assert float(a["data"].mean()) == pytest.approx(0.1) and float(b["data"].mean()) == pytest.approx(0.3)
    assert not cube_year_complete(store, UNIT, 2022, "h22")  # the marker names the new inputs only


def test_a_partial_cube_is_rebuilt_from_the_catalog(scene_set: SceneSet, stac_url: str, tmp_path: Path) -> None:
    provider: Provider = load_provider("local")
    unit = max(plan_units(read_inventory(scene_set.inventory), 20, 128, 0, overlap_px=0),
               key=lambda u: len(u.glacier_ids))
    sel = select_item(stac_url, provider, unit, 2021, state=str(tmp_path / "state"), run_id="r",
                      season=("07-15", "09-30"), south_season=("01-15", "03-31"), max_cloud=80, max_scenes=4)
    store = str(tmp_path / "cubes")
    first = cube_item(provider, unit, sel, store)
    assert first.built and first.data is not None and first.clear_share > 0.5
    again = cube_item(provider, unit, sel, store)
    assert not again.built
    np.testing.assert_array_equal(again.data, first.data)
    url, _ = year_paths(store, unit, 2021, sel.input_hash)
    next(p for p in (Path(url) / "data" / "c").rglob("*") if p.is_file()).unlink()
    rebuilt = cube_item(provider, unit, sel, store)
    assert rebuilt.built and rebuilt.data is not None
    assert np.isfinite(rebuilt.data).mean() == pytest.approx(np.isfinite(first.data).mean())
