"""End to end: `glacierscale demo` through every stage (real rustac server, real local Ray, icechunk)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from glacierscale.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--workdir", str(work), "--quiet"]) == 0
    return work


def test_demo_areas_are_within_4_percent_of_truth(demo: Path) -> None:
    """Measured 2026-12-07 18:42 UTC (model 98da0e94): mean 0.6 %, worst 1.2 %; 04:01 UTC (f2e7b216): 0.6 % / 1.3 %;
    01:13 UTC (2c3b53b0): 0.4 % / 0.8 %;
    2026-12-06 (17edd898): 0.6 % / 1.1 %;
    2026-12-05 (949a5452, full-physics demo region): mean 0.5 %, worst 1.3 % (a27c6b37, without the water class,
    read the proglacial lake as ice: 1.7 % / 4.8 %)."""
    summary = json.loads((demo / "demo-summary.json").read_text())
    rows = summary["rows"]
    assert len(rows) == 4 * 3  # four glaciers, three years
    worst = max(rows, key=lambda r: abs(r["rel_error"]))
    assert abs(worst["rel_error"]) < 0.04, worst
    # the debris-covered glacier is mapped whole, not just its clean upper part
    assert summary["mean_abs_rel_error"] < 0.02


def test_the_lake_terminating_glacier_has_a_front_where_the_truth_has_it(demo: Path) -> None:
    """`export --fronts` on the demo run: with 98da0e94 (2026-12-07 18:43 UTC) 780/760/840 m, 12-17 m from the true
    front, retreat 9.6 / 7.6 ± 14.1 m; with f2e7b216 760/760/780 m, 14-17 m from the true front, retreat
    12.0 / 14.1 ± 14.1 m; with 2c3b53b0 780/760/820 m, 16-18 m from the true front, retreat
    8.1 / 14.7 ± 14.1 m (500 m in 2021 before mixed boundary pixels counted as lake); measured 2026-12-05 (model 949a5452)
    length 740/820/780 m against the truth's 677/819/820 m, mean distance to the true front 12.8-13.8 m, retreat
    11.3 / 16.9 ± 14.1 m against 20.5 / 21.6 m (box method on the truth outlines)."""
    import geopandas as gpd

    from glacierscale.reduce.fronts import mean_distance

    out = demo / "fronts.gpkg"
    assert main(["export", str(demo / "archive"), "--fronts", str(out)]) == 0
    mapped = gpd.read_file(out).set_index("year")
    truth = gpd.read_file(demo / "catalog" / "truth" / "truth_calving_fronts.gpkg").set_index("year")
    assert set(mapped["glacier_id"]) == set(truth["glacier_id"]) == {"DEMO007-01"}
    for year in (2021, 2022, 2023):
        assert mapped.loc[year, "length_m"] == pytest.approx(truth.loc[year, "length_m"], rel=0.2)
        line = gpd.GeoSeries([mapped.geometry[year]], crs=4326).to_crs(truth.crs).iloc[0]
        assert mean_distance(line, truth.geometry[year], 5.0) < 30.0  # within 1.5 pixels of 20 m
    # the front retreats (true retreat ≈ 21 m a year), within 2σ of the truth
    for year in (2022, 2023):
        assert abs(mapped.loc[year, "retreat_m"] - 21.0) < 2 * mapped.loc[year, "retreat_unc_m"]


def test_archive_reopens_with_xarray_through_icechunk(demo: Path) -> None:
    """Plain xarray on an icechunk session: the zone mosaic and the per-glacier records of the demo run."""
    import icechunk
    import rioxarray  # noqa: F401

    repo = icechunk.Repository.open(icechunk.local_filesystem_storage(str(demo / "archive")))
    store = repo.readonly_session(branch="main").store
    glaciers = xr.open_zarr(store, group="glaciers", consolidated=False)
    assert sorted(int(y) for y in glaciers["year"].values) == [2021, 2022, 2023]
    assert glaciers.sizes["glacier"] == 4
    assert float(glaciers["area_km2"].min()) > 0.5
    mosaic = xr.open_zarr(store, group="mosaics/32632", consolidated=False, decode_coords="all")
    assert mosaic.rio.crs.to_epsg() == 32632
    assert float(mosaic.x[1] - mosaic.x[0]) == 20.0 and float(mosaic.y[1] - mosaic.y[0]) == -20.0
    sim = json.loads((demo / "catalog" / "simulation.json").read_text())
    left, bottom, right, top = sim["bounds"]
    tile = mosaic.sel(x=slice(left, right), y=slice(top, bottom))  # the demo's one tile, cut from the zone
    assert tile.sizes["x"] == tile.sizes["y"] == 384
    assert float(tile.x[0]) == left + 10 and float(tile.y[0]) == top - 10  # pixel centres on the simulated grid
    year = [int(y) for y in mosaic["year"].values].index(2023)
    classes = tile["classes"].isel(year=year).values
    assert set(np.unique(classes[np.isfinite(classes)]).astype(int)) <= {0, 1, 2, 3, 255}  # 255: nodata (the fill)
    assert (classes == 2).sum() > 0, "debris-covered ice must be mapped"
    assert (classes == 3).sum() > 100, "the proglacial lake is mapped as water"


def test_demo_leaves_a_reusable_workdir(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from glacierscale.archive import open_archive
    from glacierscale.config import load_run_config

    assert (demo / "demo.png").stat().st_size > 20_000
    cfg = load_run_config(demo / "demo.yaml")
    assert cfg.years == [2021, 2022, 2023]
    n_commits = len(open_archive(cfg.archive).history())
    capsys.readouterr()
    assert main(["update", str(demo / "demo.yaml"), "--quiet"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert len(open_archive(cfg.archive).history()) == n_commits


def test_query_prints_what_the_archive_holds(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from glacierscale.archive import open_archive

    table = open_archive(str(demo / "archive")).table()
    gid = table["glacier_id"].iloc[0]
    capsys.readouterr()
    plot = demo / "series.png"
    assert main(["query", str(demo / "archive"), "--glacier", gid, "--format", "json", "--plot", str(plot)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["year"] for r in rows] == [2021, 2022, 2023]
    assert [r["area_km2"] for r in rows] == pytest.approx(list(table[table.glacier_id == gid]["area_km2"]))
    assert plot.stat().st_size > 10_000
    assert main(["query", str(demo / "archive"), "--glacier", "NOT-A-GLACIER"]) == 2
    assert "'NOT-A-GLACIER' is not in archive" in capsys.readouterr().err


def test_a_year_without_scenes_is_a_gap_not_a_failure(demo: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """No scene in 2019: the run completes, the archive records the gap, no glacier is reported as 0 km²."""
    from glacierscale.archive import open_archive

    archive = tmp_path / "gap-archive"
    code = main(["run", str(demo / "demo.yaml"), "--years", "2019", "--archive", str(archive), "--quiet"])
    assert code == 0, capsys.readouterr().err[-2000:]
    table = open_archive(str(archive)).table()
    assert len(table) == 4 and set(table["year"]) == {2019}
    assert set(table["quality"]) == {"gap"} and (table["observed_fraction"].fillna(0) == 0).all()
    assert not (table["area_km2"] == 0).any()  # a gap is not "no ice"


def test_run_follows_a_written_plan_with_overlapping_tiles(demo: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """`plan --out` then `run --plan`: the padded (overlapping) tile maps the same glacier areas."""
    import yaml

    from glacierscale.archive import open_archive

    cfg = yaml.safe_load((demo / "demo.yaml").read_text())
    cfg.update(archive=str(tmp_path / "archive"), cube_store=str(tmp_path / "cubes"))
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["plan", str(tmp_path / "run.yaml"), "--overlap", "16", "--out", str(tmp_path / "plan.parquet")]) == 0
    assert "1 tiles" in capsys.readouterr().out.replace(",", "")
    assert main(["run", str(tmp_path / "run.yaml"), "--plan", str(tmp_path / "plan.parquet"), "--years", "2023",
                 "--quiet"]) == 0
    got = open_archive(str(tmp_path / "archive")).table().set_index("glacier_id")["area_km2"]
    ref = open_archive(str(demo / "archive")).table()
    ref = ref[ref.year == 2023].set_index("glacier_id")["area_km2"]
    assert sorted(got.index) == sorted(ref.index)
    # the reference is the demo's 3-year run (temporal filter across years), this one maps 2023 alone with 16 px
    # more context on every side: 2.2 % of the largest glacier apart at most with model a27c6b37 (2026-12-05)
    assert np.abs(got - ref).max() < 0.03 * ref.max()
    (unit_id,) = open_archive(str(tmp_path / "archive")).units()
    (cube,) = (tmp_path / "cubes" / unit_id).glob("2023-*.zarr")
    ds = xr.open_zarr(str(cube), consolidated=False)
    assert ds.sizes["x"] == 384 + 2 * 16


def test_run_as_a_ray_job_on_a_started_cluster(demo: Path, tmp_path: Path) -> None:
    """The cluster path: `ray start --head`, then `ray job submit -- glacierscale run CONFIG` joins it."""
    import os
    import shutil
    import subprocess
    import sys

    from glacierscale.archive import open_archive
    from glacierscale.catalog.server import free_port

    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PATH": bin_dir + os.pathsep + os.environ["PATH"]}
    env.pop("RAY_ADDRESS", None)
    ray = shutil.which("ray", path=env["PATH"])
    assert ray
    dash, gcs = free_port(), free_port()
    subprocess.run([ray, "start", "--head", f"--port={gcs}", f"--dashboard-port={dash}", "--num-cpus=2",
                    "--include-dashboard=true", "--disable-usage-stats"], env=env, check=True, capture_output=True)
    try:
        archive = tmp_path / "job-archive"
        job = subprocess.run(
            [ray, "job", "submit", "--address", f"http://127.0.0.1:{dash}", "--",
             "glacierscale", "run", str(demo / "demo.yaml"), "--archive", str(archive), "--quiet"],
            env=env, capture_output=True, text=True, timeout=600)
        assert job.returncode == 0, job.stdout[-2000:] + job.stderr[-2000:]
        assert "succeeded" in (job.stdout + job.stderr).lower()
    finally:
        _stop_cluster_on_port(gcs)  # only the processes of this cluster: `ray stop` would stop every Ray here
    mine, theirs = open_archive(str(archive)).table(), open_archive(str(demo / "archive")).table()
    assert list(mine["glacier_id"]) == list(theirs["glacier_id"])
    np.testing.assert_allclose(mine["area_km2"], theirs["area_km2"])  # same cubes, same model: same areas


def test_bench_inference_reports_model_and_pipeline_throughput(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["bench", "inference", "--workdir", str(tmp_path / "bench"), "--quick", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["unit_years"] == 8 and r["pixels"] == 8 * 192 * 192
    assert r["model_px_per_s"] > 0 and r["pipeline_px_per_s"] > 0
    assert r["efficiency"] == pytest.approx(r["pipeline_px_per_s"] / r["model_px_per_s"])
    assert set(r["cold_cpu_seconds_per_tile_year"]) == {"select", "cube", "infer", "reduce", "stage"}
    assert r["cold_cpu_seconds_per_tile_year"]["cube"] > 0 and r["cold_cpu_seconds_per_tile_year"]["infer"] > 0
    assert 0 < r["fraction_of_peak"] < 1.5


def _stop_cluster_on_port(gcs_port: int) -> None:
    """Kill the processes of the Ray cluster whose GCS listens on ``gcs_port`` (found by their command lines)."""
    import psutil

    marks = (f":{gcs_port}", f"={gcs_port}")  # --gcs-address=127.0.0.1:PORT, --gcs_server_port=PORT
    procs = [p for p in psutil.process_iter(["cmdline"])
             if any(part.endswith(marks) for part in (p.info["cmdline"] or [])) and p.pid != os.getpid()]
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(procs, timeout=10)
    # what `ray stop` also does: forget the stopped cluster, or later `ray.init`s (Ray Train's) look for it
    current = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
    with contextlib.suppress(OSError):
        if current.read_text().strip().endswith(f":{gcs_port}"):
            current.unlink()

