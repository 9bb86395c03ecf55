"""A run's glacier store: each unit reads exactly its glaciers, by row-group statistics, locally and on S3."""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import pyarrow.parquet as pq
import pytest
from shapely.geometry import box

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from s3_server import moto_s3

from glacierscale.errors import InputError
from glacierscale.inventory.store import ROW_GROUP_ROWS, UnitGlaciers, read_unit_glaciers, write_glacier_store
from glacierscale.inventory.units import plan_units

TILE_M = 16 * 20.0


def _inventory(n: int) -> gpd.GeoDataFrame:
    """``n`` 120 m squares, one per 16-px tile in rows of 64, plus one glacier straddling the first two tiles."""
    x0, y0 = 384_000.0, 5_120_000.0
    geoms = [box(x0 + (i % 64) * TILE_M + 100, y0 + (i // 64) * TILE_M + 100,
                 x0 + (i % 64) * TILE_M + 220, y0 + (i // 64) * TILE_M + 220) for i in range(n)]
    geoms.append(box(x0 + TILE_M - 50, y0 + 20, x0 + TILE_M + 50, y0 + 60))  # across the first tiles' border
    ids = [f"G{i:05d}" for i in range(n)] + ["SPAN"]
    return gpd.GeoDataFrame({"glacier_id": ids, "o1region": "11"}, geometry=geoms, crs=32632)


def test_each_unit_reads_its_own_glaciers_with_their_areas(tmp_path: Path) -> None:
    inv = _inventory(3 * ROW_GROUP_ROWS)
    units = plan_units(inv, 20.0, 16, 0.0, overlap_px=0)
    store = str(tmp_path / "state" / "glaciers.parquet")
    rows = write_glacier_store(inv, units, store)
    assert rows == len(inv) + 1  # SPAN is written once for each of its two units
    assert pq.ParquetFile(store).metadata.num_row_groups == 4  # 3,074 rows in groups of 1,024
    first, second = (next(u for u in units if "G00000" in u.glacier_ids),
                     next(u for u in units if "G00001" in u.glacier_ids))
    got = UnitGlaciers(store, first.unit_id).load()
    assert sorted(got.index) == ["G00000", "SPAN"] == sorted(first.glacier_ids)
    assert got.crs.to_epsg() == 32632
    assert got.loc["G00000"].geometry.area == pytest.approx(120 * 120)
    assert got.loc["SPAN"].geometry.area == pytest.approx(100 * 40)  # the whole outline, not its part in the tile
    assert sorted(read_unit_glaciers(store, second.unit_id).index) == ["G00001", "SPAN"]
    last = f"G{3 * ROW_GROUP_ROWS - 1:05d}"
    far = next(u for u in units if last in u.glacier_ids)
    assert list(read_unit_glaciers(store, far.unit_id)["glacier_id"]) == [last]
    assert len(read_unit_glaciers(store, "32632_20m_16_0_0")) == 0  # a unit the run did not plan: no glaciers


def test_a_missing_store_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"glacier store .*nowhere.parquet is missing"):
        read_unit_glaciers(str(tmp_path / "nowhere.parquet"), "U1")


def test_the_store_on_s3() -> None:
    inv = _inventory(4)
    units = plan_units(inv, 20.0, 16, 0.0, overlap_px=0)
    with moto_s3("state"):
        write_glacier_store(inv, units, "s3://state/runs/r1/glaciers.parquet")
        got = read_unit_glaciers("s3://state/runs/r1/glaciers.parquet", units[2].unit_id)
    assert list(got.index) == list(units[2].glacier_ids) and got.geometry.area.sum() == pytest.approx(120 * 120)
