"""Search and scene selection against a real `rustac serve` STAC API over the small simulated catalog."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pystac
import pystac_client
import pytest
from pyproj import Transformer

from glacierscale.catalog import LocalStacServer, rank_optical, search_items
from glacierscale.catalog.provider import load_provider
from glacierscale.catalog.select import keep_latest, season_window, select_scenes
from glacierscale.errors import CatalogError, ConfigError, EmptySearchError
from glacierscale.simulate import SceneSet

S2, S1, DEM = "sentinel-2-l2a", "sentinel-1-rtc", "cop-dem-glo-30"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def bbox(scene_set: SceneSet) -> tuple[float, float, float, float]:
    """A small box (WGS84) in the middle of the simulated region."""
    bounds = json.loads((scene_set.root / "simulation.json").read_text())["bounds"]
    tf = Transformer.from_crs(f"EPSG:{scene_set.epsg}", "EPSG:4326", always_xy=True)
    w, s, e, n = tf.transform_bounds(*bounds)
    cx, cy = (w + e) / 2, (s + n) / 2
    return (cx - 0.005, cy - 0.005, cx + 0.005, cy + 0.005)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- the server process --------------------------------------------------------------------------------------


def test_server_process_lives_while_serving_and_is_gone_after_stop(scene_set: SceneSet) -> None:
    server = LocalStacServer(scene_set.root).start()
    pid = server.pid
    assert pid is not None and alive(pid)
    try:
        ids = {c.id for c in pystac_client.Client.open(server.url).get_collections()}
        assert ids == {S2, S1, DEM}
    finally:
        server.stop()
    assert server.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    server.stop()  # stopping twice is harmless


def test_context_manager_stops_the_server(scene_set: SceneSet) -> None:
    with LocalStacServer(scene_set.root) as server:
        pid = server.pid
        assert pid is not None and alive(pid)
        assert server.url.startswith("http://127.0.0.1:")
    assert not alive(pid)


def test_folder_without_collections_is_refused(tmp_path: Path) -> None:
    (tmp_path / "not-a-collection").mkdir()
    (tmp_path / "not-a-collection" / "items.ndjson").write_text("")
    with pytest.raises(CatalogError, match=re.escape(f"catalog folder {tmp_path.resolve()} holds no")):
        LocalStacServer(tmp_path).start()


def test_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=re.escape(f"catalog folder {(tmp_path / 'nope').resolve()} does not exist")):
        LocalStacServer(tmp_path / "nope")


# --- search ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("year", [2021, 2022])
def test_search_returns_the_years_scenes_oldest_first(stac_url: str, bbox: Any, read_items: Any, year: int) -> None:
    items = search_items(stac_url, S2, bbox, utc(year, 1, 1), utc(year, 12, 31, 23, 59, 59))
    expected = sorted(it["id"] for it in read_items(S2) if it["properties"]["datetime"].startswith(str(year)))
    assert sorted(it.id for it in items) == expected
    assert len(items) == 2
    assert all(it.datetime.year == year for it in items)
    dates = [it.datetime for it in items]
    assert dates == sorted(dates)
    assert {"blue", "green", "red", "nir", "swir16", "swir22", "scl"} <= set(items[0].assets)


def test_search_window_is_inclusive_and_narrow(stac_url: str, bbox: Any, read_items: Any) -> None:
    first = min(read_items(S2), key=lambda it: it["properties"]["datetime"])
    when = datetime.fromisoformat(first["properties"]["datetime"].replace("Z", "+00:00"))
    items = search_items(stac_url, S2, bbox, when, when)
    assert [it.id for it in items] == [first["id"]]


def test_search_of_sar_items_with_datetime_ranges(stac_url: str, bbox: Any) -> None:
    items = search_items(stac_url, S1, bbox, utc(2021, 1, 1), utc(2022, 12, 31))
    assert [it.datetime.year for it in items] == [2021, 2022]
    assert all(it.assets["vv"].extra_fields["raster:bands"][0]["nodata"] == -32768 for it in items)


def test_empty_year_names_collection_and_dates(stac_url: str, bbox: Any) -> None:
    with pytest.raises(EmptySearchError, match=r"no sentinel-2-l2a scene .* between 2019-07-15 and 2019-09-30") as info:
        search_items(stac_url, S2, bbox, utc(2019, 7, 15), utc(2019, 9, 30))
    assert stac_url in str(info.value)
    assert isinstance(info.value, LookupError) and isinstance(info.value, CatalogError)


def test_far_away_bbox_is_empty(stac_url: str) -> None:
    andes = (-70.1, -33.1, -69.9, -32.9)
    with pytest.raises(EmptySearchError, match=r"no sentinel-2-l2a scene .* bbox \(-70\.1, -33\.1, -69\.9, -32\.9\)"):
        search_items(stac_url, S2, andes, utc(2021, 1, 1), utc(2022, 12, 31))


def test_unknown_collection_is_empty_or_a_catalog_error(stac_url: str, bbox: Any) -> None:
    with pytest.raises(CatalogError, match="landsat-c2-l2"):
        search_items(stac_url, "landsat-c2-l2", bbox, utc(2021, 1, 1), utc(2022, 12, 31))


def test_unreachable_server_is_a_catalog_error(bbox: Any) -> None:
    from glacierscale.catalog.server import free_port

    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(CatalogError, match=re.escape(url)):
        search_items(url, S2, bbox, utc(2021, 1, 1), utc(2021, 12, 31))


# --- selection ---------------------------------------------------------------------------------------------


def test_select_scenes_gives_every_sensor(stac_url: str, bbox: Any) -> None:
    sel = select_scenes(stac_url, load_provider("local"), bbox, 2022, ("07-15", "09-30"), 80.0, 4)
    assert set(sel) == {"s2", "s1", "landsat", "dem"}
    assert sel["landsat"].items == []  # the small scene set has no Landsat collection: the cube marks it missing
    assert sel["s2"].collection == S2 and len(sel["s2"].items) == 2
    assert all(it.datetime.year == 2022 for it in sel["s2"].items + sel["s1"].items)
    covers = [it.properties["eo:cloud_cover"] for it in sel["s2"].items]
    assert covers == sorted(covers)  # least cloudy first
    assert len(sel["s1"].items) == 1
    assert len(sel["dem"].items) == 1 and sel["dem"].items[0].id.startswith("Copernicus_DSM_COG_10_N46")
    assert all(d.kept for d in sel["s2"].decisions)


def test_select_scenes_drops_cloudy_scenes_with_a_reason(stac_url: str, bbox: Any, read_items: Any) -> None:
    covers = {it["id"]: it["properties"]["eo:cloud_cover"] for it in read_items(S2)
              if it["properties"]["datetime"].startswith("2021")}
    limit = (min(covers.values()) + max(covers.values())) / 2
    sel = select_scenes(stac_url, load_provider("local"), bbox, 2021, ("07-15", "09-30"), limit, 4)
    clearest = min(covers, key=covers.__getitem__)
    cloudiest = max(covers, key=covers.__getitem__)
    assert sel["s2"].ids == [clearest]
    (dropped,) = [d for d in sel["s2"].decisions if not d.kept]
    assert dropped.item_id == cloudiest
    assert "cloud cover" in dropped.reason
    assert f"{covers[cloudiest]:.1f} % > {limit:.0f} %" in dropped.reason


def test_select_scenes_refuses_when_every_scene_is_too_cloudy(stac_url: str, bbox: Any, read_items: Any) -> None:
    least = min(it["properties"]["eo:cloud_cover"] for it in read_items(S2))
    with pytest.raises(EmptySearchError, match="sentinel-2-l2a scene of 2021"):
        select_scenes(stac_url, load_provider("local"), bbox, 2021, ("07-15", "09-30"), least / 2, 4)


def test_select_scenes_without_sar_in_the_window_gives_an_empty_s1_selection(stac_url: str, bbox: Any,
                                                                              read_items: Any) -> None:
    def dates(coll: str) -> list[datetime]:
        return [datetime.fromisoformat(it["properties"]["datetime"].rstrip("Z")) for it in read_items(coll)
                if it["properties"]["datetime"].startswith("2021")]

    (sar,) = dates(S1)
    start = (sar + timedelta(days=1)).replace(hour=0)
    assert all(d >= start for d in dates(S2))  # the window starts after the SAR scene, before the optical ones
    sel = select_scenes(stac_url, load_provider("local"), bbox, 2021, (f"{start:%m-%d}", "09-30"), 80.0, 4)
    assert sel["s1"].items == []
    assert len(sel["s2"].items) == 2


def test_select_scenes_without_optical_scenes_raises(stac_url: str, bbox: Any) -> None:
    with pytest.raises(EmptySearchError, match="sentinel-2-l2a"):
        select_scenes(stac_url, load_provider("local"), bbox, 2019, ("07-15", "09-30"), 80.0, 4)


def _fake(item_id: str, day: int, cloud: float | None) -> pystac.Item:
    props: dict[str, Any] = {} if cloud is None else {"eo:cloud_cover": cloud}
    return pystac.Item(item_id, None, None, datetime(2021, 8, day, tzinfo=UTC), props)


def test_rank_optical_keeps_the_clearest_and_explains_every_decision() -> None:
    items = [_fake("a", 1, 50.0), _fake("b", 2, 90.0), _fake("c", 3, 5.0), _fake("d", 4, 5.0), _fake("e", 5, 30.0)]
    sel = rank_optical(items, S2, max_cloud=80.0, max_scenes=3)
    assert sel.ids == ["c", "d", "e"]  # ties broken by date
    reasons = {d.item_id: (d.kept, d.reason) for d in sel.decisions}
    assert reasons["b"][0] is False and "cloud cover 90.0 % > 80 %" in reasons["b"][1]
    assert reasons["a"][0] is False and reasons["a"][1].startswith("beyond the best 3")
    assert reasons["c"][0] is True and reasons["c"][1].startswith("rank 1") and "cloud cover 5.0 %" in reasons["c"][1]
    assert reasons["e"][0] is True and reasons["e"][1].startswith("rank 3")
    assert len(sel.decisions) == len(items)


def test_rank_optical_puts_scenes_without_cloud_cover_last() -> None:
    sel = rank_optical([_fake("unknown", 1, None), _fake("known", 2, 60.0)], S2, max_cloud=50.0, max_scenes=2)
    assert sel.ids == ["unknown"]  # without eo:cloud_cover a scene cannot be judged cloudy
    sel = rank_optical([_fake("unknown", 1, None), _fake("known", 2, 40.0)], S2, max_cloud=50.0, max_scenes=2)
    assert sel.ids == ["known", "unknown"]


def test_keep_latest() -> None:
    items = [_fake("old", 1, None), _fake("new", 20, None), _fake("mid", 10, None)]
    sel = keep_latest(items, S1, 2)
    assert sel.ids == ["new", "mid"]
    assert {d.item_id: d.kept for d in sel.decisions} == {"old": False, "new": True, "mid": True}


def test_season_window_includes_its_last_day() -> None:
    start, end = season_window(2021, "07-15", "09-30")
    assert start == utc(2021, 7, 15) and end == utc(2021, 9, 30, 23, 59, 59)


def test_load_provider_local_and_unknown() -> None:
    provider = load_provider("local")
    assert provider.sensors["s2"].bands["B11"] == "swir16"
    assert provider.sensors["s1"].to_db == ["VV", "VH"]
    with pytest.raises(ConfigError, match="unknown catalog provider 'nowhere'"):
        load_provider("nowhere")
