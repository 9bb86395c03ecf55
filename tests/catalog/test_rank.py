"""Scene ranking from the mask layer over the work unit, with a recorded reason per scene."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio

from glacierscale.catalog import LocalStacServer
from glacierscale.catalog.provider import load_provider
from glacierscale.catalog.rank import UnitSceneStats, rank_key, unit_stats
from glacierscale.cube.build import select_unit_scenes
from glacierscale.errors import EmptySearchError
from glacierscale.inventory import plan_units, read_inventory
from glacierscale.simulate import RegionSpec, simulate

CLEAR = [2, 4, 5, 6, 7, 11]


def test_unit_stats_counts_cloud_snow_and_coverage() -> None:
    mask = np.zeros((10, 10), dtype=np.uint8)  # 0 = no data
    mask[:, :8] = 5
    mask[:2, :8] = 9  # cloud
    mask[2:4, :8] = 11  # snow
    s = unit_stats(mask, CLEAR)
    assert s.coverage == pytest.approx(0.8)
    assert s.cloud == pytest.approx(16 / 80)
    assert s.snow == pytest.approx(16 / 80)
    assert s.clear == pytest.approx(0.8 * 0.8)


def test_rank_prefers_clear_then_late_season_then_high_sun() -> None:
    end = datetime(2022, 9, 30, tzinfo=UTC)
    clear = UnitSceneStats(1.0, 0.0, 0.1)
    cloudy = UnitSceneStats(1.0, 0.5, 0.1)
    early, late = datetime(2022, 7, 20, tzinfo=UTC), datetime(2022, 9, 20, tzinfo=UTC)
    assert rank_key(clear, early, end, 40) < rank_key(cloudy, late, end, 40)
    assert rank_key(clear, late, end, 40) < rank_key(clear, early, end, 40)
    assert rank_key(clear, late, end, 45) < rank_key(clear, late, end, 30)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rank")
    simulate(RegionSpec(size_px=256, years=(2021, 2022), s2_per_year=3, s1_per_year=1, seed=21, grid_m=2560), out,
             progress=False)
    return out


def test_selection_records_a_reason_for_every_scene(catalog: Path) -> None:
    unit = plan_units(read_inventory(catalog / "inventory.gpkg"), 20, 128, 0, overlap_px=0)[0]
    with LocalStacServer(catalog) as server:
        sel = select_unit_scenes(server.url, load_provider("local"), unit, [2021], season=("07-15", "09-30"),
                                 max_cloud=80, max_scenes=2)
    s2 = sel[2021]["s2"]
    assert len(s2.items) == 2
    assert len(s2.decisions) == 3 and sum(d.kept for d in s2.decisions) == 2
    assert all("over the unit" in d.reason for d in s2.decisions)
    assert [d.reason.split(":")[0] for d in s2.decisions if d.kept] == ["rank 1", "rank 2"]
    assert sel[2021]["dem"].items and sel[2021]["s1"].items


def test_all_cloud_window_is_a_clear_error(catalog: Path, tmp_path: Path) -> None:
    import shutil

    cat = tmp_path / "cat"
    shutil.copytree(catalog, cat)
    # re-point the items at the copy, then cloud over every 2022 scene's SCL
    for f in cat.glob("*/items.ndjson"):
        f.write_text(f.read_text().replace(str(catalog), str(cat)))
    for scl in cat.glob("sentinel-2-l2a/*2022*/SCL.tif"):
        with rasterio.open(scl, "r+", IGNORE_COG_LAYOUT_BREAK="YES") as dst:
            dst.write(np.full((dst.height, dst.width), 9, dtype=np.uint8), 1)
    unit = plan_units(read_inventory(cat / "inventory.gpkg"), 20, 128, 0, overlap_px=0)[0]
    with LocalStacServer(cat) as server, pytest.raises(EmptySearchError, match="gives a clear view") as err:
        select_unit_scenes(server.url, load_provider("local"), unit, [2022], season=("07-15", "09-30"),
                           max_cloud=100, max_scenes=2)
    assert "100% cloud/shadow" in str(err.value)


def test_a_stalled_mask_read_is_a_transient_error_not_a_scene_without_view(catalog: Path) -> None:
    """Ranking reads each scene's SCL over HTTP with the provider's deadline: a server that stalls is a transient
    CatalogError (the selection is retried), never "no clear view" (which would record a gap that is not one)."""
    import json

    import pystac

    from glacierscale.catalog.asset_server import AssetServer
    from glacierscale.catalog.select import UnitGrid, rank_optical
    from glacierscale.errors import CatalogError
    from glacierscale.pipeline.failures import is_transient

    unit = plan_units(read_inventory(catalog / "inventory.gpkg"), 20, 128, 0, overlap_px=0)[0]
    grid = UnitGrid(unit.epsg, unit.bounds, (32, 32))
    lines = (catalog / "sentinel-2-l2a" / "items.ndjson").read_text().splitlines()
    dicts = [d for d in map(json.loads, lines) if d["properties"]["datetime"].startswith("2021")]
    local = rank_optical([pystac.Item.from_dict(d) for d in dicts], "sentinel-2-l2a", 80, 2, mask_asset="scl",
                         clear_classes=CLEAR, grid=grid)
    with AssetServer(catalog) as server:
        for d in dicts:
            d["assets"]["scl"]["href"] = server.href(d["assets"]["scl"]["href"])
        items = [pystac.Item.from_dict(d) for d in dicts]
        remote = rank_optical(items, "sentinel-2-l2a", 80, 2, mask_asset="scl", clear_classes=CLEAR, grid=grid,
                              gdal={"GDAL_HTTP_TIMEOUT": "1"}, timeout_s=1.0)
        assert remote.decisions == local.decisions  # the same ranking over HTTP as from the files
        assert server.served.status[404] == 0  # no sidecar files looked for
        server.stall(dicts[1]["assets"]["scl"]["href"].split("/", 3)[3], seconds=3.0, times=100)
        for d in dicts:
            d["assets"]["scl"]["href"] += "?v=2"  # new URLs: GDAL keeps what it has read
        with pytest.raises(CatalogError, match=r"cannot read the scl mask of scene .*read timed out after 1 s") as info:
            rank_optical([pystac.Item.from_dict(d) for d in dicts], "sentinel-2-l2a", 80, 2, mask_asset="scl",
                         clear_classes=CLEAR, grid=grid, gdal={"GDAL_HTTP_TIMEOUT": "1"}, timeout_s=1.0)
    assert is_transient(info.value)
