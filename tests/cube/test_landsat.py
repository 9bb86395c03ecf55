"""A catalog simulated with Landsat gives the cube a surface-temperature band in kelvin on the unit grid."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr
from rasterio.warp import Resampling, reproject
from scipy import ndimage

from glacierscale.catalog.provider import load_provider
from glacierscale.cli import main
from glacierscale.cube.build import build_unit
from glacierscale.inventory.units import WorkUnit, plan_units, read_inventory

MELT_K = 273.15


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("landsat-cube") / "scenes"
    rc = main(["simulate", "--sensors", "s2,s1,landsat,dem", "--size", "256", "--years", "2022", "--seed", "3",
               "--out", str(out), "--quiet"])
    assert rc == 0
    return out


@pytest.fixture(scope="module")
def unit(scenes: Path) -> WorkUnit:
    units = plan_units(read_inventory(scenes / "inventory.gpkg"), 20, 128, 0, overlap_px=0)
    return max(units, key=lambda u: len(u.glacier_ids))


@pytest.fixture(scope="module")
def cube(scenes: Path, unit: WorkUnit) -> xr.Dataset:
    from glacierscale.catalog import LocalStacServer

    with LocalStacServer(scenes) as server:
        ds, _ = build_unit(server.url, load_provider("local"), unit, [2022], season=("07-15", "09-30"), max_cloud=80.0,
                           max_scenes=4)
    return ds


def on_unit(path: Path, unit: WorkUnit, shape: tuple[int, int]) -> np.ndarray:
    """Return a raster resampled (nearest) onto the unit grid."""
    left, _, _, top = unit.bounds
    out = np.full(shape, np.nan, dtype=np.float32)
    with rasterio.open(path) as src:
        reproject(src.read(1).astype(np.float32), out, src_transform=src.transform, src_crs=src.crs,
                  dst_transform=rasterio.Affine(unit.resolution, 0, left, 0, -unit.resolution, top),
                  dst_crs=f"EPSG:{unit.epsg}", resampling=Resampling.nearest, src_nodata=src.nodata, dst_nodata=np.nan)
    return out


def test_landsat_band_is_surface_temperature_in_kelvin(cube: xr.Dataset, scenes: Path, unit: WorkUnit) -> None:
    assert "LST" in list(cube["band"].values)
    assert not bool(cube["missing"].sel(sensor="landsat", year=2022))
    lst = cube["data"].sel(year=2022, band="LST").values
    assert lst.shape == (128, 128)
    finite = np.isfinite(lst)
    simulated = np.isfinite(cube["data"].sel(year=2022, band="ELEV").values)  # the unit reaches past the region
    assert finite[simulated].mean() > 0.6, "a clear-sky composite of the year's scenes covers most of it"
    # cloud-free land surface at a 10:00 overpass in the ablation season: 260-310 K (PHYSICS.md §4); no 149 K
    # (an undecoded DN 0) and no 258 K cloud tops (QA_PIXEL cloud bits are masked)
    assert np.nanmin(lst) > 260 and np.nanmax(lst) < 310
    classes = on_unit(scenes / "truth" / "truth_classes_2022_landsat.tif", unit, lst.shape)
    ice = ndimage.binary_erosion(classes == 1, iterations=6) & finite  # beyond the 100 m thermal footprint
    rock = ndimage.binary_erosion(classes == 0, iterations=6) & finite
    assert ice.sum() > 100 and rock.sum() > 100
    assert np.nanmax(lst[ice]) <= MELT_K, "melting ice is at most 273.15 K"
    assert np.median(lst[rock]) > np.median(lst[ice]) + 5


def test_landsat_band_matches_the_decoded_scene(cube: xr.Dataset, scenes: Path, unit: WorkUnit) -> None:
    """The cube holds DN × 0.00341802 + 149.0 of the clear scene pixels, resampled onto the unit grid."""
    lst = cube["data"].sel(year=2022, band="LST").values
    items = [json.loads(line) for line in (scenes / "landsat-c2-l2" / "items.ndjson").read_text().splitlines()]
    decoded = []
    for it in items:
        dn = on_unit(Path(it["assets"]["lwir11"]["href"]), unit, lst.shape)
        qa = on_unit(Path(it["assets"]["qa_pixel"]["href"]), unit, lst.shape)
        clear = np.isfinite(qa) & ((np.nan_to_num(qa).astype(np.int64) & 0b11010) == 0) & (dn > 0)
        decoded.append(np.where(clear, dn * 0.00341802 + 149.0, np.nan))
    with warnings.catch_warnings():  # pixels cloudy in every scene stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmedian(np.stack(decoded), axis=0)
    both = np.isfinite(expected) & np.isfinite(lst)
    assert both.sum() > 0.95 * np.isfinite(lst).sum() > 4000  # the same clear pixels (QA_PIXEL bits 1, 3, 4)
    # bilinear (cube) against nearest (here) on a 30 m → 20 m grid: equal within a kelvin at the median
    assert np.median(np.abs(lst[both] - expected[both])) < 1.0
