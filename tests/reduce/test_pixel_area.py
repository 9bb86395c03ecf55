"""Areas are true ground areas: the CRS's areal scale is taken out of every pixel (UTM and polar stereographic)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer

from glacierscale.inventory.units import WorkUnit
from glacierscale.reduce.areas import pixel_areas_km2, unit_areas


def _unit_at(epsg: int, lon: float, lat: float, size: int = 384, res: float = 20.0) -> WorkUnit:
    x, y = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True).transform(lon, lat)
    span = size * res
    return WorkUnit(f"{epsg}_t", epsg, int(np.floor(x / span)), int(np.floor(y / span)), res, size, ("G",))


def _geodesic_km2(unit: WorkUnit) -> float:
    box = shapely.segmentize(shapely.box(*unit.bounds), 50.0)
    tf = Transformer.from_crs(f"EPSG:{unit.epsg}", "EPSG:4326", always_xy=True)
    lonlat = shapely.transform(box, lambda xy: np.column_stack(tf.transform(xy[:, 0], xy[:, 1])))
    return abs(Geod(ellps="WGS84").geometry_area_perimeter(lonlat)[0]) / 1e6


@pytest.mark.parametrize(("epsg", "lon", "lat", "raw_error"), [
    (3031, -58.9, -62.2, 0.066),  # South Shetland Islands, Antarctic polar stereographic: 6.6 % too large
    (3031, 100.0, -85.0, -0.05),  # near the South Pole: 5 % too small
    (3413, -40.0, 81.0, -0.048),  # North Greenland, NSIDC north: 4.8 % too small
    (32632, 9.0, 46.8, -0.0008),  # the Alps on the UTM 32N central meridian: 0.08 % too small
])
def test_a_tile_of_ice_measures_its_geodesic_area(epsg: int, lon: float, lat: float, raw_error: float) -> None:
    unit = _unit_at(epsg, lon, lat)
    classes = np.ones((384, 384), np.uint8)
    labels = np.ones((384, 384), np.int32)
    got = unit_areas(unit, 2021, classes, labels, ["G"]).area_km2["G"]
    true = _geodesic_km2(unit)
    assert got == pytest.approx(true, rel=2e-4)  # within 0.02 % of the ellipsoidal area
    raw = 384 * 384 * 20.0**2 / 1e6  # what counting pixels × resolution² would give
    assert (raw - true) / true == pytest.approx(raw_error, abs=0.01 if abs(raw_error) > 0.01 else 0.0005)


def test_pixel_areas_are_cached_per_tile_and_cheap() -> None:
    unit = _unit_at(3031, -58.9, -62.2, size=512)
    t0 = time.perf_counter()
    first = pixel_areas_km2(unit)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = pixel_areas_km2(unit)
    assert again is first and time.perf_counter() - t0 < 0.001 and cold < 0.5
    assert first.shape == (512, 512) and not first.flags.writeable
    assert 0.0003 < first.min() < first.max() < 0.0004  # 20 m pixels, scale ≈ 1.08 there
