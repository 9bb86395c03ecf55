"""Search a real `rustac serve` STAC API on loopback, started by the test and stopped by pid."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from glacierscale.catalog import LocalStacServer, search_items
from glacierscale.errors import CatalogError, EmptySearchError
from glacierscale.simulate import RegionSpec, simulate


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cat")
    simulate(RegionSpec(size_px=128, years=(2021, 2022), s2_per_year=3, s1_per_year=1, seed=11), out, progress=False)
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_search_by_bbox_datetime_collection_then_stop_by_pid(catalog: Path) -> None:
    server = LocalStacServer(catalog).start()
    pid = server.pid
    assert pid is not None and _alive(pid)
    try:
        bbox = (10.7, 46.7, 10.9, 46.9)
        items = search_items(server.url, "sentinel-2-l2a", bbox, datetime(2022, 1, 1, tzinfo=UTC),
                             datetime(2022, 12, 31, tzinfo=UTC))
        assert len(items) == 3
        assert all(it.datetime.year == 2022 for it in items)
        assert [it.datetime for it in items] == sorted(it.datetime for it in items)
        assert {"blue", "swir16", "scl"} <= set(items[0].assets)
        s1 = search_items(server.url, "sentinel-1-rtc", bbox, datetime(2021, 1, 1, tzinfo=UTC),
                          datetime(2022, 12, 31, tzinfo=UTC))
        assert len(s1) == 2
        with pytest.raises(EmptySearchError, match=r"no sentinel-2-l2a scene .* between 2019-07-01 and 2019-09-30"):
            search_items(server.url, "sentinel-2-l2a", bbox, datetime(2019, 7, 1, tzinfo=UTC),
                         datetime(2019, 9, 30, tzinfo=UTC))
        with pytest.raises(EmptySearchError):  # far away: the Andes
            search_items(server.url, "sentinel-2-l2a", (-70.1, -33.1, -69.9, -32.9), datetime(2021, 1, 1, tzinfo=UTC),
                         datetime(2022, 12, 31, tzinfo=UTC))
    finally:
        server.stop()
    assert not _alive(pid)


def test_folder_without_collections_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=f"catalog folder {tmp_path} holds no"):
        LocalStacServer(tmp_path).start()
