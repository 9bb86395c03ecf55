"""CRS per tile (UTM, polar stereographic), zone lines and the antimeridian, with constructed outlines."""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from glacierscale.inventory.grid import crs_kind, to_lonlat, zone_bounds, zone_epsg
from glacierscale.inventory.units import WorkUnit, plan_units


def outline(lon: float, lat: float, width_km: float, height_km: float) -> Polygon:
    """Return an irregular octagon-like glacier centred at (lon, lat), in lon/lat (lon may pass 180)."""
    angles = np.linspace(0, 2 * np.pi, 13)[:-1]
    wobble = 1 + 0.15 * np.sin(3 * angles)
    dx = width_km / 2 * wobble * np.cos(angles) / (111.32 * np.cos(np.radians(lat)))
    dy = height_km / 2 * wobble * np.sin(angles) / 110.57
    return Polygon(np.column_stack([lon + dx, lat + dy]))


def inventory(*geoms: shapely.Geometry, crs: int | str = 4326) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"glacier_id": [f"G{i}" for i in range(len(geoms))]}, geometry=list(geoms), crs=crs)


def rewrap(geom: shapely.Geometry) -> shapely.Geometry:
    """Longitudes past 180 back to -180..180 (what a lon/lat file without care holds)."""
    return shapely.transform(geom, lambda xy: np.where(xy[:, :1] > 180, xy - np.array([360.0, 0.0]), xy))


def cut_at_180(geom: shapely.Geometry) -> MultiPolygon:
    """The RFC 7946 form: parts on both sides of the antimeridian, all within -180..180."""
    west = shapely.intersection(geom, box(0, -90, 180, 90))
    east = shapely.transform(shapely.intersection(geom, box(180, -90, 360, 90)), lambda xy: xy - np.array([360.0, 0.0]))
    return MultiPolygon([west, east])


def zone_area_sum(glacier: shapely.Geometry, units: list[WorkUnit], project: Callable[..., shapely.Geometry]) -> float:
    """Return km² of the glacier summed over units, each counting only its core tile within its CRS zone."""
    total = 0.0
    for u in units:
        w, s, e, n = u.zone_wgs84()
        zone = shapely.union_all([box(w + k, s, e + k, n) for k in (0.0, 360.0)])  # unwrapped frame
        part = shapely.intersection(glacier, zone)
        if not part.is_empty:
            total += project(shapely.segmentize(part, 0.001), u).intersection(box(*u.bounds)).area / 1e6
    return total


CHUKOTKA = outline(180.05, 65.65, 30.0, 8.0)  # straddles the antimeridian (RGI region 10, East Chukotka)


@pytest.mark.parametrize("form", ["unwrapped", "wrapped", "rfc7946", "utm60"])
def test_antimeridian_glacier_is_tiled_in_both_zones_and_fully_covered(
        form: str, uncovered_points: Callable[..., np.ndarray], in_unit_crs: Callable[..., shapely.Geometry]) -> None:
    geom = {"unwrapped": CHUKOTKA, "wrapped": rewrap(CHUKOTKA), "rfc7946": cut_at_180(CHUKOTKA)}.get(form)
    inv = inventory(geom) if geom is not None else inventory(CHUKOTKA).to_crs(32660)
    units = plan_units(inv, 10.0, 1024, 0.0)
    assert {u.epsg for u in units} == {32660, 32601}
    assert len(units) == 9
    assert all(u.glacier_ids == ("G0",) for u in units)
    glacier = to_lonlat(inv).geometry.iloc[0]
    assert glacier.bounds[0] < 180 < glacier.bounds[2]  # one compact shape, whatever the input form
    assert len(uncovered_points(glacier, units)) == 0
    # each part is counted once: per-zone areas over all tiles add up to the glacier's area
    area = to_lonlat(inv)["outline_km2"].iloc[0]
    assert zone_area_sum(glacier, units, in_unit_crs) == pytest.approx(area, rel=2e-3)
    straddling = [u for u in units if u.bbox_wgs84()[0] > u.bbox_wgs84()[2]]
    assert straddling  # tiles on the antimeridian report W > E
    assert sorted(u.unit_id for u in units)[:2] == ["32601_10m_1024_35_710", "32601_10m_1024_35_711"]


def test_tile_crs_is_the_zone_of_its_centre_unless_it_straddles_the_line() -> None:
    units = plan_units(inventory(CHUKOTKA, outline(12.0, 47.0, 25.0, 6.0)), 10.0, 1024, 1000.0)
    assert {u.epsg for u in units} == {32601, 32660, 32632, 32633}
    for u in units:
        w, _, e, _ = u.bbox_wgs84()
        centre = shapely.box(*u.bounds).centroid
        lon, lat = gpd.GeoSeries([centre], crs=u.epsg).to_crs(4326).iloc[0].coords[0]
        zw, _, ze, _ = u.zone_wgs84()
        straddles = (w > e) or w < zw < e or w < ze < e
        assert zone_epsg(lon, lat) == u.epsg or straddles, u.unit_id


def test_glacier_above_72n_is_planned_in_polar_stereographic(uncovered_points: Callable[..., np.ndarray]) -> None:
    svalbard = outline(12.4, 78.85, 25.0, 12.0)  # Kongsvegen area
    units = plan_units(inventory(svalbard), 10.0, 1024, 1000.0)
    assert {u.epsg for u in units} == {3413}
    assert {u.crs_kind for u in units} == {"polar-north"}
    assert len(uncovered_points(svalbard, units)) == 0
    assert all(u.hemisphere == "north" for u in units)


def test_glacier_across_72n_is_cut_between_utm_and_polar(uncovered_points: Callable[..., np.ndarray],
                                                         in_unit_crs: Callable[..., shapely.Geometry]) -> None:
    greenland = outline(-24.5, 72.0, 12.0, 30.0)  # Greenland periphery, crosses 72°N
    inv = inventory(greenland)
    units = plan_units(inv, 10.0, 1024, 0.0)
    assert {u.epsg for u in units} == {32626, 3413}
    assert len(uncovered_points(greenland, units)) == 0
    area = to_lonlat(inv)["outline_km2"].iloc[0]
    assert zone_area_sum(greenland, units, in_unit_crs) == pytest.approx(area, rel=1e-2)


@pytest.mark.parametrize(("lon", "lat", "epsg"), [
    (-58.9, -62.1, 3031),  # King George Island, South Shetlands
    (-36.5, -54.3, 32724),  # South Georgia: subantarctic but north of 60°S
    (-45.5, -60.0, None),  # South Orkneys, across 60°S
    (-77.95, 0.0, None),  # Cayambe, across the equator
    (170.2, -43.5, 32759),  # New Zealand
])
def test_southern_and_equatorial_glaciers(lon: float, lat: float, epsg: int | None,
                                          uncovered_points: Callable[..., np.ndarray]) -> None:
    geom = outline(lon, lat, 8.0, 8.0)
    units = plan_units(inventory(geom), 10.0, 1024, 1000.0)
    expected = {epsg} if epsg else {zone_epsg(lon, lat - 0.01), zone_epsg(lon, lat + 0.01)}
    assert {u.epsg for u in units} == expected
    assert len(expected) == 2 or epsg is not None
    assert len(uncovered_points(geom, units)) == 0


@pytest.mark.parametrize(("lon", "lat", "epsg"), [
    (10.75, 46.8, 32632), (-19.5, 63.6, 32627), (86.9, 27.98, 32645), (15.0, 78.9, 3413), (-40.0, 71.99, 32624),
    (-40.0, 72.0, 3413), (-58.5, -62.1, 3031), (-70.0, -60.0, 32719), (-70.0, -60.01, 3031), (170.2, -43.5, 32759),
    (179.99, 65.0, 32660), (180.0, 65.0, 32601), (-180.0, 65.0, 32601), (-77.99, 0.0, 32618), (-77.99, -0.01, 32718),
    (-78.01, 0.0, 32617),
])
def test_zone_rule(lon: float, lat: float, epsg: int) -> None:
    assert zone_epsg(lon, lat) == epsg
    w, s, e, n = zone_bounds(epsg)
    assert w <= ((lon + 180) % 360) - 180 <= e or crs_kind(epsg) != "utm"
    assert s <= lat <= n


def test_zone_bounds_and_kinds() -> None:
    assert zone_bounds(32632) == (6.0, 0.0, 12.0, 72.0)
    assert zone_bounds(32759) == (168.0, -60.0, 174.0, 0.0)
    assert zone_bounds(3413) == (-180.0, 72.0, 180.0, 90.0)
    assert zone_bounds(3031) == (-180.0, -90.0, 180.0, -60.0)
    assert [crs_kind(e) for e in (32601, 32760, 3413, 3031, 2056)] == ["utm", "utm", "polar-north", "polar-south", "custom"]


def test_inventory_across_many_zones_is_deterministic() -> None:
    geoms = [outline(lon, lat, 6.0, 4.0) for lon, lat in [(10.8, 46.8), (86.9, 28.0), (-19.5, 63.6), (15.0, 78.9),
                                                            (-70.0, -33.0), (180.0, 65.0)]]
    inv = inventory(*geoms)
    units = plan_units(inv, 10.0, 1024, 1000.0)
    assert len({u.epsg for u in units}) == 7  # 6 places, the antimeridian one in two zones
    assert units == plan_units(inv.iloc[::-1], 10.0, 1024, 1000.0)
    assert [(u.epsg, u.col, u.row) for u in units] == sorted((u.epsg, u.col, u.row) for u in units)


def test_fixed_crs_and_overlap() -> None:
    inv = inventory(outline(10.75, 46.8, 6.0, 4.0), outline(12.05, 47.0, 6.0, 4.0))
    units = plan_units(inv, 20.0, 512, 0.0, epsg=32632, overlap_px=16)
    assert {u.epsg for u in units} == {32632}
    u = units[0]
    assert u.overlap_px == 16
    minx, miny, maxx, maxy = u.bounds
    assert u.padded_bounds() == (minx - 320.0, miny - 320.0, maxx + 320.0, maxy + 320.0)
    assert WorkUnit("x", 32632, 0, 0, 10.0, 100, ()).padded_bounds() == (0.0, 0.0, 1000.0, 1000.0)  # default 0
