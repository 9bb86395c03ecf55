"""Query and export of a small archive: tables, one-glacier slices, zone mosaics, changes, history, outlines, COGs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import RES, SIZE, plan, product, unit

from glacierscale.archive.query import open_archive
from glacierscale.archive.run import open_run
from glacierscale.cli import main
from glacierscale.errors import ArchiveError
from glacierscale.inventory.units import WorkUnit
from glacierscale.inventory.units import unit_id as make_id

# a pixel's ground area is resolution² / the CRS's areal scale (reduce.areas.pixel_areas_km2): in UTM within 0.2 %
GROUND = 2e-3

U1, U2 = unit(400, 4000, ("G1", "G2")), unit(401, 4000, ("G2", "G3"))
ONE = 20 * 20 * RES * RES / 1e6


def _antimeridian_units() -> list[WorkUnit]:
    from pyproj import Transformer

    out = []
    for epsg, lon, gid in ((32660, 179.6, "H1"), (32601, -179.6, "H2")):
        x, y = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True).transform(lon, 50.0)
        col, row = int(x // (SIZE * RES)), int(y // (SIZE * RES))
        out.append(WorkUnit(make_id(epsg, RES, SIZE, col, row), epsg, col, row, RES, SIZE, (gid,)))
    return out


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[str]]:
    tmp = tmp_path_factory.mktemp("query")
    arch = str(tmp / "archive")
    snaps = []
    for run_id, units, year, px in (("r1", [U1, U2], 2020, 20), ("r2", [U1, U2], 2021, 10),
                                    ("r3", _antimeridian_units(), 2021, 20)):
        w = open_run(arch, run_id, plan(run_id, units, [year]), staging=str(tmp / "staging"))
        w.checkpoint([w.stage(product(u, year, ice_px=px)) for u in units])
        snaps.append(w.publish({"seconds": 2.0}))
    return arch, snaps


def test_table_and_one_glacier(archive: tuple[str, list[str]]) -> None:
    a = open_archive(archive[0])
    t = a.table()
    assert {"area_unc_km2", "observed_fraction", "quality", "sensors", "model_hash", "run_id", "rgi_id", "lon",
            "lat"} <= set(t.columns)
    assert len(t) == 3 * 2 + 2  # G1..G3 in two years, H1 and H2 in one
    g2 = a.glacier("G2")
    assert list(g2["year"]) == [2020, 2021]
    assert list(g2["area_km2"]) == pytest.approx([2 * ONE, 2 * ONE / 4], rel=GROUND)
    assert list(g2["run_id"]) == ["r1", "r2"] and set(g2["quality"]) == {"ok"}
    assert g2["rgi_id"].iloc[0] == "RGI2000-v7.0-G-11-G2"
    assert list(a.glacier("G2", from_year=2021)["year"]) == [2021]
    with pytest.raises(ArchiveError, match="'NOPE' is not in archive"):
        a.glacier("NOPE")
    assert a.years() == [2020, 2021]
    # a run reads its glaciers' slices only; unknown ids are skipped
    rows = a.of_glaciers(["G2", "G3", "NOPE"], from_year=2021)
    assert list(zip(rows["glacier_id"], rows["year"], strict=True)) == [("G2", 2021), ("G3", 2021)]
    assert rows["area_km2"].iloc[0] == pytest.approx(2 * ONE / 4, rel=GROUND)
    totals = a.year_totals(["G1", "G2", "G3"])
    assert list(totals["year"]) == [2020, 2021] and list(totals["glaciers"]) == [3, 3]
    by_year = t[t["glacier_id"].isin(["G1", "G2", "G3"])].groupby("year")["area_km2"].sum()
    assert list(totals["area_km2"]) == pytest.approx(list(by_year))
    assert list(a.year_totals()["glaciers"]) == [3, 5]  # H1 and H2 have 2021 only
    assert sorted(a.units()) == sorted([U1.unit_id, U2.unit_id, *(u.unit_id for u in _antimeridian_units())])


def test_region_tile_and_changes(archive: tuple[str, list[str]]) -> None:
    import rioxarray  # noqa: F401

    a = open_archive(archive[0])
    w, s, e, n = U1.bbox_wgs84()
    inner = (w + 0.001, s + 0.001, e - 0.001, n - 0.001)  # one tile's bbox
    (ds,) = a.region(inner, [2020, 2021])
    assert ds.rio.crs.to_epsg() == 32632 and list(ds["year"].values) == [2020, 2021]
    assert 0 < ds.sizes["x"] <= SIZE and 0 < ds.sizes["y"] <= SIZE
    tile = a.tile(U1.unit_id)
    assert tile.sizes == {"year": 2, "y": SIZE, "x": SIZE}
    assert int((tile["classes"].sel(year=2020) > 0).sum()) == 2 * 400
    (change,) = a.changes(U1.bbox_wgs84(), 2020, 2021)
    values = change.sel(x=slice(U1.bounds[0], U1.bounds[2]), y=slice(U1.bounds[3], U1.bounds[1])).values
    ice = tile["classes"].isin([1, 2]).values
    assert int((values == -1).sum()) == int((ice[0] & ~ice[1]).sum()) > 0
    assert int((values == 1).sum()) == int((~ice[0] & ice[1]).sum())
    across = a.region((179.0, 49.9, -179.0, 50.2))  # W > E: crosses the antimeridian
    assert sorted(d.attrs["epsg"] for d in across) == [32601, 32660]
    assert sorted(a.in_bbox((179.0, 49.9, -179.0, 50.2))["glacier_id"].unique()) == ["H1", "H2"]


def test_history_and_as_of(archive: tuple[str, list[str]]) -> None:
    arch, snaps = archive
    a = open_archive(arch)
    assert a.snapshot == snaps[-1]
    ids = [h["id"] for h in a.history()]  # newest first, checkpoints included
    assert ids[0] == snaps[2] and ids.index(snaps[2]) < ids.index(snaps[1]) < ids.index(snaps[0])
    assert a.history()[0]["run_id"] == "r3" and a.history()[0]["kind"] == "publish"
    old = open_archive(arch, as_of=snaps[0])
    assert old.years() == [2020] and list(old.glacier("G2")["area_km2"]) == pytest.approx([2 * ONE], rel=GROUND)
    assert open_archive(arch, as_of="2999-01-01").snapshot == snaps[-1]
    with pytest.raises(ArchiveError, match="no snapshot at or before 2000-01-01"):
        open_archive(arch, as_of="2000-01-01")
    runs = a.runs()
    assert list(runs["run_id"]) == ["r1", "r2", "r3"]
    first = runs["record"].iloc[0]
    assert first["summary"] == {"seconds": 2.0} and first["checkpoint_hash"] == "ck1" and first["code_version"] == "test"
    assert first["items_by_status"] == {"done": 2} and first["scenes_used"] == 2 and len(first["plan_hash"]) == 16


def test_export_outlines_areas_match_within_one_percent(archive: tuple[str, list[str]], tmp_path: Path) -> None:
    import geopandas as gpd
    from pyproj import Geod

    out = tmp_path / "outlines.parquet"
    assert main(["export", archive[0], "--outlines", str(out), "--years", "2020:2021"]) == 0
    gdf = gpd.read_parquet(out)
    assert gdf.crs.to_epsg() == 4326
    assert {"rgi_id", "glims_id", "src_date", "area_km2", "area_unc_km2", "observed_fraction"} <= set(gdf.columns)
    assert len(gdf) == 8
    geod = Geod(ellps="WGS84")
    for _, row in gdf.iterrows():
        area = abs(geod.geometry_area_perimeter(row.geometry)[0]) / 1e6
        assert area == pytest.approx(row.observed_area_km2, rel=0.01), row.glacier_id
    g2 = gdf[(gdf.glacier_id == "G2") & (gdf.year == 2020)].iloc[0]
    assert g2.area_km2 == pytest.approx(2 * ONE, rel=GROUND) and g2.src_date == "2020"
    gpkg = tmp_path / "o.gpkg"
    assert main(["export", archive[0], "--outlines", str(gpkg), "--years", "2021", "--bbox", "179,49.9,-179,50.2"]) == 0
    assert sorted(gpd.read_file(gpkg).glacier_id) == ["H1", "H2"]


def test_export_rasters_fronts_and_bad_input(archive: tuple[str, list[str]], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    import rasterio

    assert main(["export", archive[0], "--rasters", str(tmp_path / "cogs"), "--years", "2020"]) == 0
    (cog,) = sorted((tmp_path / "cogs").glob("*.tif"))
    assert cog.name == f"32632_2020_{U1.col // 32}_{U1.row // 32}.tif"  # zone, year, 32 × 32-tile window
    with rasterio.open(cog) as src:
        assert src.crs.to_epsg() == 32632 and src.count == 2 and src.nodata == 255
        assert src.bounds.left == U1.bounds[0] and src.bounds.right == U2.bounds[2]
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert int((src.read(1) > 0).sum()) == 4 * 400
    capsys.readouterr()
    assert main(["export", archive[0], "--fronts", str(tmp_path / "f.gpkg")]) == 2
    assert "holds no lake- or marine-terminating glacier" in capsys.readouterr().err
    assert main(["export", archive[0], "--outlines", str(tmp_path / "o.shp")]) == 2
    assert "o.shp: the file must end in .parquet or .gpkg" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "missing"), "--outlines", str(tmp_path / "o.gpkg")]) == 2
    assert "no change archive at" in capsys.readouterr().err


def test_cli_query_prints_the_new_columns(archive: tuple[str, list[str]], capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["query", archive[0], "--glacier", "G3", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["year"] for r in rows] == [2020, 2021]
    assert rows[0]["area_unc_boundary_km2"] == pytest.approx(4 * 20 * RES / 1000 * RES / 1000 / 2, rel=GROUND)
    assert rows[0]["area_unc_km2"] > rows[0]["area_unc_boundary_km2"]  # plus the model term
    assert rows[0]["area_source"] == "observed" and rows[0]["filled_km2"] == 0.0
    assert rows[0]["quality"] == "ok" and rows[0]["observed_fraction"] == pytest.approx(1.0)
    assert np.isclose(rows[1]["area_km2"], ONE / 4, rtol=GROUND)
