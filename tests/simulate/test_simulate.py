"""The simulator: truth that agrees with its outlines, retreat, determinism, STAC metadata and physics."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio import features

from glacierscale.simulate import Region, RegionSpec, SceneSet, simulate
from glacierscale.simulate.physics import Surface, paint_surfaces

S2, S1, DEM = "sentinel-2-l2a", "sentinel-1-rtc", "cop-dem-glo-30"


def read(href: str | Path, masked: bool = False) -> np.ndarray:
    with rasterio.open(href) as src:
        return src.read(1, masked=masked)


def s2_reflectance(item: dict[str, Any], key: str, shape: tuple[int, int]) -> np.ndarray:
    """Return one band as surface reflectance (DN × scale + offset of the item), upsampled to ``shape``."""
    band = item["assets"][key]["raster:bands"][0]
    dn = read(item["assets"][key]["href"]).astype(np.float64)
    refl = np.where(dn == band["nodata"], np.nan, dn * band["scale"] + band["offset"])
    factor = shape[0] // refl.shape[0]
    return np.kron(refl, np.ones((factor, factor))) if factor > 1 else refl


def item_date(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(item["properties"]["datetime"].rstrip("Z"))


def truth(scene_set: SceneSet, year: int) -> tuple[np.ndarray, Affine]:
    with rasterio.open(scene_set.root / "truth" / f"truth_classes_{year}.tif") as src:
        return src.read(1), src.transform


# --- truth -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("year", [2021, 2022])
def test_truth_raster_agrees_with_truth_outlines(scene_set: SceneSet, year: int) -> None:
    classes, transform = truth(scene_set, year)
    outlines = gpd.read_file(scene_set.truth_outlines)
    assert outlines.crs.to_epsg() == scene_set.epsg
    mine = outlines[outlines["year"] == year]
    assert len(mine) == 4  # one glacier per valley
    burnt = features.rasterize([(g, 1) for g in mine.geometry], out_shape=classes.shape, transform=transform)
    a, b = classes > 0, burnt > 0
    iou = (a & b).sum() / (a | b).sum()
    assert iou >= 0.99
    assert set(np.unique(classes)) <= {0, 1, 2}


def test_truth_classes_debris_lies_inside_the_debris_polygons(scene_set: SceneSet) -> None:
    classes, transform = truth(scene_set, 2021)
    outlines = gpd.read_file(scene_set.truth_outlines)
    debris_glaciers = outlines[(outlines["year"] == 2021) & (outlines["debris_km2"] > 0)]
    assert len(debris_glaciers) == 1  # the simulator makes the longest glacier debris-covered
    debris_px = (classes == 2).sum() * abs(transform.a * transform.e) / 1e6
    assert debris_px == pytest.approx(float(debris_glaciers["debris_km2"].iloc[0]), rel=0.05)


def test_every_glacier_retreats(scene_set: SceneSet) -> None:
    areas = scene_set.truth_areas()
    assert list(areas.columns) == [2021, 2022]
    assert len(areas) == 4
    assert (areas[2022] < areas[2021]).all(), areas
    # 25-60 m/yr of retreat on a ~450 m wide tongue: a few percent of the area a year, not more
    loss = 1 - areas[2022] / areas[2021]
    assert ((loss > 0.005) & (loss < 0.1)).all(), loss
    # retreat, not displacement: the new outline lies (almost) inside the old one
    outlines = gpd.read_file(scene_set.truth_outlines).set_index(["glacier_id", "year"]).geometry
    for gid in areas.index:
        new, old = outlines[(gid, 2022)], outlines[(gid, 2021)]
        assert new.difference(old).area < 0.01 * new.area


def test_inventory_is_the_first_years_outlines_in_wgs84(scene_set: SceneSet) -> None:
    inv = gpd.read_file(scene_set.inventory)
    assert inv.crs.to_epsg() == 4326
    assert sorted(inv["glacier_id"]) == sorted(scene_set.truth_areas().index)
    areas = inv.set_index("glacier_id").to_crs(scene_set.epsg).area / 1e6
    first = scene_set.truth_areas()[2021]
    np.testing.assert_allclose(areas.sort_index(), first.sort_index(), rtol=1e-3)
    assert inv["debris_cover"].sum() == 1


# --- determinism ---------------------------------------------------------------------------------------------


def test_same_spec_gives_identical_bytes(scene_set: SceneSet, small_spec: RegionSpec, tmp_path: Path) -> None:
    again = simulate(small_spec, tmp_path / "again", progress=False)
    first_item = sorted(p.name for p in scene_set.collections[S2].iterdir() if p.is_dir())[0]
    a = (scene_set.collections[S2] / first_item / "B03.tif").read_bytes()
    b = (again.collections[S2] / first_item / "B03.tif").read_bytes()
    assert a == b
    rasters = sorted(p.relative_to(scene_set.root) for p in scene_set.root.rglob("*.tif*"))
    # S2 scenes (6 bands + SCL), S1 scenes (VV, VH, coherence, layover/shadow), DEM, truth on 3 grids × 2 years
    assert len(rasters) == 4 * 7 + 2 * 4 + 1 + 2 * 3
    for rel in [*rasters, Path("truth/truth_outlines.gpkg"), Path("inventory.gpkg")]:
        assert (scene_set.root / rel).read_bytes() == (again.root / rel).read_bytes(), rel
    # the catalogs differ only by where they live
    text_a = (scene_set.collections[S2] / "items.ndjson").read_text().replace(str(scene_set.root), "ROOT")
    text_b = (again.collections[S2] / "items.ndjson").read_text().replace(str(again.root), "ROOT")
    assert text_a == text_b


def test_another_seed_gives_another_region(small_spec: RegionSpec) -> None:
    from dataclasses import replace

    from glacierscale.simulate import build_region

    a = build_region(small_spec).terrain.elevation
    b = build_region(replace(small_spec, seed=small_spec.seed + 1)).terrain.elevation
    assert not np.allclose(a, b)


# --- STAC items ---------------------------------------------------------------------------------------------


def test_scene_counts_per_year(read_items: Any) -> None:
    s2, s1 = read_items(S2), read_items(S1)
    assert sorted(item_date(it).year for it in s2) == [2021, 2021, 2022, 2022]
    assert sorted(item_date(it).year for it in s1) == [2021, 2022]
    assert len(read_items(DEM)) == 1
    for it in s2 + s1:
        d = item_date(it)
        assert datetime(d.year, 8, 1) <= d <= datetime(d.year, 9, 26), "end of the ablation season"


def test_s2_offset_follows_the_processing_baseline(read_items: Any) -> None:
    items = read_items(S2)
    cutover = datetime(2022, 1, 25)
    for it in items:
        expected = -0.1 if item_date(it) >= cutover else 0.0
        for key in ("blue", "green", "red", "nir", "swir16", "swir22"):
            band = it["assets"][key]["raster:bands"][0]
            assert band["offset"] == expected, (it["id"], key)
            assert band["scale"] == 0.0001
            assert band["nodata"] == 0
        assert it["properties"]["s2:processing_baseline"] == ("05.10" if expected else "02.14")
        assert it["properties"]["earthsearch:boa_offset_applied"] is bool(expected)
    assert {item_date(it).year for it in items} == {2021, 2022}


def test_every_asset_carries_its_grid(read_items: Any, scene_set: SceneSet) -> None:
    for coll in (S2, S1, DEM):
        for it in read_items(coll):
            assert it["collection"] == coll
            epsg = it["properties"]["proj:epsg"]
            assert epsg == (4326 if coll == DEM else scene_set.epsg)
            for key, asset in it["assets"].items():
                with rasterio.open(asset["href"]) as src:
                    assert asset["proj:shape"] == [src.height, src.width], (it["id"], key)
                    assert asset["proj:transform"] == pytest.approx(list(src.transform)[:6]), (it["id"], key)
                    assert src.crs.to_epsg() == epsg
                    assert src.dtypes[0] == asset["raster:bands"][0]["data_type"]


def test_s2_items_have_cloud_cover_in_percent(read_items: Any) -> None:
    covers = [it["properties"]["eo:cloud_cover"] for it in read_items(S2)]
    assert all(0 <= c <= 100 for c in covers)
    assert len(set(covers)) == len(covers)  # a per-scene value, not a constant


def test_s1_items_have_sar_assets_with_nodata(read_items: Any) -> None:
    for it in read_items(S1):
        assert {"vv", "vh", "coherence-vv-12d"} <= set(it["assets"])
        for key in ("vv", "vh", "coherence-vv-12d"):
            assert it["assets"][key]["raster:bands"][0]["nodata"] == -32768
        assert it["properties"]["sar:polarizations"] == ["VV", "VH"]
        assert it["properties"]["start_datetime"] <= it["properties"]["end_datetime"]


def test_s2_bands_share_the_truth_grid(read_items: Any, scene_set: SceneSet) -> None:
    _, truth_transform = truth(scene_set, 2021)
    with rasterio.open(scene_set.root / "truth" / "truth_classes_2021.tif") as src:
        truth_shape = src.shape
    it = read_items(S2)[0]
    for key in ("blue", "green", "red", "nir"):
        with rasterio.open(it["assets"][key]["href"]) as src:
            assert src.transform == truth_transform
            assert src.shape == truth_shape
    for key in ("swir16", "swir22", "scl"):  # 20 m bands: same origin, twice the pixel size
        with rasterio.open(it["assets"][key]["href"]) as src:
            assert src.transform == truth_transform @ Affine.scale(2)
            assert src.shape == (truth_shape[0] // 2, truth_shape[1] // 2)


# --- physics -------------------------------------------------------------------------------------------------


def _ndsi_by_class(item: dict[str, Any], scene_set: SceneSet, region: Region) -> dict[str, np.ndarray]:
    year = item_date(item).year
    classes, _ = truth(scene_set, year)
    shape = classes.shape
    green, swir = s2_reflectance(item, "green", shape), s2_reflectance(item, "swir16", shape)
    scl = np.kron(read(item["assets"]["scl"]["href"]), np.ones((2, 2), dtype=np.uint8))
    clear = ~np.isin(scl, (3, 8, 9)) & (green + swir > 0.02)  # no cloud, no cloud shadow, not black
    with np.errstate(divide="ignore", invalid="ignore"):
        ndsi = (green - swir) / (green + swir)
    # the surfaces the simulator painted for this date (its snow line is recorded in the item)
    glacier, debris = region.masks[year]
    surf = paint_surfaces(region.terrain.elevation, glacier, debris, item["properties"]["glacierscale:snow_line_m"],
                          region.patchiness)
    return {
        "ice": ndsi[clear & (classes == 1)],
        "debris": ndsi[clear & (classes == 2) & (surf == Surface.DEBRIS)],
        "rock": ndsi[clear & (classes == 0) & (surf == Surface.ROCK)],
    }


def test_ndsi_separates_clean_ice_but_not_debris_from_rock(read_items: Any, scene_set: SceneSet,
                                                          region: Region) -> None:
    for item in read_items(S2):  # both baselines: the offset must be applied to get these numbers
        v = _ndsi_by_class(item, scene_set, region)
        assert min(len(x) for x in v.values()) > 500, item["id"]
        # snow and ice are bright in green, dark at 1.6 µm
        assert np.mean(v["ice"] > 0.4) > 0.95, item["id"]
        # debris and rock share one spectrum: both have a negative NDSI, and the same one
        assert np.mean(v["debris"] < 0.2) > 0.85, item["id"]
        assert np.mean(v["rock"] < 0.2) > 0.9, item["id"]
        assert np.median(v["debris"]) == pytest.approx(np.median(v["rock"]), abs=0.1), item["id"]
        assert np.median(v["ice"]) - np.median(v["rock"]) > 0.8


def test_coherence_is_lower_on_glaciers_than_on_background(read_items: Any, scene_set: SceneSet) -> None:
    for item in read_items(S1):
        classes, _ = truth(scene_set, item_date(item).year)
        coh = read(item["assets"]["coherence-vv-12d"]["href"], masked=True)
        glacier = float(coh[classes > 0].mean())
        background = float(coh[classes == 0].mean())
        assert 0 < glacier < background <= 1, item["id"]
        assert background - glacier > 0.05
        # debris-covered ice moves and melts: it decorrelates too
        assert float(coh[classes == 2].mean()) < background


def test_backscatter_is_positive_linear_power(read_items: Any) -> None:
    for item in read_items(S1):
        for pol in ("vv", "vh"):
            power = read(item["assets"][pol]["href"], masked=True)
            assert power.min() > 0
            db = 10 * np.log10(np.ma.median(power))
            assert -30 < db < 0, (item["id"], pol)
        vv = np.ma.median(read(item["assets"]["vv"]["href"], masked=True))
        vh = np.ma.median(read(item["assets"]["vh"]["href"], masked=True))
        assert vh < vv  # cross-pol is weaker


def test_dem_covers_the_terrain_range(read_items: Any, region: Region) -> None:
    (item,) = read_items(DEM)
    dem = read(item["assets"]["data"]["href"])
    lo, hi = float(region.terrain.elevation.min()), float(region.terrain.elevation.max())
    assert np.nanmin(dem) >= lo - 1 and np.nanmax(dem) <= hi + 1
    assert np.nanmax(dem) > hi - 100  # the 30 m grid still reaches the summit
