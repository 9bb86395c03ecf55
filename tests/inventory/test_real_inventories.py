"""Acceptance on real inventories: every glacier covered, no unit without a glacier, ids stable across runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from glacierscale.inventory.grid import to_lonlat
from glacierscale.inventory.units import WorkUnit, plan_units, read_inventory

# file, outlines, distinct glaciers, tiles at the default grid (10 m, 1024 px, 1 km margin), without margin, CRS
CASES = {
    "rgi6-hintereisferner": ("oggm-sample-data/hintereisferner/Hintereisferner_RGI6.shp", 1, 1, 2, 2, 32632),
    "rgi7-hef-complex": ("oggm-sample-data/hintereisferner/rgi7/rgi7g_hef_complex.shp", 23, 23, 6, 5, 32632),
    "rgi5-oetztal": ("oggm-sample-data/oetztal/rgi_oetztal.shp", 20, 20, 10, 8, 32632),
    "sgi2010-compound-crs": ("glamos-sgi/sgi2010/SGI_2010.shp", 1999, 1441, 147, 137, 32632),
    "rgi6-iceland-icecap": ("oggm-sample-data/iceland/RGI6_icecap.shp", 61, 61, 26, 22, 32627),
    "rgi6-everest": ("geoutils-data-everest/15_rgi60_glacier_outlines.gpkg", 86, 86, 17, 16, 32645),
}


@pytest.fixture(scope="module", params=list(CASES))
def case(request: pytest.FixtureRequest, real: Path) -> tuple[str, gpd.GeoDataFrame]:
    return request.param, read_inventory(real / CASES[request.param][0])


def test_inventory_is_read_with_ids(case: tuple[str, gpd.GeoDataFrame]) -> None:
    name, inv = case
    _, n_outlines, n_glaciers, *_ = CASES[name]
    assert len(inv) == n_outlines
    assert inv["glacier_id"].nunique() == n_glaciers
    assert inv.geometry.is_valid.all()


@pytest.mark.parametrize("margin_m", [1000.0, 0.0])
def test_every_glacier_is_covered_and_no_unit_is_empty(case: tuple[str, gpd.GeoDataFrame], margin_m: float,
                                                       uncovered_points: Callable[..., object],
                                                       in_unit_crs: Callable[..., shapely.Geometry]) -> None:
    name, inv = case
    *_, n_tiles, n_tiles_tight, epsg = CASES[name]
    units = plan_units(inv, 10.0, 1024, margin_m)
    assert len(units) == (n_tiles if margin_m else n_tiles_tight)
    assert {u.epsg for u in units} == {epsg}
    assert len({u.unit_id for u in units}) == len(units)
    outlines = to_lonlat(inv).dissolve("glacier_id").geometry  # multi-record glaciers (SGI) as one outline
    listing: dict[str, list[WorkUnit]] = {}
    for u in units:
        for gid in u.glacier_ids:
            listing.setdefault(gid, []).append(u)
    assert set(listing) == set(outlines.index)  # every glacier is in >= 1 unit
    for gid, geom in outlines.items():
        assert len(uncovered_points(geom, listing[gid])) == 0, gid  # ... and its whole outline is
    for u in units:  # no unit without ice (margin 0) or without a glacier within the margin
        tile = shapely.box(*u.bounds)
        near = [in_unit_crs(outlines[g], u).distance(tile) for g in u.glacier_ids]
        assert u.glacier_ids and min(near) <= margin_m + 1e-6, u.unit_id
        if margin_m == 0:
            assert max(in_unit_crs(outlines[g], u).intersection(tile).area for g in u.glacier_ids) > 0, u.unit_id


def test_ids_are_stable_across_runs_and_row_order(real: Path) -> None:
    path = real / CASES["sgi2010-compound-crs"][0]
    first = plan_units(read_inventory(path), 10.0, 1024, 1000.0)
    again = plan_units(read_inventory(path), 10.0, 1024, 1000.0)
    shuffled = plan_units(read_inventory(path).sample(frac=1.0, random_state=4), 10.0, 1024, 1000.0)
    assert first == again == shuffled
    # a unit's id does not depend on what else is planned: a subset lands on the same tiles
    subset = read_inventory(path).cx[2_640_000:2_660_000, 1_140_000:1_160_000]  # LV95 metres, Aletsch area
    assert 100 < len(subset) < 1999
    sub_ids = {u.unit_id for u in plan_units(subset, 10.0, 1024, 1000.0)}
    assert sub_ids <= {u.unit_id for u in first}


def test_pinned_ids_of_hintereisferner_in_rgi6_and_rgi7(real: Path) -> None:
    # the same 2003 outline in RGI 6.0 and RGI 7.0 addresses the same two tiles, today and in later releases
    expected = ["32632_10m_1024_61_506", "32632_10m_1024_62_506"]
    for path, gid in (("oggm-sample-data/hintereisferner/Hintereisferner_RGI6.shp", "RGI60-11.00897"),
                      ("oggm-sample-data/hintereisferner/rgi7/rgi7g_hef.shp", "RGI2000-v7.0-G-11-03116")):
        units = plan_units(read_inventory(real / path), 10.0, 1024, 1000.0)
        assert [u.unit_id for u in units] == expected
        assert all(u.glacier_ids == (gid,) for u in units)
        assert units[0].bounds == (624640.0, 5181440.0, 634880.0, 5191680.0)


def test_compound_crs_is_planned_from_lv95(real: Path) -> None:
    inv = read_inventory(real / CASES["sgi2010-compound-crs"][0])
    assert inv.crs.to_epsg() is None and inv.crs.sub_crs_list[0].to_epsg() == 2056
    outlines = to_lonlat(inv)
    # ellipsoidal areas agree with the inventory's own (LV95 planar) Shape_Area: 944.4 km² of Swiss ice in 2010
    assert outlines["outline_km2"].sum() == pytest.approx(inv["Shape_Area"].sum() / 1e6, rel=1e-3)
    assert outlines["outline_km2"].sum() == pytest.approx(944.4, abs=0.5)
    aletsch = outlines[outlines["glacier_id"] == "B36-26"]  # Grosser Aletschgletscher, two records
    assert aletsch["outline_km2"].sum() == pytest.approx(78.36, abs=0.05)
    units = [u for u in plan_units(inv, 10.0, 1024, 1000.0) if "B36-26" in u.glacier_ids]
    assert {u.epsg for u in units} == {32632} and len(units) == 7  # 23 km long and bent: 7 tiles of a 3 × 3 block
    w, s, e, n = aletsch.total_bounds
    boxes = [u.bbox_wgs84() for u in units]
    assert min(b[0] for b in boxes) < w and min(b[1] for b in boxes) < s
    assert max(b[2] for b in boxes) > e and max(b[3] for b in boxes) > n
