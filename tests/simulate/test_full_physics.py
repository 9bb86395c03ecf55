"""Full physics: NDSI, debris vs rock separability by sensor, seasonal snow, thermal and radar behaviour."""

from __future__ import annotations

import warnings
from datetime import datetime
from typing import Any

import numpy as np
import pytest
import rasterio
from rasterio.warp import Resampling, reproject
from scipy import ndimage
from sim_helpers import read_band, read_items

from glacierscale.simulate import Region, SceneSet
from glacierscale.simulate.physics import Surface
from glacierscale.simulate.surfaces import paint_full

S2, S1, LANDSAT = "sentinel-2-l2a", "sentinel-1-rtc", "landsat-c2-l2"
CLOUDY_SCL = (0, 1, 3, 8, 9, 10)


def when(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(item["properties"]["datetime"].rstrip("Z"))


def s2_bands(item: dict[str, Any], shape: tuple[int, int]) -> np.ndarray:
    """Return the six bands as reflectance (DN × scale + offset as the item declares) on the 10 m grid."""
    out = []
    for key in ("blue", "green", "red", "nir", "swir16", "swir22"):
        band = item["assets"][key]["raster:bands"][0]
        dn = read_band(item["assets"][key]["href"]).astype(np.float64)
        refl = np.where(dn == band["nodata"], np.nan, dn * band["scale"] + band["offset"])
        f = shape[0] // refl.shape[0]
        out.append(np.kron(refl, np.ones((f, f))) if f > 1 else refl)
    return np.stack(out)


def clear_s2(item: dict[str, Any], shape: tuple[int, int]) -> np.ndarray:
    """Return pixels away from clouds, cloud shadows and nodata (SCL, buffered by 3 px as cloud masks are)."""
    scl = np.kron(read_band(item["assets"]["scl"]["href"]), np.ones((2, 2), dtype=np.uint8))[: shape[0], : shape[1]]
    return ~ndimage.binary_dilation(np.isin(scl, CLOUDY_SCL), iterations=3)


def surfaces(region: Region, item: dict[str, Any]) -> np.ndarray:
    """Return what the simulator painted for an item's date (its snow line is recorded in the item)."""
    p = item["properties"]
    return paint_full(region, when(item).year, p["glacierscale:snow_line_m"], p["glacierscale:fresh_snow"])


def truth(scenes: SceneSet, year: int, suffix: str = "") -> tuple[np.ndarray, Any, Any]:
    with rasterio.open(scenes.root / "truth" / f"truth_classes_{year}{suffix}.tif") as src:
        return src.read(1), src.transform, src.crs


def landsat_kelvin_on(item: dict[str, Any], transform: Any, crs: Any, shape: tuple[int, int]) -> np.ndarray:
    """Return lwir11 in kelvin (scale/offset of the item), NaN where nodata or not clear, on a 10 m grid."""
    band = item["assets"]["lwir11"]["raster:bands"][0]
    with rasterio.open(item["assets"]["lwir11"]["href"]) as src:
        dn, t30 = src.read(1).astype(np.float64), src.transform
    qa = read_band(item["assets"]["qa_pixel"]["href"])
    kelvin = np.where((dn != band["nodata"]) & ((qa & (1 << 6)) > 0), dn * band["scale"] + band["offset"], np.nan)
    out = np.full(shape, np.nan)
    reproject(kelvin, out, src_transform=t30, src_crs=crs, dst_transform=transform, dst_crs=crs,
              resampling=Resampling.nearest, src_nodata=np.nan, dst_nodata=np.nan)
    return out


def end_of_season(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [it for it in items if when(it).month >= 8]


# --- optical ---------------------------------------------------------------------------------------------------


def test_ndsi_high_on_clean_ice_low_on_debris_and_rock(full_scenes: SceneSet, full_region: Region) -> None:
    classes, _, _ = truth(full_scenes, 2022)
    for item in end_of_season(read_items(full_scenes.root, S2)):
        b = s2_bands(item, classes.shape)
        # sunlit and clear: in terrain shadow (SCL 2) only noisy diffuse light is left, as in real scenes
        scl = np.kron(read_band(item["assets"]["scl"]["href"]), np.ones((2, 2), dtype=np.uint8))
        clear = clear_s2(item, classes.shape) & (scl != 2)
        surf = surfaces(full_region, item)
        with np.errstate(divide="ignore", invalid="ignore"):
            ndsi = (b[1] - b[4]) / (b[1] + b[4])
        ice = clear & (classes == 1) & np.isin(surf, (Surface.CLEAN_ICE, Surface.DIRTY_ICE, Surface.GLACIER_SNOW))
        debris = clear & (classes == 2) & (surf == Surface.DEBRIS)
        # rock away from its edges: a 10 m rock pixel beside snow shares its 20 m SWIR pixel with the snow
        rock = clear & (classes == 0) & ndimage.binary_erosion(surf == Surface.ROCK, iterations=2)
        assert min(ice.sum(), debris.sum(), rock.sum()) > 300, item["id"]
        assert np.mean(ndsi[ice] > 0.4) > 0.98, item["id"]
        assert np.mean(ndsi[debris] < 0.2) > 0.98, item["id"]
        assert np.mean(ndsi[rock] < 0.2) > 0.95, item["id"]


def test_low_snow_line_puts_snow_on_most_ground_above_it(full_scenes: SceneSet, full_region: Region) -> None:
    classes, _, _ = truth(full_scenes, 2022)
    (june,) = [it for it in read_items(full_scenes.root, S2) if when(it).month == 6]
    line = june["properties"]["glacierscale:snow_line_m"]
    assert line < full_region.ela_m - 500, "a June date has a low snow line"
    b = s2_bands(june, classes.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        ndsi = (b[1] - b[4]) / (b[1] + b[4])
    above = clear_s2(june, classes.shape) & (classes == 0) & (full_region.terrain.elevation > line)
    assert above.sum() > 10_000
    snow = (ndsi > 0.4) & (b[3] > 0.11)  # Hall 1995: NDSI and NIR, so that water does not count
    assert np.mean(snow[above]) >= 0.3
    # and the same ground at the end of the season is mostly snow-free below the new line
    (late,) = [it for it in read_items(full_scenes.root, S2) if when(it).strftime("%m-%d") == "09-08"]
    b2 = s2_bands(late, classes.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        ndsi2 = (b2[1] - b2[4]) / (b2[1] + b2[4])
    below = clear_s2(late, classes.shape) & (classes == 0) & (full_region.terrain.elevation < late["properties"][
        "glacierscale:snow_line_m"] - 200)
    assert np.mean(ndsi2[below] > 0.4) < 0.1


# --- debris vs rock: optical alone cannot, coherence and thermal can ------------------------------------------


def _features(scenes: SceneSet, region: Region) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (optical features, coherence + thermal features, labels) of clear debris (1) and rock (0) pixels."""
    classes, transform, crs = truth(scenes, 2022)
    s2 = min(end_of_season(read_items(scenes.root, S2)), key=lambda it: it["properties"]["eo:cloud_cover"])
    bands = s2_bands(s2, classes.shape)
    surf = surfaces(region, s2)
    s1 = [it for it in read_items(scenes.root, S1) if when(it).month >= 8]
    coh = np.mean([read_band(it["assets"]["coherence-vv-12d"]["href"]) for it in s1], axis=0)
    ls = end_of_season(read_items(scenes.root, LANDSAT))
    with warnings.catch_warnings():  # pixels cloudy in every Landsat scene stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        kelvin = np.nanmean([landsat_kelvin_on(it, transform, crs, classes.shape) for it in ls], axis=0)
    ok = clear_s2(s2, classes.shape) & np.isfinite(kelvin) & (coh >= 0) & np.isfinite(bands).all(axis=0)
    debris = ok & ndimage.binary_erosion((classes == 2) & (surf == Surface.DEBRIS), iterations=2)
    rock = ok & ndimage.binary_erosion((classes == 0) & (surf == Surface.ROCK), iterations=2)
    rng = np.random.default_rng(0)
    n = min(3000, int(debris.sum()), int(rock.sum()))
    assert n >= 800, f"too few clear debris/rock pixels ({debris.sum()}, {rock.sum()})"
    idx = np.concatenate([rng.choice(np.flatnonzero(debris), n, replace=False),
                          rng.choice(np.flatnonzero(rock), n, replace=False)])
    optical = bands.reshape(6, -1)[:, idx].T
    other = np.stack([coh.ravel()[idx], kelvin.ravel()[idx]], axis=1)
    return optical, other, np.r_[np.ones(n), np.zeros(n)]


def _balanced_accuracy(x: np.ndarray, y: np.ndarray) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    scores = cross_val_score(HistGradientBoostingClassifier(max_iter=150, random_state=0), x, y,
                             cv=StratifiedKFold(3, shuffle=True, random_state=0), scoring="balanced_accuracy")
    return float(scores.mean())


def test_debris_and_rock_are_not_separable_optically_but_are_with_coherence_and_thermal(
        full_scenes: SceneSet, full_region: Region) -> None:
    pytest.importorskip("sklearn")
    optical, other, y = _features(full_scenes, full_region)
    optical_only = _balanced_accuracy(optical, y)
    fused = _balanced_accuracy(np.hstack([optical, other]), y)
    assert optical_only < 0.7, f"debris and rock must share their spectrum (balanced accuracy {optical_only:.3f})"
    assert fused > 0.85, f"coherence and thermal must separate them (balanced accuracy {fused:.3f})"


# --- thermal -------------------------------------------------------------------------------------------------


def test_landsat_thermal_ice_at_most_melting_point_debris_cooler_than_rock(full_scenes: SceneSet,
                                                                         full_region: Region) -> None:
    ls = end_of_season(read_items(full_scenes.root, LANDSAT))
    assert ls
    classes, transform, _ = truth(full_scenes, 2022, "_landsat")
    for item in ls:
        band = item["assets"]["lwir11"]["raster:bands"][0]
        assert (band["scale"], band["offset"], band["nodata"], band["data_type"]) == (0.00341802, 149.0, 0, "uint16")
        with rasterio.open(item["assets"]["lwir11"]["href"]) as src:
            assert src.res == (30.0, 30.0) and src.transform.c % 30 == 15 and src.transform.f % 30 == 15
            assert src.transform == transform and src.shape == classes.shape
            kelvin = src.read(1) * band["scale"] + band["offset"]
        qa = read_band(item["assets"]["qa_pixel"]["href"])
        clear = (qa & (1 << 6)) > 0
        # ice interior (beyond the 100 m thermal footprint of warm rock), clear sky
        interior = ndimage.binary_erosion(classes == 1, iterations=7) & clear
        assert interior.sum() > 100
        assert kelvin[interior].max() <= 273.15
        assert 268 < np.median(kelvin[interior]) <= 273.15
        debris = ndimage.binary_erosion(classes == 2, iterations=4) & clear
        rock = ndimage.binary_erosion(classes == 0, iterations=4) & clear & ~((qa & (1 << 5)) > 0)
        assert np.median(kelvin[debris]) > 274, "debris is warmer than the ice under it"
        assert np.median(kelvin[debris]) < np.median(kelvin[rock]) - 1.0, "thin debris over ice is cooler than rock"
        cloudy = (qa & (1 << 3)) > 0
        if cloudy.sum() > 50:
            assert np.median(kelvin[cloudy]) < np.median(kelvin[rock]) - 10, "clouds are cold"


def test_thermal_debris_over_ice_is_cooler_than_the_same_debris_on_rock(full_region: Region) -> None:
    from glacierscale.simulate.thermal import surface_temperature

    surf = paint_full(full_region, 2022, 9999.0, False)  # no snow anywhere
    direct = np.ones(full_region.shape, dtype=np.float32)
    t = surface_temperature(full_region, surf, 2022, 220, direct, np.random.default_rng(0))
    debris = surf == Surface.DEBRIS
    # the same rock, at the same height, without ice below: the ground temperature the debris would have
    as_rock = surface_temperature(full_region, np.where(debris, Surface.ROCK, surf).astype(np.uint8), 2022, 220,
                                  direct, np.random.default_rng(0))
    assert (t[debris] < as_rock[debris]).all()
    thin = debris & (full_region.debris_thickness < 0.05)
    assert np.median(t[thin]) < 280  # < 2-5 cm of debris: 273-278 K (Foster 2012)
    assert t[np.isin(surf, (Surface.CLEAN_ICE, Surface.DIRTY_ICE))].max() <= 273.15


# --- radar ---------------------------------------------------------------------------------------------------


def test_coherence_high_on_rock_low_on_glaciers_and_water(full_scenes: SceneSet, full_region: Region) -> None:
    classes, _, _ = truth(full_scenes, 2022)
    for item in [it for it in read_items(full_scenes.root, S1) if when(it).month >= 8]:
        coh = read_band(item["assets"]["coherence-vv-12d"]["href"], masked=True)
        surf = surfaces(full_region, item)
        rock = float(coh[(classes == 0) & (surf == Surface.ROCK)].mean())
        ice = float(coh[classes == 1].mean())  # moving, melting ice and wet snow
        debris = float(coh[(classes == 2) & (surf == Surface.DEBRIS)].mean())
        assert rock > 0.55 and ice < 0.3 and debris < 0.35, item["id"]
        rock_glacier = surf == Surface.ROCK_GLACIER
        if rock_glacier.sum() > 50:  # they creep: between moraine and glacier
            assert debris < float(coh[rock_glacier].mean()) < rock, item["id"]
        lake = surf == Surface.WATER
        if lake.sum() > 50:
            assert float(coh[lake].mean()) < 0.3


def test_s1_layover_shadow_mask_and_wet_snow(full_scenes: SceneSet, full_region: Region) -> None:
    items = read_items(full_scenes.root, S1)
    assert {it["properties"]["sat:orbit_state"] for it in items} == {"ascending", "descending"}
    for item in items:
        mask = read_band(item["assets"]["layover-shadow"]["href"])
        coh = read_band(item["assets"]["coherence-vv-12d"]["href"])
        assert set(np.unique(mask)) <= {1, 5, 17}
        assert ((mask != 1) == (coh == -32768)).all(), "coherence is nodata exactly where the mask flags"
        assert item["properties"]["sar:looks_equivalent_number"] == 4.4
    # in summer, wet snow is darker than the snow-free ground around it (the -3 dB rule, Nagler & Rott 2000)
    june = next(it for it in items if when(it).month == 6)
    surf = surfaces(full_region, june)
    vv = 10 * np.log10(read_band(june["assets"]["vv"]["href"], masked=True))
    mask = read_band(june["assets"]["layover-shadow"]["href"]) == 1
    assert np.ma.median(vv[mask & (surf == Surface.ROCK)]) - np.ma.median(vv[mask & (surf == Surface.SEASONAL_SNOW)]) > 3


# --- truth on every grid -------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "_s1", "_landsat", "_dem"])
def test_truth_on_each_sensor_grid_is_the_rasterised_outlines(full_scenes: SceneSet, suffix: str) -> None:
    import geopandas as gpd
    from rasterio import features

    with rasterio.open(full_scenes.root / "truth" / f"truth_classes_2022{suffix}.tif") as src:
        classes, transform, crs, nodata = src.read(1), src.transform, src.crs, src.nodata
    assert nodata == 255 and set(np.unique(classes)) <= {0, 1, 2, 3, 255}
    outlines = gpd.read_file(full_scenes.truth_outlines).to_crs(crs)
    burnt = features.rasterize([(g, 1) for g in outlines[outlines["year"] == 2022].geometry],
                               out_shape=classes.shape, transform=transform)
    known = classes != 255
    a, b = np.isin(classes, (1, 2)) & known, (burnt > 0) & known
    assert (a & b).sum() / (a | b).sum() >= 0.99


def test_lake_terminating_glacier_has_a_calving_front(full_scenes: SceneSet) -> None:
    import geopandas as gpd

    fronts = gpd.read_file(full_scenes.root / "truth" / "truth_calving_fronts.gpkg")
    outlines = gpd.read_file(full_scenes.truth_outlines)
    lake_glaciers = set(outlines.loc[outlines["terminus_type"] == "lake", "glacier_id"])
    assert len(lake_glaciers) == 1
    assert set(fronts["glacier_id"]) == lake_glaciers
    assert (fronts["length_m"] > 100).all()
    glacier = outlines[outlines["glacier_id"].isin(lake_glaciers)].geometry.iloc[0]
    assert fronts.geometry.iloc[0].distance(glacier.boundary) < 1.0  # the front lies on the outline


def test_the_proglacial_lake_is_water_in_the_truth_on_every_grid(full_scenes: SceneSet, full_region: Region) -> None:
    lake = full_region.lakes[2022] & ~full_region.masks[2022][0]
    with rasterio.open(full_scenes.root / "truth" / "truth_classes_2022.tif") as src:
        classes = src.read(1)
    # the 10 m truth is the simulator's lake, pixel for pixel, and never glacier
    assert lake.sum() > 200
    np.testing.assert_array_equal(classes == 3, lake & (classes != 255))
    lake_km2 = lake.sum() * full_region.spec.resolution**2 / 1e6
    with rasterio.open(full_scenes.root / "truth" / "truth_classes_2022_landsat.tif") as src:  # 30 m, majority
        km2 = (src.read(1) == 3).sum() * abs(src.transform.a * src.transform.e) / 1e6
    assert km2 == pytest.approx(lake_km2, rel=0.15)
