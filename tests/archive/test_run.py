"""The run's writer on local storage: staging, checkpoints on the run branch, one move of main, crashes, locks."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import RES, SIZE, plan, product, unit

from glacierscale.archive.lock import write_lock
from glacierscale.archive.run import open_run, read_tiles
from glacierscale.errors import ArchiveError, ArchiveNotFoundError

# a pixel's ground area is resolution² / the CRS's areal scale (reduce.areas.pixel_areas_km2): in UTM within 0.2 %
GROUND = 2e-3

U1, U2 = unit(400, 4000, ("G1", "G2")), unit(401, 4000, ("G2", "G3"))


def _main(arch: Path) -> str:
    import icechunk

    return icechunk.Repository.open(icechunk.local_filesystem_storage(str(arch))).lookup_branch("main")


def _run(arch: Path, tmp: Path, run_id: str, units: list, years: list[int], publish: bool = True, **kw) -> str | None:
    w = open_run(str(arch), run_id, plan(run_id, units, years), staging=str(tmp / "staging"))
    items = [w.stage(product(u, y, **kw)) for u in units for y in years]
    w.checkpoint(items)
    return w.publish({"seconds": 1.0}) if publish else None


def test_run_lands_once_with_glacier_sums_and_plain_xarray_reads_it(tmp_path: Path) -> None:
    import icechunk

    arch = tmp_path / "archive"
    snap = _run(arch, tmp_path, "r1", [U1, U2], [2020, 2021])
    assert snap == _main(arch)
    tiles = read_tiles(str(arch))
    assert sorted(tiles) == [(U1.unit_id, 2020), (U1.unit_id, 2021), (U2.unit_id, 2020), (U2.unit_id, 2021)]
    assert tiles[(U1.unit_id, 2021)].input_hash == f"in-{U1.unit_id}-2021"
    assert tiles[(U1.unit_id, 2021)].run_id == "r1"

    session = icechunk.Repository.open(icechunk.local_filesystem_storage(str(arch))).readonly_session(branch="main")
    mosaic = xr.open_zarr(session.store, group="mosaics/32632", consolidated=False, decode_coords="all")
    import rioxarray  # noqa: F401

    assert mosaic.rio.crs.to_epsg() == 32632
    minx, miny, maxx, maxy = U1.bounds
    tile = mosaic["classes"].sel(year=2020, x=slice(minx, maxx), y=slice(maxy, miny))
    assert tile.shape == (SIZE, SIZE)
    assert float(tile.x[0]) == minx + RES / 2 and float(tile.y[0]) == maxy - RES / 2
    assert int((tile == 1).sum()) == 2 * (20 * 20 - 20)  # two square glaciers, each with one debris row
    assert mosaic.chunks["y"][0] == SIZE and mosaic.chunks["x"][0] == SIZE  # chunk edges = tile edges
    outside = mosaic["classes"].sel(year=2020, x=maxx + 5 * SIZE * RES, y=maxy, method="nearest")
    assert int(outside) == 255 and mosaic["classes"].dtype == np.uint8  # fill = nodata, kept as uint8

    glaciers = xr.open_zarr(session.store, group="glaciers", consolidated=False).load()
    ids = [str(g) for g in glaciers["glacier_id"].values]
    assert ids == ["G1", "G2", "G3"]
    one = 20 * 20 * RES * RES / 1e6
    g2 = glaciers.isel(glacier=1).sel(year=2021)
    assert float(g2["area_km2"]) == pytest.approx(2 * one, rel=GROUND)  # G2 spans both tiles: sum of its parts
    boundary = 2 * 4 * 20 * RES / 1000 * RES / 1000 / 2  # perimeter × ½ pixel
    assert float(g2["area_unc_boundary_km2"]) == pytest.approx(boundary, rel=GROUND)
    # model term: p = 0.9 on 800 ice pixels, errors correlated in 3 × 3 blocks; combined in quadrature
    model = np.sqrt(800 * 0.9 * 0.1 * 9) * (RES / 1000) ** 2
    assert float(g2["area_unc_model_km2"]) == pytest.approx(model, rel=1e-3)
    assert float(g2["area_unc_km2"]) == pytest.approx(np.hypot(boundary, model), rel=1e-3)
    assert float(g2["observed_fraction"]) == pytest.approx(1.0)
    assert str(g2["quality"].values) == "ok" and str(g2["sensors"].values) == "s1,s2"
    assert str(glaciers["rgi_id"].values[0]) == "RGI2000-v7.0-G-11-G1"


def test_crash_before_publish_leaves_main_and_rerun_commits_once(tmp_path: Path) -> None:
    import pickle

    arch = tmp_path / "archive"
    _run(arch, tmp_path, "r1", [U1], [2020])
    old = _main(arch)
    w = open_run(str(arch), "r2", plan("r2", [U2], [2020]), staging=str(tmp_path / "staging"))
    in_worker = pickle.loads(pickle.dumps(w))  # what a Ray task gets: no plan, no open repository
    assert in_worker.plan is None and len(pickle.dumps(w)) < 2000
    w.checkpoint([in_worker.stage(product(U2, 2020))])  # ... and the driver dies after its checkpoint
    assert _main(arch) == old
    assert (U2.unit_id, 2020) not in read_tiles(str(arch))
    again = open_run(str(arch), "r2", plan("r2", [U2], [2020]), staging=str(tmp_path / "staging"))
    assert again.held()[(U2.unit_id, 2020)].run_id == "r2"  # the resumed run sees its checkpointed item
    assert again.checkpoint([again.stage(product(U2, 2020))]) is None  # already on the run branch
    with pytest.raises(ArchiveError, match="run r2 is not published"):
        again.discard_staging()
    snap = again.publish({})
    assert snap is not None and _main(arch) == snap
    assert again.publish({}) is None
    assert (U2.unit_id, 2020) in read_tiles(str(arch))
    again.discard_staging()
    assert not (tmp_path / "staging" / "r2").exists() and (tmp_path / "staging" / "r1").exists()


def test_killed_driver_between_checkpoint_and_publish(tmp_path: Path) -> None:
    arch = tmp_path / "archive"
    _run(arch, tmp_path, "r1", [U1], [2020])
    old = _main(arch)
    here = Path(__file__).resolve().parent
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(here)!r})
        from synthetic import plan, product, unit
        from glacierscale.archive.run import open_run
        u = unit(401, 4000, ("G2", "G3"))
        w = open_run({str(arch)!r}, "r2", plan("r2", [u], [2020, 2021]), staging={str(tmp_path / "staging")!r})
        w.checkpoint([w.stage(product(u, y)) for y in (2020, 2021)])
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert _main(arch) == old
    w = open_run(str(arch), "r2", plan("r2", [U2], [2020, 2021]), staging=str(tmp_path / "staging"))
    assert sorted(k for k, r in w.held().items() if r.run_id == "r2") == [(U2.unit_id, 2020), (U2.unit_id, 2021)]
    snap = w.publish({})
    assert snap == _main(arch) and w.publish({}) is None
    assert {k[0] for k in read_tiles(str(arch))} == {U1.unit_id, U2.unit_id}


def test_redone_tile_year_replaces_its_parts_and_gaps_are_flagged(tmp_path: Path) -> None:
    from glacierscale.archive.query import open_archive

    arch = tmp_path / "archive"
    _run(arch, tmp_path, "r1", [U1, U2], [2020])
    _run(arch, tmp_path, "r2", [U1], [2020], ice_px=10, model="m2")  # U1 re-done: its parts replace the old ones
    _run(arch, tmp_path, "r3", [U2], [2021], status="gap")
    t = open_archive(str(arch)).table().set_index(["glacier_id", "year"])
    small, big = 10 * 10 * RES * RES / 1e6, 20 * 20 * RES * RES / 1e6
    assert t.loc[("G1", 2020), "area_km2"] == pytest.approx(small, rel=GROUND)
    assert t.loc[("G2", 2020), "area_km2"] == pytest.approx(small + big, rel=GROUND)
    assert t.loc[("G2", 2020), "model_hash"] == "m1,m2"
    assert t.loc[("G3", 2020), "area_km2"] == pytest.approx(big, rel=GROUND)
    # a gap is never read as retreat: its area is 2020's carried over, flagged by source and out of change rates
    g3 = t.loc[("G3", 2021)]
    assert g3["quality"] == "gap" and np.isnan(g3["observed_area_km2"])
    assert g3["area_km2"] == pytest.approx(big, rel=GROUND) and g3["filled_km2"] == pytest.approx(big, rel=GROUND)
    assert g3["area_source"] == "years" and g3["change_excluded"] == "nothing observed"
    assert t.loc[("G3", 2020), "area_source"] == "observed" and t.loc[("G3", 2020), "change_excluded"] == ""
    assert ("G1", 2021) not in t.index


def test_two_local_writers_second_waits_or_refuses(tmp_path: Path) -> None:
    arch = tmp_path / "archive"
    _run(arch, tmp_path, "r1", [U1], [2020])
    w = open_run(str(arch), "r2", plan("r2", [U2], [2020]), staging=str(tmp_path / "staging"), lock_timeout=0.3)
    item = w.stage(product(U2, 2020))
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from glacierscale.archive.lock import write_lock
        with write_lock({str(arch)!r}, holder="run other"):
            print("locked", flush=True)
            time.sleep(4)
    """)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
        with pytest.raises(ArchiveError, match=r"being written by another writer \(run other, pid \d+"):
            w.checkpoint([item])
        w.lock_timeout = 60
        t0 = time.monotonic()
        assert w.checkpoint([item]) is not None  # waits for the holder, then commits
        assert time.monotonic() - t0 > 0.5
    finally:
        holder.wait(timeout=30)
    assert w.publish({}) == _main(arch)
    with write_lock(str(arch), holder="test", timeout=1):
        pass  # released


def test_read_tiles_no_archive_v1_archive_and_bad_staging(tmp_path: Path) -> None:
    import icechunk
    import zarr

    with pytest.raises(ArchiveNotFoundError, match="no change archive at"):
        read_tiles(str(tmp_path / "nothing"))
    v1 = tmp_path / "v1"
    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(str(v1)))
    s = repo.writable_session("main")
    root = zarr.open_group(s.store, mode="w", zarr_format=3)
    root.create_group("units")
    root.create_group("areas")
    s.commit("v1")
    with pytest.raises(ArchiveError, match=r"version-1 change archive.*Re-run into a new archive"):
        read_tiles(str(v1))
    arch = tmp_path / "archive"
    w = open_run(str(arch), "r1", plan("r1", [U1], [2020]), staging=str(tmp_path / "st"))
    item = w.stage(product(U1, 2020))
    Path(item.location + ".done").unlink()
    with pytest.raises(ArchiveError, match="incomplete or missing"):
        w.checkpoint([item])
    bad = product(U1, 2020)
    with pytest.raises(ArchiveError, match=r"classes must be a \(64, 64\) array"):
        w.stage(type(bad)(bad.unit, 2020, "done", "i", "m", bad.classes[:10], bad.probability))


def test_partial_quality_and_glacier_ids_inserted_in_order(tmp_path: Path) -> None:
    import dataclasses

    from glacierscale.archive.query import open_archive

    arch = tmp_path / "archive"
    late = unit(402, 4000, ("G5", "G6"))
    _run(arch, tmp_path, "r1", [late], [2022])
    w = open_run(str(arch), "r2", plan("r2", [U1, U2], [2022]), staging=str(tmp_path / "staging"))
    half = product(U1, 2022)
    half = dataclasses.replace(half, parts=tuple(dataclasses.replace(p, observed_km2=p.outline_km2 / 2)
                                                 for p in half.parts))
    w.checkpoint([w.stage(half), w.stage(product(U2, 2022, status="gap"))])
    w.publish({})
    a = open_archive(str(arch))
    t = a.table().set_index(["glacier_id", "year"])
    assert list(t.index.get_level_values(0)) == ["G1", "G2", "G3", "G5", "G6"]  # G1..G3 sorted before G5, G6
    assert t.loc[("G1", 2022), "quality"] == "partial" and t.loc[("G1", 2022), "observed_fraction"] == pytest.approx(0.5)
    assert t.loc[("G2", 2022), "quality"] == "partial"  # one of its two tiles had no usable view
    assert t.loc[("G2", 2022), "area_km2"] == pytest.approx(20 * 20 * RES * RES / 1e6, rel=GROUND)
    assert t.loc[("G3", 2022), "quality"] == "gap"
    assert t.loc[("G5", 2022), "quality"] == "ok" and t.loc[("G5", 2022), "run_id"] == "r1"
    assert a.glacier("G6")["rgi_id"].iloc[0] == "RGI2000-v7.0-G-11-G6"
    assert a.glacier("G2")["rgi_id"].iloc[0] == "RGI2000-v7.0-G-11-G2"
