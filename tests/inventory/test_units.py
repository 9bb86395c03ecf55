"""Inventory reading (errors name the file) and work units on the fixed per-CRS grid."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import box
from shapely.ops import unary_union

from glacierscale.errors import InputError
from glacierscale.inventory.units import WorkUnit, plan_units, read_inventory, utm_epsg_of
from glacierscale.simulate import SceneSet


def expect_input_error(path: Path, what: str) -> None:
    with pytest.raises(InputError, match=re.escape(f"inventory {path} {what}")):
        read_inventory(path)


# --- read_inventory --------------------------------------------------------------------------------------


def test_reads_the_simulated_inventory(scene_set: SceneSet) -> None:
    inv = read_inventory(scene_set.inventory)
    assert len(inv) == 4
    assert inv["glacier_id"].tolist() == sorted(inv["glacier_id"])
    assert inv["glacier_id"].map(type).eq(str).all()
    assert inv.geometry.is_valid.all()


def test_missing_file(tmp_path: Path) -> None:
    expect_input_error(tmp_path / "rgi.gpkg", "does not exist")


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "rgi.gpkg"
    path.write_bytes(b"")
    expect_input_error(path, "is not a readable vector file")


def test_layer_without_features(tmp_path: Path) -> None:
    path = tmp_path / "empty.gpkg"
    gpd.GeoDataFrame({"glacier_id": []}, geometry=[], crs="EPSG:4326").to_file(path)
    expect_input_error(path, "holds no outlines")


def test_file_without_id_column(tmp_path: Path) -> None:
    path = tmp_path / "noid.gpkg"
    gpd.GeoDataFrame({"name": ["Hintereisferner"]}, geometry=[box(10.7, 46.7, 10.8, 46.8)],
                     crs="EPSG:4326").to_file(path)
    with pytest.raises(InputError, match=re.escape(f"inventory {path} has no glacier id column")) as info:
        read_inventory(path)
    assert "glacier_id" in str(info.value) and "RGIId" in str(info.value)


def test_raster_is_not_a_vector_file(scene_set: SceneSet) -> None:
    expect_input_error(scene_set.root / "truth" / "truth_classes_2021.tif", "is not a readable vector file")


def test_random_bytes_are_not_a_vector_file(tmp_path: Path) -> None:
    path = tmp_path / "rgi.shp"
    path.write_bytes(bytes(range(256)) * 4)
    expect_input_error(path, "is not a readable vector file")


@pytest.mark.filterwarnings("ignore:.crs. was not provided:UserWarning")
def test_file_without_crs(tmp_path: Path) -> None:
    path = tmp_path / "nocrs.shp"
    gpd.GeoDataFrame({"glacier_id": ["G1"]}, geometry=[box(10.7, 46.7, 10.8, 46.8)]).to_file(path)
    expect_input_error(path, "has no CRS")


@pytest.mark.parametrize("column", ["rgi_id", "RGIId", "glac_id"])
def test_rgi_id_columns_are_renamed(tmp_path: Path, column: str) -> None:
    path = tmp_path / "rgi.gpkg"
    gpd.GeoDataFrame({column: [7]}, geometry=[box(10.7, 46.7, 10.8, 46.8)], crs="EPSG:4326").to_file(path)
    inv = read_inventory(path)
    assert inv["glacier_id"].tolist() == ["7"]


def test_table_without_geometry_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "rgi.csv"
    path.write_text("glacier_id,area_km2\nG1,1.5\n")
    expect_input_error(path, "is not a readable vector file: it is a table without a geometry column")


# --- plan_units --------------------------------------------------------------------------------------------


def test_units_cover_every_glacier(scene_set: SceneSet) -> None:
    inv = read_inventory(scene_set.inventory)
    units = plan_units(inv, 20.0, 128, 0.0)
    assert units
    epsg = utm_epsg_of(inv)
    assert epsg == scene_set.epsg == 32632
    listed = {gid for u in units for gid in u.glacier_ids}
    assert listed == set(inv["glacier_id"])
    # every glacier lies entirely inside the tiles that list it
    proj = inv.to_crs(epsg).set_index("glacier_id").geometry
    for gid, geom in proj.items():
        tiles = unary_union([box(*u.bounds) for u in units if gid in u.glacier_ids])
        assert tiles.buffer(1e-6).contains(geom), gid
    # and no tile is planned for nothing
    for u in units:
        assert u.glacier_ids
        assert any(box(*u.bounds).intersects(proj[g]) for g in u.glacier_ids)


def test_unit_grid_geometry(scene_set: SceneSet) -> None:
    units = plan_units(read_inventory(scene_set.inventory), 20.0, 128, 0.0)
    span = 20.0 * 128
    for u in units:
        minx, miny, maxx, maxy = u.bounds
        assert (maxx - minx, maxy - miny) == (span, span)
        assert minx % span == 0 and miny % span == 0  # tiles snap to the fixed grid, origin 0, 0
        assert u.unit_id == f"32632_20m_128_{u.col}_{u.row}"
        w, s, e, n = u.bbox_wgs84()
        assert 10.7 < w < e < 10.9 and 46.7 < s < n < 46.9
    assert len({u.unit_id for u in units}) == len(units)


def test_unit_ids_are_stable(scene_set: SceneSet) -> None:
    first = plan_units(read_inventory(scene_set.inventory), 20.0, 128, 0.0)
    second = plan_units(read_inventory(scene_set.inventory), 20.0, 128, 0.0)
    assert first == second
    # the order of the inventory rows does not matter either
    shuffled = read_inventory(scene_set.inventory).sample(frac=1.0, random_state=1)
    assert plan_units(shuffled, 20.0, 128, 0.0) == first


def test_a_margin_adds_units_but_keeps_the_others(scene_set: SceneSet) -> None:
    inv = read_inventory(scene_set.inventory)
    tight = {u.unit_id for u in plan_units(inv, 20.0, 128, 0.0)}
    wide = plan_units(inv, 20.0, 128, 2000.0)
    assert tight <= {u.unit_id for u in wide}
    assert len(wide) > len(tight)


def test_bounds_of_a_unit() -> None:
    u = WorkUnit("u", 32632, 3, -2, 10.0, 100, ("G",))
    assert u.bounds == (3000.0, -2000.0, 4000.0, -1000.0)


def test_southern_hemisphere_inventory_gets_a_south_utm_zone() -> None:
    inv = gpd.GeoDataFrame({"glacier_id": ["A"]}, geometry=[box(-70.05, -33.05, -70.0, -33.0)], crs="EPSG:4326")
    assert utm_epsg_of(inv) == 32719
    (unit,) = plan_units(inv, 20.0, 512, 0.0)
    assert unit.epsg == 32719 and unit.unit_id.startswith("32719_20m_512_")
