"""A glacier over several tiles and two UTM zones: one polygon per year, areas as on the ellipsoid."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod, Transformer

from glacierscale.archive.export import outlines
from glacierscale.archive.query import open_archive
from glacierscale.archive.run import open_run
from glacierscale.archive.staging import RunPlan
from glacierscale.infer.actors import TileResult
from glacierscale.inventory.units import plan_units
from glacierscale.reduce.areas import unit_transform
from glacierscale.reduce.tasks import reduce_item

GEOD = Geod(ellps="WGS84")


def _glacier(year: int) -> shapely.Geometry:
    """An oval glacier centred on 12°E (the UTM 32/33 line) at 47°N, 3 × 4 km, losing 100 m of rim a year,
    with a nunatak of 230 m radius 750 m west of the zone line."""
    oval = shapely.affinity.scale(shapely.Point(12.0, 47.0).buffer(0.02, 64), 1.0, 0.9)
    nunatak = shapely.affinity.scale(shapely.Point(11.99, 47.0).buffer(0.003, 32), 1.0, 0.68)
    return oval.buffer(-0.0013 * (year - 2021), 64).difference(nunatak)  # ≈ 100 m a year in latitude


def _classes(unit, geom: shapely.Geometry) -> np.ndarray:
    from rasterio import features

    tf = Transformer.from_crs("EPSG:4326", f"EPSG:{unit.epsg}", always_xy=True)
    local = shapely.transform(shapely.segmentize(geom, 0.0005), lambda xy: np.column_stack(tf.transform(*xy.T)))
    return features.rasterize([(local, 1)], out_shape=(unit.size_px, unit.size_px), transform=unit_transform(unit),
                              dtype="uint8")


def _publish(tmp: Path, gid: str, outline: Callable[[int], shapely.Geometry], lon: float, lat: float,
             region: str) -> tuple[str, list]:
    """Map one glacier (its truth ``outline`` per year) over every tile it touches, 2021 and 2022, and publish."""
    inventory = gpd.GeoDataFrame({"glacier_id": [gid]}, geometry=[outline(2021)], crs=4326)
    units = plan_units(inventory, 20.0, 128, 0.0, overlap_px=0)
    glaciers = pd.DataFrame({"glacier_id": [gid], "rgi_id": [""], "glims_id": [""], "lon": [lon], "lat": [lat],
                             "region": [region], "terminus_type": ["land"]})
    writer = open_run(str(tmp / "archive"), "s1", RunPlan("s1", units, [2021, 2022], glaciers),
                      staging=str(tmp / "staging"))
    items = []
    for year in (2021, 2022):
        for unit in units:
            classes = _classes(unit, outline(year))
            tile = TileResult(unit.unit_id, year, classes, np.where(classes == 1, 97, 2).astype(np.uint8), 0.0)
            items.append(writer.stage(reduce_item(unit, tile, inventory, input_hash=f"{unit.unit_id}{year}",
                                                  model_hash="m", scenes={}, max_distance_m=100.0,
                                                  min_object_km2=0.01)))
    writer.checkpoint(items)
    writer.publish({})
    return str(tmp / "archive"), units


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list]:
    return _publish(tmp_path_factory.mktemp("stitch"), "X1", _glacier, 12.0, 47.0, "11")


def test_the_glacier_spans_several_tiles_of_two_zones(archive) -> None:
    _, units = archive
    assert {u.epsg for u in units} == {32632, 32633} and len(units) >= 4


def test_its_area_is_the_ellipsoidal_area_within_a_fifth_of_a_percent(archive) -> None:
    table = open_archive(archive[0]).table().set_index("year")
    for year in (2021, 2022):
        truth = abs(GEOD.geometry_area_perimeter(_glacier(year))[0]) / 1e6
        assert table.loc[year, "area_km2"] == pytest.approx(truth, rel=0.002), year  # +0.07 %, −0.00 %
    assert table.loc[2022, "area_km2"] < table.loc[2021, "area_km2"]


def test_one_polygon_per_year_whose_ellipsoidal_area_matches_the_table(archive) -> None:
    a = open_archive(archive[0])
    gdf = outlines(a)
    assert len(gdf) == 2 and sorted(gdf["year"]) == [2021, 2022]
    for row in gdf.itertuples():
        assert row.geometry.geom_type == "Polygon", (row.year, row.geometry.geom_type)
        assert len(row.geometry.interiors) == 1  # the nunatak; no slivers left along the tile and zone seams
        area = abs(GEOD.geometry_area_perimeter(row.geometry)[0]) / 1e6
        assert area == pytest.approx(row.observed_area_km2, rel=0.002)  # −0.01 %, +0.004 %


def _across_180(year: int) -> shapely.Geometry:
    """An oval glacier of 3.6 × 2.2 km centred on the antimeridian at 66° N, split at 180° as inventories
    store it (a MultiPolygon with one part either side), losing ≈ 100 m of rim a year."""
    oval = shapely.affinity.scale(shapely.Point(180.0, 66.0).buffer(0.04, 64), 1.0, 0.25)
    oval = oval.buffer(-0.0009 * (year - 2021), 64)
    east = shapely.affinity.translate(shapely.clip_by_rect(oval, 180, -90, 360, 90), -360)
    return shapely.MultiPolygon([shapely.clip_by_rect(oval, 0, -90, 180, 90), east])


@pytest.fixture(scope="module")
def antimeridian(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list]:
    return _publish(tmp_path_factory.mktemp("antimeridian"), "AM1", _across_180, 180.0, 66.0, "10")


def test_a_glacier_across_the_antimeridian_has_its_ellipsoidal_area(antimeridian) -> None:
    path, units = antimeridian
    assert {u.epsg for u in units} == {32601, 32660}
    table = open_archive(path).table().set_index("year")
    for year in (2021, 2022):
        truth = abs(GEOD.geometry_area_perimeter(_across_180(year))[0]) / 1e6
        assert table.loc[year, "area_km2"] == pytest.approx(truth, rel=0.005), year


def test_its_outline_is_one_feature_split_at_the_antimeridian(antimeridian) -> None:
    """GeoJSON (RFC 7946 §3.1.9) and GIS tools want an object crossing 180° cut there into a MultiPolygon."""
    gdf = outlines(open_archive(antimeridian[0]))
    assert len(gdf) == 2
    for row in gdf.itertuples():
        geom = row.geometry
        assert geom.geom_type == "MultiPolygon" and len(geom.geoms) == 2, (row.year, geom.geom_type)
        west, east = sorted(geom.geoms, key=lambda p: p.bounds[0])
        assert west.bounds[0] == pytest.approx(-180.0) and west.bounds[2] < -179.9  # the part east of 180°
        assert east.bounds[2] == pytest.approx(180.0) and east.bounds[0] > 179.9
        area = abs(GEOD.geometry_area_perimeter(geom)[0]) / 1e6
        assert area == pytest.approx(row.observed_area_km2, rel=0.01)


def _across_72n(year: int) -> shapely.Geometry:
    """An oval glacier of ≈ 3.4 × 4 km centred on 72° N (the UTM / polar-stereographic line) at 25° E, losing
    ≈ 100 m of rim a year."""
    oval = shapely.affinity.scale(shapely.Point(25.0, 72.0).buffer(0.02, 64), 2.2, 0.9)
    return oval.buffer(-0.0009 * (year - 2021), 64)


@pytest.fixture(scope="module")
def polar_line(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list]:
    return _publish(tmp_path_factory.mktemp("polar"), "P1", _across_72n, 25.0, 72.0, "07")


def test_a_glacier_across_the_utm_polar_line_has_its_ellipsoidal_area(polar_line) -> None:
    path, units = polar_line
    assert {u.epsg for u in units} == {32635, 3413}
    table = open_archive(path).table().set_index("year")
    for year in (2021, 2022):
        truth = abs(GEOD.geometry_area_perimeter(_across_72n(year))[0]) / 1e6
        assert table.loc[year, "area_km2"] == pytest.approx(truth, rel=0.002), year  # −0.00 %, −0.02 %
    assert table.loc[2022, "area_km2"] < table.loc[2021, "area_km2"]


def test_its_outline_is_one_polygon_across_the_polar_line(polar_line) -> None:
    gdf = outlines(open_archive(polar_line[0]))
    assert len(gdf) == 2
    for row in gdf.itertuples():
        assert row.geometry.geom_type == "Polygon", (row.year, row.geometry.geom_type)
        assert len(row.geometry.interiors) == 0  # no slivers along the seam between the two projections
        assert row.geometry.bounds[1] < 72.0 < row.geometry.bounds[3]
        area = abs(GEOD.geometry_area_perimeter(row.geometry)[0]) / 1e6
        assert area == pytest.approx(row.observed_area_km2, rel=0.002)  # −0.02 %
