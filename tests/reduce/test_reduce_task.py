"""The reduce stage of a run item: per-glacier ice, outline, observed share, perimeter and polygons."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely import wkb
from shapely.geometry import box

from glacierscale.infer.actors import TileResult
from glacierscale.inventory.units import WorkUnit
from glacierscale.reduce.tasks import reduce_item

# a pixel's ground area is resolution² / the CRS's areal scale (reduce.areas.pixel_areas_km2): in UTM within 0.2 %
GROUND = 2e-3

# a 64 px × 20 m tile of UTM 32N (x 384000-385280 m, y 5120000-5121280 m, about 10.5°E 46.2°N)
UNIT = WorkUnit("32632_20m_64_300_4000", 32632, 300, 4000, 20.0, 64, ("A", "B"), overlap_px=4)
X0, Y0 = 384000.0, 5120000.0


def _glaciers() -> gpd.GeoDataFrame:
    # A: 20 × 20 px square at the west; B: 10 × 10 px square at the east
    a = box(X0 + 100, Y0 + 100, X0 + 500, Y0 + 500)
    b = box(X0 + 900, Y0 + 900, X0 + 1100, Y0 + 1100)
    return gpd.GeoDataFrame({"glacier_id": ["A", "B"]}, geometry=[a, b], crs=32632)


def _tile(cloud_over_a: bool) -> TileResult:
    n = UNIT.read_size_px
    classes = np.zeros((n, n), dtype=np.uint8)
    o = UNIT.overlap_px
    # rows count from the north: y = Y0 + 1280 - 20 * (row - o)
    def rows(y_lo: float, y_hi: float) -> slice:
        return slice(o + int((Y0 + 1280 - y_hi) / 20), o + int((Y0 + 1280 - y_lo) / 20))

    def cols(x_lo: float, x_hi: float) -> slice:
        return slice(o + int((x_lo - X0) / 20), o + int((x_hi - X0) / 20))

    classes[rows(Y0 + 100, Y0 + 500), cols(X0 + 100, X0 + 500)] = 1
    classes[rows(Y0 + 100, Y0 + 300), cols(X0 + 100, X0 + 500)] = 2  # the southern half debris-covered
    classes[rows(Y0 + 900, Y0 + 1100), cols(X0 + 900, X0 + 1100)] = 1
    if cloud_over_a:
        classes[rows(Y0 + 300, Y0 + 500), cols(X0 + 100, X0 + 500)] = 255  # the northern half unobserved
    prob = np.where(classes == 255, 255, np.where(classes > 0, 90, 10)).astype(np.uint8)
    return TileResult(UNIT.unit_id, 2021, classes, prob, 0.1, {"s2": False, "s1": True})


def test_parts_count_observed_ice_and_the_unobserved_outline() -> None:
    p = reduce_item(UNIT, _tile(cloud_over_a=True), _glaciers(), input_hash="i", model_hash="m", scenes={"s2": ["x"]},
                    max_distance_m=100.0, min_object_km2=0.0)
    assert p.status == "done" and p.classes is not None and p.classes.shape == (64, 64)
    assert p.sensors == ("s2",)
    parts = {g.glacier_id: g for g in p.parts}
    a, b = parts["A"], parts["B"]
    assert a.outline_km2 == pytest.approx(0.16, rel=GROUND) and b.outline_km2 == pytest.approx(0.04, rel=GROUND)
    assert a.observed_km2 == pytest.approx(0.08, rel=GROUND)  # half of A under cloud: counted, not called rock
    assert a.area_km2 == pytest.approx(0.08, rel=GROUND) and a.debris_km2 == pytest.approx(0.08, rel=GROUND)
    assert b.area_km2 == pytest.approx(0.04, rel=GROUND) and b.observed_km2 == pytest.approx(0.04, rel=GROUND)
    assert b.perimeter_km == pytest.approx(0.8)  # a 200 m square
    assert wkb.loads(b.outline_wkb).area == pytest.approx(40_000.0)
    # calibrated probabilities summed over the attribution zone (B grown by 100 m: 0.144 km², 10 % each outside B)
    assert b.soft_area_km2 == pytest.approx(0.04 * 0.9 + 0.1 * (0.144 - 0.04), rel=0.02)
    assert p.nodata_share == pytest.approx(200 / 4096)


def test_a_cloud_mapped_from_sar_is_observed_and_counted_as_radar() -> None:
    """The run maps under clouds: A's clouded northern half is read from SAR + DEM, not left unobserved."""
    import dataclasses

    tile = _tile(cloud_over_a=False)
    radar = np.zeros(tile.classes.shape, dtype=bool)
    cloud = _tile(cloud_over_a=True).classes == 255
    radar[cloud] = True
    p = reduce_item(UNIT, dataclasses.replace(tile, radar_only=radar), _glaciers(), input_hash="i", model_hash="m",
                    scenes={"s2": ["x"]}, max_distance_m=100.0, min_object_km2=0.0)
    parts = {g.glacier_id: g for g in p.parts}
    a, b = parts["A"], parts["B"]
    assert a.observed_km2 == pytest.approx(0.16, rel=GROUND) and a.area_km2 == pytest.approx(0.16, rel=GROUND)
    assert a.radar_km2 == pytest.approx(0.08, rel=GROUND)  # half of A's outline rests on SAR alone
    assert b.radar_km2 == 0.0 and p.nodata_share == 0.0
    optical = reduce_item(UNIT, tile, _glaciers(), input_hash="i", model_hash="m", scenes={}, max_distance_m=100.0,
                          min_object_km2=0.0)
    assert all(g.radar_km2 == 0.0 for g in optical.parts)


def test_a_gap_stays_a_gap() -> None:
    tile = TileResult(UNIT.unit_id, 2021, None, None, 0.0, {"s2": True}, reason="no optical scene")
    p = reduce_item(UNIT, tile, _glaciers(), input_hash="i", model_hash="m", scenes={}, max_distance_m=100.0,
                    min_object_km2=0.01)
    assert p.status == "gap" and p.classes is None and p.parts == () and p.reason == "no optical scene"


def test_a_glacier_split_over_two_rows_with_one_id_is_one_part_with_both_areas() -> None:
    """Duplicate ids are dissolved: the two halves of A add up (no row wins over the other)."""
    halves = gpd.GeoDataFrame({"glacier_id": ["A", "A", "B"]},
                              geometry=[box(X0 + 100, Y0 + 100, X0 + 300, Y0 + 500),
                                        box(X0 + 300, Y0 + 100, X0 + 500, Y0 + 500),
                                        box(X0 + 900, Y0 + 900, X0 + 1100, Y0 + 1100)], crs=32632)
    p = reduce_item(UNIT, _tile(cloud_over_a=False), halves, input_hash="i", model_hash="m", scenes={},
                    max_distance_m=0.0, min_object_km2=0.0)
    assert [g.glacier_id for g in p.parts] == ["A", "B"]
    a = p.parts[0]
    assert a.area_km2 == pytest.approx(0.16, rel=GROUND) and a.outline_km2 == pytest.approx(0.16, rel=GROUND)
    assert a.perimeter_km == pytest.approx(1.6)  # one 400 m square, not two rectangles
