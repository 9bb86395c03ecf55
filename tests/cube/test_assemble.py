"""Cube assembly from the small simulated catalog: bands, harmonisation, dB, DEM, missing sensors, Zarr store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pystac
import pytest
import xarray as xr

from glacierscale.catalog.provider import Provider, load_provider
from glacierscale.cube.assemble import build_year, cube_bands
from glacierscale.cube.build import build_unit
from glacierscale.cube.store import complete_for, open_unit, unit_coords, write_unit
from glacierscale.inventory.units import WorkUnit, plan_units, read_inventory
from glacierscale.simulate import Region, SceneSet
from glacierscale.simulate.physics import REFLECTANCE, Surface, cast_shadow, illumination, paint_surfaces

S2_BANDS = ["B02", "B03", "B04", "B08", "B11", "B12"]
BANDS = [*S2_BANDS, "VV", "VH", "COH", "LST", "ELEV", "SLOPE", "ASPECT"]
YEARS = [2021, 2022]
SEASON = ("07-15", "09-30")


@pytest.fixture(scope="module")
def provider() -> Provider:
    return load_provider("local")


@pytest.fixture(scope="module")
def unit(scene_set: SceneSet) -> WorkUnit:
    """The 128 px × 20 m tile holding all four simulated glaciers."""
    units = plan_units(read_inventory(scene_set.inventory), 20, 128, 0, overlap_px=0)
    best = max(units, key=lambda u: len(u.glacier_ids))
    assert len(best.glacier_ids) == 4
    return best


@pytest.fixture(scope="module")
def built(stac_url: str, provider: Provider, unit: WorkUnit) -> tuple[xr.Dataset, dict[int, dict[str, Any]]]:
    return build_unit(stac_url, provider, unit, YEARS, season=SEASON, max_cloud=80.0, max_scenes=4)


@pytest.fixture(scope="module")
def cube(built: tuple[xr.Dataset, Any]) -> xr.Dataset:
    return built[0]


@pytest.fixture(scope="module")
def rock(region: Region, read_items: Any, unit: WorkUnit, sample_region: Any) -> np.ndarray:
    """Unit pixels the simulator painted as sunlit bare rock on every Sentinel-2 date.

    The small test region is steep (its relief is scaled to 2.56 km), so most rock lies in terrain shadow;
    sunlit rock is where the reflectance table of PHYSICS.md can be checked.
    """
    items = read_items("sentinel-2-l2a")
    lowest_snow_line = min(it["properties"]["glacierscale:snow_line_m"] for it in items)
    ok = np.ones(region.shape, dtype=bool)
    for year in YEARS:
        glacier, debris = region.masks[year]
        surf = paint_surfaces(region.terrain.elevation, glacier, debris, lowest_snow_line, region.patchiness)
        ok &= surf == Surface.ROCK
    skyview = (1 + np.cos(region.slope)) / 2
    for it in items:  # the simulator's illumination on each date (sun position recorded in the item)
        elev, az = it["properties"]["view:sun_elevation"], it["properties"]["view:sun_azimuth"]
        cos_i = illumination(region.slope, region.aspect, elev, az)
        shadow = cast_shadow(region.terrain.elevation, region.spec.resolution, elev, az)
        light = 0.85 * np.clip(cos_i, 0, None) / np.sin(np.deg2rad(elev)) * ~shadow + 0.15 * skyview
        ok &= light > 0.7
    x, y = unit_coords(unit)
    mask = sample_region(ok.astype(float), x, y) == 1
    assert mask.sum() > 200
    return mask


def test_cube_layout(cube: xr.Dataset, unit: WorkUnit) -> None:
    assert list(cube["band"].values) == BANDS
    assert cube["data"].dtype == np.float32
    assert cube["data"].shape == (2, 13, 128, 128)
    assert cube["data"].dims == ("year", "band", "y", "x")
    assert list(cube["year"].values) == YEARS
    assert cube.attrs["unit_id"] == unit.unit_id and cube.attrs["epsg"] == 32632
    x, y = unit_coords(unit)
    np.testing.assert_array_equal(cube["x"].values, x)
    np.testing.assert_array_equal(cube["y"].values, y)
    assert float(cube.x[1] - cube.x[0]) == 20.0 and float(cube.y[1] - cube.y[0]) == -20.0
    assert cube.rio.crs.to_epsg() == 32632


def test_only_the_sensor_without_a_collection_is_missing(cube: xr.Dataset) -> None:
    # the small scene set is simulated without Landsat: its band is all NaN, flagged missing every year
    assert list(cube["sensor"].values) == ["dem", "landsat", "s1", "s2"]
    assert cube["missing"].sel(sensor="landsat").values.all()
    assert not cube["missing"].sel(sensor=["dem", "s1", "s2"]).values.any()
    assert np.isnan(cube["data"].sel(band="LST").values).all()


def test_scenes_and_decisions_are_recorded(cube: xr.Dataset, built: Any, read_items: Any) -> None:
    scenes = json.loads(cube.attrs["scenes"])
    decisions = built[1]
    for year in YEARS:
        expected = {it["id"] for it in read_items("sentinel-2-l2a") if it["properties"]["datetime"].startswith(str(year))}
        assert set(scenes[str(year)]["s2"]) == expected
        assert len(scenes[str(year)]["s1"]) == 1 and len(scenes[str(year)]["dem"]) == 1
        kept = [d for d in decisions[year]["s2"] if d["kept"]]
        assert {d["item_id"] for d in kept} == expected  # both scenes see the unit
        assert [d["reason"].split(":")[0] for d in kept] == ["rank 1", "rank 2"]


@pytest.mark.parametrize("year", YEARS)
def test_s2_reflectance_over_rock_is_harmonised(cube: xr.Dataset, rock: np.ndarray, year: int) -> None:
    for band in S2_BANDS:
        values = cube["data"].sel(year=year, band=band).values[rock]
        values = values[np.isfinite(values)]
        assert values.size > 100, band
        median = float(np.median(values))
        assert 0.05 <= median <= 0.4, (year, band, median)
        # and it is the rock reflectance of the simulator's table (PHYSICS.md), not DN or an offset copy
        assert median == pytest.approx(REFLECTANCE[Surface.ROCK][S2_BANDS.index(band)], rel=0.2), (year, band)


def test_baseline_offset_does_not_shift_reflectance_between_years(cube: xr.Dataset, rock: np.ndarray) -> None:
    # 2021 scenes have offset 0, 2022 scenes -0.1: without harmonisation 2022 would read +0.1 brighter
    for band in S2_BANDS:
        a = np.nanmedian(cube["data"].sel(year=2021, band=band).values[rock])
        b = np.nanmedian(cube["data"].sel(year=2022, band=band).values[rock])
        assert abs(a - b) < 0.03, (band, a, b)


def test_rock_spectrum_is_brighter_at_swir_than_snow(cube: xr.Dataset, rock: np.ndarray, region: Region,
                                                     unit: WorkUnit, sample_region: Any) -> None:
    x, y = unit_coords(unit)
    glacier = sample_region(region.masks[2022][0].astype(float), x, y) == 1
    glacier &= ~(sample_region(region.masks[2022][1].astype(float), x, y) == 1)
    data = cube["data"].sel(year=2022)
    g, s = data.sel(band="B03").values, data.sel(band="B11").values
    ndsi = (g - s) / (g + s)
    assert np.nanmedian(ndsi[glacier]) > 0.6
    assert np.nanmedian(ndsi[rock]) < 0.0


def test_clear_counts_are_at_most_the_scene_count(cube: xr.Dataset) -> None:
    counts = cube["clear_count"].values
    assert counts.min() >= 0 and counts.max() == 2
    finite = np.isfinite(cube["data"].sel(band="B03").values)
    assert ((counts > 0) == finite).all()  # a pixel has optical data exactly where some scene saw it clearly


def test_sar_bands_are_in_db(cube: xr.Dataset) -> None:
    for band in ("VV", "VH"):
        values = cube["data"].sel(band=band).values
        values = values[np.isfinite(values)]
        assert values.size > 1000
        # gamma0 of land and ice lies between -30 and +5 dB; speckle and layover make rare outliers
        lo, hi = np.percentile(values, [5, 95])
        assert lo > -30 and hi < 5, (band, lo, hi)
        assert values.min() > -45 and values.max() < 15
        assert np.median(values) < -5  # linear power (0..1) would have a positive "median"
    vv = np.nanmedian(cube["data"].sel(band="VV").values)
    vh = np.nanmedian(cube["data"].sel(band="VH").values)
    assert vh < vv - 3  # cross-pol is several dB weaker
    coh = cube["data"].sel(band="COH").values
    assert np.nanmin(coh) >= 0 and np.nanmax(coh) <= 1


def test_elevation_matches_the_simulated_terrain(cube: xr.Dataset, region: Region, unit: WorkUnit,
                                                sample_region: Any) -> None:
    x, y = unit_coords(unit)
    truth = sample_region(region.terrain.elevation, x, y)
    elev = cube["data"].sel(year=2021, band="ELEV").values
    both = np.isfinite(truth) & np.isfinite(elev)
    assert both.sum() > 5000
    lo, hi = float(region.terrain.elevation.min()), float(region.terrain.elevation.max())
    assert lo - 1 <= np.nanmin(elev) and np.nanmax(elev) <= hi + 1
    # a 30 m DEM resampled to 20 m follows the terrain to within tens of metres on average
    assert np.median(np.abs(elev[both] - truth[both])) < 30
    assert np.corrcoef(elev[both], truth[both])[0, 1] > 0.99
    np.testing.assert_array_equal(cube["data"].sel(year=2021, band="ELEV").values,
                                  cube["data"].sel(year=2022, band="ELEV").values)  # the DEM is static
    slope = cube["data"].sel(year=2021, band="SLOPE").values
    assert np.nanmin(slope) >= 0 and np.nanmax(slope) < 90


def test_missing_s1_gives_nan_bands_and_a_flag(provider: Provider, unit: WorkUnit, read_items: Any) -> None:
    s2 = [pystac.Item.from_dict(it) for it in read_items("sentinel-2-l2a")
          if it["properties"]["datetime"].startswith("2021")]
    dem = [pystac.Item.from_dict(it) for it in read_items("cop-dem-glo-30")]
    comp = build_year(provider, {"s2": s2, "s1": [], "dem": dem}, unit)
    assert comp.missing == {"s2": False, "s1": True, "landsat": True, "dem": False}
    assert comp.bands == BANDS == cube_bands(provider)
    assert comp.data.shape == (13, 128, 128) and comp.data.dtype == np.float32
    for band in ("VV", "VH", "COH"):
        assert np.isnan(comp.data[BANDS.index(band)]).all()
    assert np.isfinite(comp.data[BANDS.index("B03")]).mean() > 0.3
    assert np.isfinite(comp.data[BANDS.index("ELEV")]).mean() > 0.3
    assert comp.scenes["s1"] == []
    assert comp.clear_count.max() == 2


def test_missing_s1_and_dem(provider: Provider, unit: WorkUnit, read_items: Any) -> None:
    s2 = [pystac.Item.from_dict(it) for it in read_items("sentinel-2-l2a")[:1]]
    comp = build_year(provider, {"s2": s2}, unit)
    assert comp.missing == {"s2": False, "s1": True, "landsat": True, "dem": True}
    assert np.isnan(comp.data[6:]).all()
    assert np.isfinite(comp.data[:6]).any()


# --- the Zarr store ----------------------------------------------------------------------------------------


def chunk_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_write_then_open_roundtrip(cube: xr.Dataset, unit: WorkUnit, tmp_path: Path) -> None:
    import rioxarray  # noqa: F401  (the .rio accessor)

    store = str(tmp_path / "cubes")
    assert open_unit(store, unit) is None
    assert not complete_for(None, YEARS)
    url = write_unit(store, unit, cube)
    assert url == f"{store}/{unit.unit_id}.zarr"
    back = open_unit(store, unit)
    assert back is not None
    assert back.rio.crs.to_epsg() == 32632
    for coord in ("x", "y", "year"):
        np.testing.assert_array_equal(back[coord].values, cube[coord].values)
    assert list(back["band"].values) == BANDS
    assert list(back["sensor"].values) == ["dem", "landsat", "s1", "s2"]
    np.testing.assert_array_equal(back["data"].values, cube["data"].values)  # NaN positions included
    np.testing.assert_array_equal(back["missing"].values, cube["missing"].values)
    assert back.attrs["unit_id"] == unit.unit_id
    assert json.loads(back.attrs["scenes"]) == json.loads(cube.attrs["scenes"])
    assert complete_for(back, YEARS) and complete_for(back, [2022]) and not complete_for(back, [2021, 2023])


def test_writing_twice_gives_identical_bytes(cube: xr.Dataset, unit: WorkUnit, tmp_path: Path) -> None:
    first = Path(write_unit(str(tmp_path / "a"), unit, cube))
    before = chunk_bytes(first)
    Path(write_unit(str(tmp_path / "a"), unit, cube))  # overwrite in place
    again = chunk_bytes(first)
    other = chunk_bytes(Path(write_unit(str(tmp_path / "b"), unit, cube)))
    assert any("/c/" in k or k.startswith("data/c") for k in before)  # real chunk files were compared
    assert before == again == other


def test_aspect_points_downslope() -> None:
    from glacierscale.cube.assemble import terrain_layers

    y, x = np.mgrid[0:20, 0:20].astype(np.float64)
    north_facing = 1000 + 10.0 * y  # elevation grows southwards (row index): the slope faces north
    east_facing = 1000 - 10.0 * x
    slope, aspect = terrain_layers(north_facing, 10.0)
    assert np.allclose(slope[5:-5, 5:-5], 45.0) and np.allclose(aspect[5:-5, 5:-5] % 360, 0.0)
    _, aspect = terrain_layers(east_facing, 10.0)
    assert np.allclose(aspect[5:-5, 5:-5], 90.0)


def test_overlap_pads_the_cube_and_keeps_the_core(stac_url: str, provider: Provider, unit: WorkUnit,
                                                  cube: xr.Dataset) -> None:
    """A unit with a 16 px overlap reads a 160 px cube whose inner 128 px are the 0-overlap cube."""
    from dataclasses import replace

    padded_unit = replace(unit, overlap_px=16)
    padded, _ = build_unit(stac_url, provider, padded_unit, YEARS[:1], season=SEASON, max_cloud=80.0, max_scenes=4)
    assert padded["data"].shape == (1, 13, 160, 160)
    x, y = unit_coords(padded_unit)
    assert x[16] == cube["x"].values[0] and y[16] == cube["y"].values[0]
    core = padded["data"].values[0][:, padded_unit.core()[0], padded_unit.core()[1]]
    same = cube["data"].sel(year=YEARS[0]).values
    # the native 20 m bands are read identically; 10 m bands and SAR go through GDAL's 2x downsampling, whose
    # choice between full resolution and the COG overview depends on the read window: small differences only
    np.testing.assert_array_equal(core[4:6], same[4:6])
    assert np.array_equal(np.isnan(core[:8]), np.isnan(same[:8]))
    assert np.nanmedian(np.abs(core[:4] - same[:4])) < 0.002  # reflectance
    assert np.nanmedian(np.abs(core[6:8] - same[6:8])) < 0.3  # dB
    assert not complete_for(cube, YEARS[:1], padded_unit)  # a cube stored without overlap is rebuilt
    assert complete_for(padded, YEARS[:1], padded_unit)


@pytest.mark.parametrize("n_obs", [1, 2, 3, 4, 7, 12, 13])
def test_nan_median_equals_numpys(n_obs: int) -> None:
    """Composites are medians of the clear observations: the sorting network agrees with np.nanmedian."""
    import warnings

    from glacierscale.cube.assemble import nan_median

    rng = np.random.default_rng(n_obs)
    stack = rng.normal(size=(n_obs, 3, 64, 64)).astype(np.float32)
    stack[rng.random(stack.shape) < 0.4] = np.nan  # clouds: some pixels have no clear observation at all
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmedian(stack, axis=0)
    got = nan_median(stack)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)  # NaN exactly where every observation is NaN
