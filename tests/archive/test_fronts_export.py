"""Calving fronts from the archive's water class: line, length, box-method position and retreat per year."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import RES, SIZE, plan, unit

from glacierscale.archive.fronts import fronts
from glacierscale.archive.query import open_archive
from glacierscale.archive.run import open_run
from glacierscale.archive.staging import GlacierPart, UnitProduct
from glacierscale.cli import main

U = unit(420, 4010, ("LAKE1", "LAND1"))
WIDTH = 16  # px: the tongue is 320 m wide
TERMINUS = {2020: 50, 2021: 47, 2022: 43}  # the row of the ice front: 60 m, then 80 m of retreat
CLOUDED = 2023  # clouds hide the front this year


def tongue(year: int) -> UnitProduct:
    """A tongue (cols 20-35) flowing south into a lake that fills the basin it vacates; a land glacier beside it."""
    classes = np.zeros((SIZE, SIZE), np.uint8)
    front = TERMINUS.get(year, 43)
    classes[front:60, 14:42] = 3  # the lake, wider than the tongue, up to the ice front
    classes[5:front, 20:20 + WIDTH] = 1
    classes[5:30, 50:60] = 1  # a land-terminating glacier
    if year == CLOUDED:
        classes[38:60, 10:46] = 255
    minx, _, _, maxy = U.bounds
    prob = np.where(np.isin(classes, (1, 2)), 95, 5).astype(np.uint8)
    parts = []
    for gid, (r0, r1, c0, c1) in {"LAKE1": (5, front, 20, 20 + WIDTH), "LAND1": (5, 30, 50, 60)}.items():
        poly = shapely.box(minx + c0 * RES, maxy - r1 * RES, minx + c1 * RES, maxy - r0 * RES)
        area = (r1 - r0) * (c1 - c0) * RES * RES / 1e6
        parts.append(GlacierPart(gid, area, 0.0, area * 0.05, area * 0.05, perimeter_km=poly.length / 1000,
                                 soft_area_km2=area, outline_wkb=shapely.to_wkb(poly)))
    return UnitProduct(U, year, "done", f"in-{year}", "m1", classes, prob, tuple(parts), nodata_share=0.0,
                       sensors=("s2",), scenes={"s2": [f"S2_{year}"]})


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("fronts")
    arch = str(tmp / "archive")
    years = [2020, 2021, 2022, 2023]
    p = plan("r1", [U], years)
    p.glaciers["terminus_type"] = np.where(p.glaciers["glacier_id"] == "LAKE1", "lake", "land")
    w = open_run(arch, "r1", p, staging=str(tmp / "staging"))
    w.checkpoint([w.stage(tongue(y)) for y in years])
    w.publish({})
    return arch


def test_the_front_of_a_lake_terminating_glacier_and_its_retreat(archive: str) -> None:
    gdf = fronts(open_archive(archive)).set_index("year")
    assert set(gdf["glacier_id"]) == {"LAKE1"}  # the land-terminating glacier has no front
    assert (gdf["terminus_type"] == "lake").all() and gdf.crs.to_epsg() == 4326
    # the front is the tongue's end, 16 px = 320 m, on the ice/water pixel edges
    for year in (2020, 2021, 2022):
        assert gdf.loc[year, "length_m"] == pytest.approx(WIDTH * RES)
        assert gdf.loc[year, "front_nodata_share"] == 0.0
    # box method: retreat 60 m, then 80 m, each ± √2 × ½ pixel
    assert gdf.loc[2021, "retreat_m"] == pytest.approx(60.0)
    assert gdf.loc[2022, "retreat_m"] == pytest.approx(80.0)
    assert gdf.loc[2021, "retreat_unc_m"] == pytest.approx(np.sqrt(2) * RES / 2)
    assert np.isnan(gdf.loc[2020, "retreat_m"])
    # a front hidden by clouds is no front: no position, no retreat (never a retreat of 0 or of the whole tongue)
    assert gdf.loc[CLOUDED, "length_m"] == 0.0 and np.isnan(gdf.loc[CLOUDED, "position_m"])
    assert np.isnan(gdf.loc[CLOUDED, "retreat_m"]) and gdf.loc[CLOUDED, "front_nodata_share"] > 0.1


def test_cli_writes_the_fronts_and_refuses_a_bad_file_name(archive: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    import geopandas as gpd

    out = tmp_path / "fronts.gpkg"
    assert main(["export", archive, "--fronts", str(out)]) == 0
    assert "4 calving fronts" in capsys.readouterr().err
    read = gpd.read_file(out)
    assert len(read) == 4 and read.loc[read["year"] == 2022, "retreat_m"].iloc[0] == pytest.approx(80.0)
    assert main(["export", archive, "--fronts", str(tmp_path / "f.shp")]) == 2
    assert "f.shp: the file must end in .parquet or .gpkg" in capsys.readouterr().err


UM = unit(421, 4010, ("TIDE1",))
SEA_FRONT = {2020: 40, 2021: 36, 2022: 33}  # 80 m, then 60 m of retreat


def fjord(year: int) -> UnitProduct:
    """A tidewater glacier (cols 24-39) calving into the sea, which spans the whole tile south of the front and
    reaches its edges; ice mélange (scattered ice pixels) floats 3-8 px off the front; rocky coast either side."""
    classes = np.zeros((SIZE, SIZE), np.uint8)
    front = SEA_FRONT[year]
    classes[44:SIZE, :] = 3  # the open sea, coast to coast
    classes[front:44, 18:46] = 3  # the fjord head the glacier vacated
    classes[2:front, 24:40] = 1
    rng = np.random.default_rng(year)
    melange = np.zeros_like(classes, dtype=bool)
    melange[front + 3:front + 9, 18:46] = rng.random((6, 28)) < 0.3
    classes[melange] = 1
    minx, _, _, maxy = UM.bounds
    prob = np.where(classes == 1, 90, 5).astype(np.uint8)
    poly = shapely.box(minx + 24 * RES, maxy - front * RES, minx + 40 * RES, maxy - 2 * RES)
    area = (front - 2) * 16 * RES * RES / 1e6
    part = GlacierPart("TIDE1", area, 0.0, area, area, perimeter_km=poly.length / 1000, soft_area_km2=area,
                       outline_wkb=shapely.to_wkb(poly))
    return UnitProduct(UM, year, "done", f"in-m-{year}", "m1", classes, prob, (part,), nodata_share=0.0,
                       sensors=("s2",), scenes={"s2": [f"S2_m_{year}"]})


def test_the_front_of_a_marine_terminating_glacier_in_a_sea_with_melange(tmp_path: Path) -> None:
    years = [2020, 2021, 2022]
    p = plan("m1", [UM], years)
    p.glaciers["terminus_type"] = "marine"
    w = open_run(str(tmp_path / "archive"), "m1", p, staging=str(tmp_path / "staging"))
    w.checkpoint([w.stage(fjord(y)) for y in years])
    w.publish({})
    gdf = fronts(open_archive(str(tmp_path / "archive"))).set_index("year")
    assert (gdf["terminus_type"] == "marine").all() and len(gdf) == 3
    for year in years:  # the calving face only: not the coast, not the mélange floes
        assert gdf.loc[year, "length_m"] == pytest.approx(16 * RES), year
    assert gdf.loc[2021, "retreat_m"] == pytest.approx(80.0)
    assert gdf.loc[2022, "retreat_m"] == pytest.approx(60.0)
