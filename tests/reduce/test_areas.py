"""Reduce: attribution of pixels to inventory glaciers and per-glacier areas."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from glacierscale.inventory.units import WorkUnit
from glacierscale.reduce.areas import attribution_map, clean_classes, unit_areas, unit_transform


@pytest.fixture()
def unit() -> WorkUnit:
    # a 100 x 100 px unit at 20 m: x 0..2000 m, y 100000..102000 m in UTM 32N
    return WorkUnit("u", 32632, 0, 50, 20.0, 100, ("A", "B"))


@pytest.fixture()
def inventory(unit: WorkUnit) -> gpd.GeoDataFrame:
    minx, miny, _, _ = unit.bounds
    a = box(minx + 200, miny + 200, minx + 600, miny + 600)  # 20 x 20 px = 0.16 km²
    b = box(minx + 1200, miny + 1200, minx + 1600, miny + 1800)  # 20 x 30 px = 0.24 km²
    return gpd.GeoDataFrame({"glacier_id": ["A", "B"]}, geometry=[a, b], crs="EPSG:32632").to_crs("EPSG:4326")


def test_areas_of_exactly_mapped_glaciers(unit: WorkUnit, inventory: gpd.GeoDataFrame) -> None:
    labels, ids = attribution_map(unit, inventory, max_distance_m=0)
    classes = np.zeros((100, 100), dtype=np.uint8)
    classes[labels == 1] = 1
    classes[labels == 2] = 2  # glacier B entirely debris-covered
    res = unit_areas(unit, 2021, classes, labels, ids)
    assert res.area_km2["A"] == pytest.approx(0.16, rel=0.03)
    assert res.area_km2["B"] == pytest.approx(0.24, rel=0.03)
    assert res.debris_km2["A"] == 0
    assert res.debris_km2["B"] == pytest.approx(res.area_km2["B"])
    assert res.unattributed_km2 == 0


def test_pixels_near_an_outline_are_attributed_far_ones_are_not(unit: WorkUnit, inventory: gpd.GeoDataFrame) -> None:
    labels, ids = attribution_map(unit, inventory, max_distance_m=100)
    base, _ = attribution_map(unit, inventory, max_distance_m=0)
    classes = np.zeros((100, 100), dtype=np.uint8)
    classes[base == 1] = 1
    # an advance of 3 px (60 m) beyond A's outline, and an isolated snow field 20 px away from everything
    rows, cols = np.nonzero(base == 1)
    classes[rows.min():rows.max() + 1, cols.max() + 1:cols.max() + 4] = 1
    classes[5:10, 5:10] = 1
    res = unit_areas(unit, 2021, classes, labels, ids)
    assert res.area_km2["A"] == pytest.approx(0.16 + 20 * 3 * 400 / 1e6, rel=0.03)
    assert res.unattributed_km2 == pytest.approx(25 * 400 / 1e6)


def test_small_objects_are_removed_and_nodata_counted(unit: WorkUnit) -> None:
    classes = np.zeros((100, 100), dtype=np.uint8)
    classes[10:30, 10:30] = 1  # 400 px
    classes[50:52, 50:52] = 2  # 4 px speck
    classes[90:, 90:] = 255
    cleaned = clean_classes(classes, min_area_px=25)
    assert (cleaned[10:30, 10:30] == 1).all()
    assert (cleaned[50:52, 50:52] == 0).all()
    assert (cleaned == 255).sum() == 100
    assert unit_transform(unit).a == 20.0
