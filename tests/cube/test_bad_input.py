"""Bad assets and items fail the cube with a clear error naming them; nothing turns silently into NaN."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pystac
import pytest

from glacierscale.catalog.provider import load_provider
from glacierscale.cube.assemble import build_year
from glacierscale.errors import CubeError
from glacierscale.inventory import WorkUnit
from glacierscale.simulate import RegionSpec, simulate


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bad")
    simulate(RegionSpec(size_px=128, years=(2022,), s2_per_year=1, s1_per_year=1, seed=41, grid_m=1280), out,
             progress=False)
    return out


def _items(scenes: Path, coll: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (scenes / coll / "items.ndjson").read_text().splitlines()]


def _unit(scenes: Path) -> WorkUnit:
    minx, miny, _, _ = json.loads((scenes / "simulation.json").read_text())["bounds"]
    return WorkUnit("bad", 32632, int(minx // 1280), int(miny // 1280), 20.0, 64, ())


def _build(scenes: Path, s2: list[dict[str, Any]]) -> None:
    sel = {"s2": [pystac.Item.from_dict(d) for d in s2],
           "s1": [pystac.Item.from_dict(d) for d in _items(scenes, "sentinel-1-rtc")],
           "dem": [pystac.Item.from_dict(d) for d in _items(scenes, "cop-dem-glo-30")]}
    build_year(load_provider("local"), sel, _unit(scenes))


def test_good_items_build(scenes: Path) -> None:
    _build(scenes, _items(scenes, "sentinel-2-l2a"))


def test_missing_asset_file_is_an_error_naming_it(scenes: Path) -> None:
    item = _items(scenes, "sentinel-2-l2a")[0]
    item["assets"]["green"]["href"] = str(scenes / "gone" / "B03.tif")
    with pytest.raises(CubeError, match=r"reading s2 bands for unit bad failed: .*gone/B03.tif"):
        _build(scenes, [item])


def test_corrupt_cog_is_an_error(scenes: Path, tmp_path: Path) -> None:
    item = _items(scenes, "sentinel-2-l2a")[0]
    broken = tmp_path / "B04.tif"
    broken.write_bytes(b"II*\x00" + b"\x00" * 64)  # a TIFF header and nothing else
    item["assets"]["red"]["href"] = str(broken)
    with pytest.raises(CubeError, match=r"reading s2 bands for unit bad failed"):
        _build(scenes, [item])


def test_item_without_projection_and_unreadable_asset_is_refused(scenes: Path) -> None:
    item = _items(scenes, "sentinel-2-l2a")[0]
    item["properties"].pop("proj:epsg")
    item["properties"].pop("proj:code", None)
    item["assets"]["blue"]["href"] = str(scenes / "nowhere.tif")
    with pytest.raises(CubeError, match=r"declares no projection and cannot be opened"):
        _build(scenes, [item])


def test_item_without_projection_reads_its_grid_from_the_file(scenes: Path) -> None:
    item = _items(scenes, "sentinel-2-l2a")[0]
    item["properties"].pop("proj:epsg")
    item["properties"].pop("proj:code", None)
    _build(scenes, [item])  # the CRS comes from each GeoTIFF header


def test_scenes_in_another_utm_zone_are_reprojected_onto_the_unit_grid(scenes: Path, tmp_path: Path) -> None:
    """Mixed CRSs in one stack are not an error: every scene is warped onto the unit's grid."""
    import numpy as np
    import rasterio
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    from glacierscale.cube.assemble import composite_sensor

    item = _items(scenes, "sentinel-2-l2a")[0]
    moved = json.loads(json.dumps(item))
    for key, a in moved["assets"].items():
        dst_path = tmp_path / f"{key}.tif"
        with rasterio.open(a["href"]) as src:
            transform, w, h = calculate_default_transform(src.crs, "EPSG:32633", src.width, src.height, *src.bounds)
            profile = {**src.profile, "driver": "GTiff", "crs": "EPSG:32633", "transform": transform, "width": w,
                       "height": h}
            with rasterio.open(dst_path, "w", **profile) as dst:
                reproject(rasterio.band(src, 1), rasterio.band(dst, 1), resampling=Resampling.nearest)
        a.update({"href": str(dst_path), "proj:transform": list(transform)[:6], "proj:shape": [h, w]})
    moved["properties"]["proj:epsg"] = 32633
    moved["properties"]["proj:code"] = "EPSG:32633"
    unit, provider = _unit(scenes), load_provider("local")
    same, _ = composite_sensor(provider, "s2", [pystac.Item.from_dict(item)], unit)
    other, _ = composite_sensor(provider, "s2", [pystac.Item.from_dict(moved)], unit)
    both = np.isfinite(same) & np.isfinite(other)
    assert both.mean() > 0.5
    # two resamplings apart, the same scene agrees to within a few hundredths of reflectance
    assert np.median(np.abs(same[both] - other[both])) < 0.03


@pytest.mark.slow
def test_a_corrupt_cog_read_in_a_ray_task_comes_back_as_its_cube_error(scenes: Path, tmp_path: Path) -> None:
    """The run records a failed item by its cause: the CubeError naming the file, not Ray's
    UnserializableException (which a reader's exception chained to the CubeError used to give)."""
    import ray

    from glacierscale.pipeline.failures import describe

    item = _items(scenes, "sentinel-2-l2a")[0]
    broken = tmp_path / "B04.tif"
    broken.write_bytes(b"this is not a TIFF" * 100)
    item["assets"]["red"]["href"] = str(broken)
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        with pytest.raises(CubeError) as info:
            sel = {"s2": [pystac.Item.from_dict(item)]}
            ray.get(ray.remote(max_retries=0)(build_year).remote(load_provider("local"), sel, _unit(scenes)))
    finally:
        ray.shutdown()
    reason, file = describe(info.value)
    assert reason.startswith("CubeError: reading s2 bands for unit bad failed: ") and "not recognized" in reason
    assert file == str(broken)


def test_a_stalled_read_times_out_as_a_transient_error_and_passes_on_retry(scenes: Path) -> None:
    """An asset server that stalls past the provider's read timeout fails the read (never hangs); GDAL calls such
    an asset "not recognized as being in a supported file format", as it does a corrupt one, so the cube stage
    fetches its first bytes once more to tell: the error says the read timed out and is transient, and the run's
    retry builds the same cube once the server answers again."""
    import numpy as np

    from glacierscale.catalog.asset_server import AssetServer
    from glacierscale.pipeline.failures import is_transient

    provider = load_provider("local").model_copy(update={"read_timeout_s": 1.0})
    unit = _unit(scenes)
    item = _items(scenes, "sentinel-2-l2a")[0]
    clean = build_year(provider, {"s2": [pystac.Item.from_dict(item)]}, unit).data  # from the files themselves
    with AssetServer(scenes) as server:
        for asset in item["assets"].values():
            asset["href"] = server.href(asset["href"])
        sel = {"s2": [pystac.Item.from_dict(item)]}
        rel = item["assets"]["red"]["href"].split("/", 3)[3]
        server.stall(rel, seconds=3.0, times=100)  # every request of the red band, until cleared
        with pytest.raises(CubeError, match=r"B04.tif.*could not be fetched: read timed out after 1 s") as info:
            build_year(provider, sel, unit)
        assert is_transient(info.value) and server.served.stalls >= 2
        server.stall(rel, seconds=0.0, times=0)
        retried = build_year(provider, sel, unit).data
        server.faults.corrupt.add(rel)  # a corrupt file stays what it is: deterministic, not retried
        item["assets"]["red"]["href"] += "?v=2"  # a new URL: GDAL caches what it has read
        with pytest.raises(CubeError, match=r"not recognized") as corrupt:
            build_year(provider, {"s2": [pystac.Item.from_dict(item)]}, unit)
        assert not is_transient(corrupt.value) and "could not be fetched" not in str(corrupt.value)
    np.testing.assert_array_equal(retried, clean)
