"""Reduce: attribution of pixels to inventory glaciers and per-glacier areas."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from glacierscale.inventory.units import WorkUnit
from glacierscale.reduce.areas import attribution_map, clean_classes, unit_areas, unit_transform

# a pixel's ground area is resolution² / the CRS's areal scale (reduce.areas.pixel_areas_km2): in UTM within 0.2 %
GROUND = 2e-3


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
    assert res.debris_km2["B"] == pytest.approx(res.area_km2["B"], rel=GROUND)
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
    assert res.unattributed_km2 == pytest.approx(25 * 400 / 1e6, rel=0.01)  # this unit lies 4.5° off the meridian


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


def _mapped_area(units: list[WorkUnit], inventory: gpd.GeoDataFrame, glacier: str) -> float:
    """Sum a glacier's area over units as the reducer does, with a perfect classification on every tile."""
    from glacierscale.reduce.areas import zone_mask

    total = 0.0
    for u in units:
        labels, ids = attribution_map(u, inventory, max_distance_m=0)
        classes = (labels > 0).astype(np.uint8)  # the map says "ice" exactly where the outline is
        total += unit_areas(u, 2021, classes, labels, ids, zone_mask(u)).area_km2.get(glacier, 0.0)
    return total


def test_a_glacier_across_four_tiles_is_stitched_to_its_area() -> None:
    from glacierscale.inventory.units import plan_units

    # 6 km x 4 km in UTM 32N, centred on a tile corner of the 2.56 km grid
    outline = box(2560 * 40 - 3000, 2560 * 2000 - 2000, 2560 * 40 + 3000, 2560 * 2000 + 2000)
    inv = gpd.GeoDataFrame({"glacier_id": ["X"]}, geometry=[outline], crs="EPSG:32632").to_crs("EPSG:4326")
    units = plan_units(inv, 20.0, 128, 0.0, overlap_px=8)
    assert len(units) >= 4
    assert _mapped_area(units, inv, "X") == pytest.approx(24.0, rel=0.005)


def test_a_glacier_across_a_utm_zone_line_is_counted_once() -> None:
    from glacierscale.inventory.units import plan_units

    # a 0.1° x 0.05° glacier across 12°E, the line between UTM zones 32 and 33 (Alps latitude)
    outline = box(11.95, 46.80, 12.05, 46.85)
    inv = gpd.GeoDataFrame({"glacier_id": ["Z"]}, geometry=[outline], crs="EPSG:4326")
    units = plan_units(inv, 20.0, 256, 0.0, overlap_px=0)
    assert {u.epsg for u in units} == {32632, 32633}
    true_km2 = float(inv.to_crs("EPSG:6933").area.iloc[0] / 1e6)  # equal-area
    assert _mapped_area(units, inv, "Z") == pytest.approx(true_km2, rel=0.01)
    # without the zone mask both zones' tiles would count the whole overlap of their grids: far too much
    doubled = 0.0
    for u in units:
        labels, ids = attribution_map(u, inv, max_distance_m=0)
        doubled += unit_areas(u, 2021, (labels > 0).astype(np.uint8), labels, ids).area_km2.get("Z", 0.0)
    assert doubled > 1.3 * true_km2


def test_zone_mask_is_none_inside_a_zone_and_cuts_at_the_line(unit: WorkUnit) -> None:
    from glacierscale.reduce.areas import zone_mask

    inside = WorkUnit("in", 32632, 250, 2600, 20.0, 100, ())  # near the central meridian 9°E at 47°N
    assert zone_mask(inside) is None
    # the tile holding 12°E at 46.8°N in the zone-32 grid: its eastern part lies in zone 33
    from pyproj import Transformer

    x, y = Transformer.from_crs(4326, 32632, always_xy=True).transform(12.0, 46.8)
    edge = WorkUnit("edge", 32632, int(x // 2000), int(y // 2000), 20.0, 100, ())
    mask = zone_mask(edge)
    assert mask is not None and 0 < mask.mean() < 1
    assert mask[:, 0].all() and not mask[:, -1].any()  # west edge in zone 32, east edge beyond 12°E


def test_attribution_rasterises_only_the_units_glaciers(unit: WorkUnit, inventory: gpd.GeoDataFrame) -> None:
    from dataclasses import replace

    labels, ids = attribution_map(replace(unit, glacier_ids=("A",)), inventory, max_distance_m=0)
    assert ids == ["A"]
    assert (labels == 1).sum() == 400 and labels.max() == 1  # glacier B is not burnt in


def test_the_buffer_reaches_an_outline_just_beyond_the_tile_edge() -> None:
    """A core pixel 60 m from an outline that lies in the overlap (the neighbouring tile) is that glacier's, as
    the neighbouring tile sees it: one rasterisation on the padded tile, one distance transform."""
    from glacierscale.reduce.areas import attribution_maps

    u = WorkUnit("u", 32632, 0, 50, 20.0, 100, ("C",), overlap_px=16)
    _, miny, maxx, _ = u.bounds
    # C ends 60 m east of the core tile's east edge (inside the 320 m overlap)
    c = box(maxx + 60, miny + 400, maxx + 300, miny + 800)
    inv = gpd.GeoDataFrame({"glacier_id": ["C"]}, geometry=[c], crs="EPSG:32632").to_crs("EPSG:4326")
    att = attribution_maps(u, inv, 100.0)
    assert att.ids == ["C"] and att.outlines.shape == att.reach.shape == (100, 100)
    assert att.padded_reach.shape == (132, 132)
    assert not att.outlines.any()  # no part of C's outline in the core
    cols = np.nonzero(att.reach == 1)[1]
    # centre to centre, column 99 is 80 m from C's first pixel column, column 98 100 m: beside C's 20 rows (400 m),
    # plus 3 rows either side for column 99 (√(80² + 60²) = 100 m)
    assert set(cols.tolist()) == {98, 99}
    assert (cols == 98).sum() == 20 and (cols == 99).sum() == 26
    # the same rasters as the one-map function gives, where both are defined
    core, _ = attribution_map(u, inv, 0.0)
    padded, _ = attribution_map(u, inv, 100.0, padded=True)
    assert (att.outlines == core).all() and (att.padded_reach == padded).all()
