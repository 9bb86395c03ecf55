"""Cubes from COG assets served over S3 (GDAL /vsis3/), and cube stores written to s3://, on a real
moto S3 server on loopback (started by the test, stopped by pid)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from s3_server import moto_s3

from glacierscale.catalog import LocalStacServer
from glacierscale.catalog.provider import load_provider
from glacierscale.cube.build import build_unit
from glacierscale.cube.store import complete_for, open_unit, write_unit
from glacierscale.inventory import WorkUnit, plan_units, read_inventory
from glacierscale.simulate import RegionSpec, simulate


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("s3cat")
    simulate(RegionSpec(size_px=128, years=(2022,), s2_per_year=2, s1_per_year=1, seed=31, grid_m=1280), out,
             progress=False)
    return out


def _unit(scenes: Path) -> WorkUnit:
    """The work unit that is exactly the simulated region (glaciers may reach into neighbouring tiles)."""
    bounds = tuple(json.loads((scenes / "simulation.json").read_text())["bounds"])
    return next(u for u in plan_units(read_inventory(scenes / "inventory.gpkg"), 20, 64, 0, overlap_px=0) if u.bounds == bounds)


def test_cube_from_cogs_on_s3_equals_cube_from_local_files(scenes: Path, tmp_path: Path) -> None:
    import boto3

    unit = _unit(scenes)
    provider = load_provider("local")
    with LocalStacServer(scenes) as server:
        local, _ = build_unit(server.url, provider, unit, [2022], season=("07-15", "09-30"), max_cloud=100,
                              max_scenes=2)
    remote_cat = tmp_path / "cat"
    with moto_s3("cogs") as env:
        s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"])
        for tif in scenes.rglob("*.tif*"):
            s3.upload_file(str(tif), "cogs", str(tif.relative_to(scenes)))
        for coll in scenes.glob("*/collection.json"):  # the same catalog, its hrefs pointing at s3://cogs/
            (remote_cat / coll.parent.name).mkdir(parents=True)
            (remote_cat / coll.parent.name / "collection.json").write_text(coll.read_text())
            items = (coll.parent / "items.ndjson").read_text().replace(f"{scenes}/", "s3://cogs/")
            (remote_cat / coll.parent.name / "items.ndjson").write_text(items)
        assert "s3://cogs/sentinel-2-l2a/" in (remote_cat / "sentinel-2-l2a" / "items.ndjson").read_text()
        with LocalStacServer(remote_cat) as server:
            remote, _ = build_unit(server.url, provider, unit, [2022], season=("07-15", "09-30"), max_cloud=100,
                                   max_scenes=2)
    np.testing.assert_array_equal(remote["data"].values, local["data"].values)
    assert np.isfinite(remote["data"].sel(band="B03").values).mean() > 0.5


def test_cube_store_on_s3_roundtrip_and_reuse(scenes: Path) -> None:
    import rioxarray  # noqa: F401

    unit = _unit(scenes)
    with LocalStacServer(scenes) as server:
        ds, _ = build_unit(server.url, load_provider("local"), unit, [2022], season=("07-15", "09-30"),
                           max_cloud=100, max_scenes=2)
    with moto_s3("cubes"):
        store = "s3://cubes/run-1"
        assert open_unit(store, unit) is None
        url = write_unit(store, unit, ds)
        assert url == f"s3://cubes/run-1/{unit.unit_id}.zarr"
        back = open_unit(store, unit)
        assert back is not None and complete_for(back, [2022]) and not complete_for(back, [2022, 2023])
        assert back.rio.crs.to_epsg() == unit.epsg
        np.testing.assert_array_equal(back["data"].values, ds["data"].values)
        assert list(back["band"].values) == list(ds["band"].values)
