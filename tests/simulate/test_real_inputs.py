"""Scenes over real DEMs and real outlines: truth = the outlines, retreat, replay, speed, memory, determinism."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio import features
from sim_helpers import HOCHALM, OETZTAL_RGI, REAL, CliRun, need_real, read_items

from glacierscale.simulate import RegionSpec, build_region, simulate

HEF_DEM = REAL / "oggm-sample-data" / "hintereisferner" / "hef_srtm.tif"
HEF_RGI6 = REAL / "oggm-sample-data" / "hintereisferner" / "Hintereisferner_RGI6.shp"


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def burn(frame: gpd.GeoDataFrame, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Return (truth glacier mask, direct rasterisation of ``frame``) on the grid of the truth raster at ``path``."""
    with rasterio.open(path) as src:
        classes, transform, crs = src.read(1), src.transform, src.crs
    direct = features.rasterize([(g, 1) for g in frame.to_crs(crs).geometry], out_shape=classes.shape,
                                transform=transform).astype(bool)
    known = classes != 255
    return (classes > 0) & (classes != 255), direct & known


# --- Ötztal: real SRTM DEM + 20 real RGI outlines, through the CLI -------------------------------------------


def test_oetztal_scene_is_fast_and_small(oetztal_cli: CliRun) -> None:
    sim = json.loads((oetztal_cli.out / "simulation.json").read_text())
    left, bottom, right, top = sim["bounds"]
    assert (right - left, top - bottom) == (10_000.0, 10_000.0)
    assert sim["years"] == [2022] and sim["sensors"] == ["s2", "s1", "landsat", "dem"]
    per_sensor_year = oetztal_cli.seconds / (len(sim["sensors"]) * len(sim["years"]))
    print(f"Ötztal 10 km × 10 km, 1 year, 4 sensors ({oetztal_cli.scene_count} scenes + DEM): "
          f"{oetztal_cli.seconds:.1f} s, {per_sensor_year:.1f} s per sensor-year, peak {oetztal_cli.peak_mb:.0f} MB")
    assert per_sensor_year < 30
    assert oetztal_cli.seconds < 30 * len(sim["years"]), "even all four sensors of a year together"
    assert oetztal_cli.peak_mb < 2048


def test_oetztal_truth_is_the_rgi_outlines(oetztal_cli: CliRun) -> None:
    rgi = gpd.read_file(OETZTAL_RGI)
    for suffix in ("", "_landsat", "_dem"):
        truth, direct = burn(rgi, oetztal_cli.out / "truth" / f"truth_classes_2022{suffix}.tif")
        assert direct.sum() > 1000
        assert iou(truth, direct) >= 0.99, suffix
    inv = gpd.read_file(oetztal_cli.out / "inventory.gpkg")
    assert len(inv) >= 8 and inv["glacier_id"].str.startswith("RGI50-11.").all()
    assert set(inv["terminus_type"]) == {"land"}
    # debris only on the large, flat tongues (RGI: Gepatsch 16.6 km², 11.3°), not on every glacier
    assert 0 < inv["debris_cover"].sum() < len(inv)
    assert inv.loc[inv["area_km2"] < 1.0, "debris_cover"].sum() == 0


def test_oetztal_items_carry_real_item_metadata(oetztal_cli: CliRun) -> None:
    epsg = json.loads((oetztal_cli.out / "simulation.json").read_text())["epsg"]
    assert epsg == 32632
    for coll in ("sentinel-2-l2a", "sentinel-1-rtc", "landsat-c2-l2", "cop-dem-glo-30"):
        items = read_items(oetztal_cli.out, coll)
        assert items, coll
        for it in items:
            props = it["properties"]
            code = 4326 if coll == "cop-dem-glo-30" else epsg
            assert props["proj:epsg"] == code and props["proj:code"] == f"EPSG:{code}"
            for key, asset in it["assets"].items():
                with rasterio.open(asset["href"]) as src:
                    assert asset["proj:shape"] == [src.height, src.width], (coll, key)
                    assert asset["proj:transform"] == pytest.approx(list(src.transform)[:6]), (coll, key)
                    assert src.block_shapes[0] == (256, 256) and src.overviews(1), (coll, key)  # COG: tiles, overviews
                    assert src.nodata is not None, (coll, key)


# --- retreat of a real glacier on a real DEM --------------------------------------------------------------


def test_retreat_shrinks_hintereisferner_from_its_terminus_up(tmp_path: Path) -> None:
    need_real()
    spec = RegionSpec(dem=str(HEF_DEM), outlines=(str(HEF_RGI6),), years=(2021, 2022, 2023), s2_per_year=1,
                      seed=2, name="hef")
    scenes = simulate(spec, tmp_path / "hef", sensors=("s2",), progress=False)
    areas = scenes.truth_areas().loc["RGI60-11.00897"]
    assert areas[2021] == pytest.approx(8.036, rel=0.01)  # the first year is the inventory outline
    loss = 1 - areas[2023] / areas[2021]
    assert 0.01 < loss < 0.035  # 0.6-1.6 % a year, from the terminus up
    outlines = gpd.read_file(scenes.truth_outlines).set_index("year").geometry
    first, last = outlines[2021], outlines[2023]
    assert last.difference(first).area < 1.0  # retreat, not displacement
    region = build_region(spec)  # the lost part is the lowest part of the glacier
    lost = region.masks[2021][0] & ~region.masks[2023][0]
    z = region.terrain.elevation
    assert lost.sum() > 100 and z[lost].max() <= np.quantile(z[region.masks[2023][0]], 0.05)
    truth, direct = burn(gpd.read_file(HEF_RGI6), scenes.root / "truth" / "truth_classes_2021.tif")
    assert iou(truth, direct) >= 0.99


# --- replay of real multi-temporal outlines, terrain fitted to them ---------------------------------------


def test_hochalmkees_glims_file_is_replayed_year_by_year_on_fitted_terrain(tmp_path: Path) -> None:
    need_real()
    spec = RegionSpec(outlines=(str(HOCHALM),), years=(2003, 2016), s2_per_year=1, seed=4, name="hoch")
    scenes = simulate(spec, tmp_path / "hoch", sensors=("s2", "dem"), progress=False)
    assert scenes.years == (2003, 2011, 2012, 2013, 2016)
    glims = gpd.read_file(HOCHALM)
    glims["year"] = glims["src_date"].astype(str).str[:4].astype(int)
    areas = scenes.truth_areas().iloc[0]
    for year in scenes.years:
        mine = glims[glims["year"] == year]
        latest = mine[mine["src_date"] == mine["src_date"].max()]
        chosen = latest[latest["anlys_id"].astype(str) == latest["anlys_id"].astype(str).max()]
        truth, direct = burn(chosen, scenes.root / "truth" / f"truth_classes_{year}.tif")
        assert iou(truth, direct) >= 0.99, year
        assert areas[year] == pytest.approx(chosen.to_crs(scenes.epsg).area.sum() / 1e6, rel=1e-3), year
    assert areas[2011] > areas[2013] > areas[2016]  # real retreat (the 2003 analyses disagree by 0.3 km²)
    # the fitted DEM puts the glacier in a valley between the inventory's min and max elevation
    with rasterio.open(next((scenes.root / "cop-dem-glo-30").rglob("*.tif"))) as src:
        dem = src.read(1)
    assert np.nanmin(dem) > 2300 and np.nanmax(dem) < 4200


def test_year_file_replay_reads_geopackage_geoparquet_and_zipped_shapefile(tmp_path: Path) -> None:
    need_real()
    glims = gpd.read_file(HOCHALM)
    y1969 = glims[glims["src_date"].astype(str).str.startswith("1969")]
    y2013 = glims[glims["src_date"].astype(str).str.startswith("2013")]
    y1969.to_file(tmp_path / "hoch_1969.gpkg")
    y2013.to_parquet(tmp_path / "hoch_2013.parquet")
    y2013.to_file(tmp_path / "hoch_2016.shp")
    with zipfile.ZipFile(tmp_path / "hoch_2016.zip", "w") as zf:
        for part in tmp_path.glob("hoch_2016.*"):
            if part.suffix != ".zip":
                zf.write(part, part.name)
    spec = RegionSpec(outlines=(f"1969={tmp_path / 'hoch_1969.gpkg'}", f"2013={tmp_path / 'hoch_2013.parquet'}",
                                f"2016={tmp_path / 'hoch_2016.zip'}"), years=(), s2_per_year=1, seed=1, name="yf")
    scenes = simulate(spec, tmp_path / "out", sensors=("s2",), progress=False)
    assert scenes.years == (1969, 2013, 2016)
    areas = scenes.truth_areas().iloc[0]
    assert areas[1969] == pytest.approx(3.137, rel=0.01) and areas[2016] == pytest.approx(areas[2013])


def test_real_input_scenes_are_deterministic(tmp_path: Path) -> None:
    need_real()
    spec = RegionSpec(outlines=(str(HOCHALM),), years=(2011, 2013), s2_per_year=1, s1_per_year=1, landsat_per_year=1,
                      seed=9, name="det")
    a = simulate(spec, tmp_path / "a", sensors=("s2", "s1", "landsat", "dem"), progress=False)
    b = simulate(spec, tmp_path / "b", sensors=("s2", "s1", "landsat", "dem"), progress=False)
    files = sorted(p.relative_to(a.root) for p in a.root.rglob("*") if p.is_file() and p.suffix != ".json")
    assert len(files) > 20
    for rel in files:
        if rel.suffix == ".ndjson":
            assert (a.root / rel).read_text().replace(str(a.root), "R") == (b.root / rel).read_text().replace(str(b.root), "R")
        else:
            assert (a.root / rel).read_bytes() == (b.root / rel).read_bytes(), rel


def test_glaciers_grow_on_a_real_dem_without_outlines(tmp_path: Path) -> None:
    need_real()
    spec = RegionSpec(dem=str(HEF_DEM), center_lon=10.76, center_lat=46.81, window_m=6000, years=(2021, 2022),
                      s2_per_year=1, seed=3, name="grow")
    scenes = simulate(spec, tmp_path / "grow", sensors=("s2",), progress=False)
    sim = json.loads((scenes.root / "simulation.json").read_text())
    assert 2900 < sim["ela_m_used"] < 3500  # 70th percentile of the DEM: in the range of Alpine ELAs
    outlines = gpd.read_file(scenes.truth_outlines)
    first = outlines[outlines["year"] == 2021]
    assert len(first) >= 1 and (first["area_km2"] >= 0.1).all()
    areas = scenes.truth_areas()
    assert (areas[2022] < areas[2021]).all()
    truth, direct = burn(first, scenes.root / "truth" / "truth_classes_2021.tif")
    assert iou(truth, direct) >= 0.99
