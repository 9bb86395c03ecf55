"""Archive: one atomic icechunk commit per run, history, replacement of re-run years, query API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from glacierscale.archive import areas_dataset, commit_run, open_archive, unit_dataset
from glacierscale.cube.store import unit_coords
from glacierscale.errors import ArchiveError
from glacierscale.inventory.units import WorkUnit

UNIT = WorkUnit("32632_20m_64_1_10", 32632, 1, 10, 20.0, 64, ("G1", "G2"))


def _commit(path: Path, years: list[int], areas: dict[str, dict[int, float]], fill: int) -> str:
    x, y = unit_coords(UNIT)
    classes = [np.full((64, 64), fill, dtype=np.uint8) for _ in years]
    probs = [np.full((64, 64), 90, dtype=np.uint8) for _ in years]
    ds = unit_dataset(UNIT, years, classes, probs, x, y)
    debris = {g: {yr: 0.1 for yr in s} for g, s in areas.items()}
    table = areas_dataset(areas, debris, {"G1": (10.7, 46.8), "G2": (10.9, 46.9)})
    return commit_run(str(path), {UNIT.unit_id: ds}, table, f"test run {years}")


def test_commit_reopen_and_query(tmp_path: Path) -> None:
    arch = tmp_path / "archive"
    _commit(arch, [2020, 2021], {"G1": {2020: 1.5, 2021: 1.4}, "G2": {2020: 0.5, 2021: 0.45}}, 1)
    a = open_archive(str(arch))
    assert a.years() == [2020, 2021]
    g1 = a.glacier("G1")
    assert list(g1["year"]) == [2020, 2021]
    assert list(g1["area_km2"]) == pytest.approx([1.5, 1.4])
    assert list(a.in_bbox((10.8, 46.85, 11.0, 47.0))["glacier_id"].unique()) == ["G2"]
    ds = a.unit(UNIT.unit_id)
    import rioxarray  # noqa: F401

    assert ds.rio.crs.to_epsg() == 32632
    assert list(ds["year"].values) == [2020, 2021]
    np.testing.assert_allclose(ds["x"].values, unit_coords(UNIT)[0])
    assert int(ds["classes"].sel(year=2021).max()) == 1
    with pytest.raises(ArchiveError, match="'NOPE' is not in archive"):
        a.glacier("NOPE")


def test_open_with_xarray_through_icechunk(tmp_path: Path) -> None:
    import icechunk

    arch = tmp_path / "archive"
    _commit(arch, [2022], {"G1": {2022: 1.0}, "G2": {2022: 0.4}}, 2)
    repo = icechunk.Repository.open(icechunk.local_filesystem_storage(str(arch)))
    ds = xr.open_zarr(repo.readonly_session(branch="main").store, group=f"units/{UNIT.unit_id}",
                      consolidated=False, decode_coords="all")
    assert ds["spatial_ref"].attrs["crs_wkt"].find("UTM zone 32N") >= 0
    assert int(ds["classes"].sel(year=2022)[0, 0]) == 2


def test_second_run_replaces_its_years_keeps_others_and_history_travels(tmp_path: Path) -> None:
    arch = tmp_path / "archive"
    first = _commit(arch, [2020, 2021], {"G1": {2020: 1.5, 2021: 1.4}, "G2": {2020: 0.5, 2021: 0.45}}, 1)
    _commit(arch, [2021, 2022], {"G1": {2021: 1.3, 2022: 1.2}, "G2": {2021: 0.44, 2022: 0.4}}, 2)
    a = open_archive(str(arch))
    assert a.years() == [2020, 2021, 2022]
    assert list(a.glacier("G1")["area_km2"]) == pytest.approx([1.5, 1.3, 1.2])
    assert list(a.unit(UNIT.unit_id)["year"].values) == [2020, 2021, 2022]
    assert [h["message"] for h in a.history()][:2] == ["test run [2021, 2022]", "test run [2020, 2021]"]
    old = open_archive(str(arch), as_of=first)
    assert list(old.glacier("G1")["area_km2"]) == pytest.approx([1.5, 1.4])


def test_refuses_a_folder_that_is_not_an_archive(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("precious")
    with pytest.raises(ArchiveError, match="not an empty folder nor a change archive"):
        _commit(tmp_path, [2020], {"G1": {2020: 1.0}, "G2": {2020: 1.0}}, 1)
    assert (tmp_path / "notes.txt").read_text() == "precious"
    with pytest.raises(ArchiveError, match="no change archive"):
        open_archive(str(tmp_path / "missing"))
