"""End to end: `glacierscale demo` through every stage (real rustac server, real local Ray, icechunk)."""

from __future__ import annotations

import json
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


def test_demo_areas_are_within_15_percent_of_truth(demo: Path) -> None:
    summary = json.loads((demo / "demo-summary.json").read_text())
    rows = summary["rows"]
    assert len(rows) == 4 * 3  # four glaciers, three years
    worst = max(rows, key=lambda r: abs(r["rel_error"]))
    assert abs(worst["rel_error"]) < 0.15, worst
    # the debris-covered glacier is mapped whole, not just its clean upper part
    assert summary["mean_abs_rel_error"] < 0.10


def test_archive_reopens_with_xarray_through_icechunk(demo: Path) -> None:
    import icechunk
    import rioxarray  # noqa: F401

    repo = icechunk.Repository.open(icechunk.local_filesystem_storage(str(demo / "archive")))
    store = repo.readonly_session(branch="main").store
    areas = xr.open_zarr(store, group="areas", consolidated=False)
    assert list(areas["year"].values) == [2021, 2022, 2023]
    assert len(areas["glacier"]) == 4
    import zarr

    (unit_id,) = list(zarr.open_group(store, mode="r")["units"].group_keys())
    ds = xr.open_zarr(store, group=f"units/{unit_id}", consolidated=False, decode_coords="all")
    assert ds.rio.crs.to_epsg() == 32632
    assert list(ds["year"].values) == [2021, 2022, 2023]
    assert ds.sizes["x"] == ds.sizes["y"] == 384
    assert float(ds.x[1] - ds.x[0]) == 20.0 and float(ds.y[1] - ds.y[0]) == -20.0
    sim = json.loads((demo / "catalog" / "simulation.json").read_text())
    left, _, _, top = sim["bounds"]
    assert float(ds.x[0]) == left + 10 and float(ds.y[0]) == top - 10  # pixel centres on the simulated grid
    classes = ds["classes"].sel(year=2023).values  # 255 (nodata) is the fill value: decoded as NaN
    assert set(np.unique(classes[np.isfinite(classes)]).astype(int)) <= {0, 1, 2}
    assert (classes == 2).sum() > 0, "debris-covered ice must be mapped"


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


def test_empty_search_is_a_clear_error(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(demo / "demo.yaml"), "--years", "2019", "--archive", str(demo / "other-archive"),
                 "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "no sentinel-2-l2a scene" in err and "2019-07-15" in err and "2019-09-30" in err
    assert not (demo / "other-archive").exists()


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
    assert np.abs(got - ref).max() < 0.02 * ref.max()
    ds = xr.open_zarr(str(tmp_path / "cubes" / f"{open_archive(str(tmp_path / 'archive')).units()[0]}.zarr"),
                      consolidated=False)
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
    dash = free_port()
    subprocess.run([ray, "start", "--head", f"--port={free_port()}", f"--dashboard-port={dash}", "--num-cpus=2",
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
        subprocess.run([ray, "stop", "--force"], env=env, capture_output=True)
    mine, theirs = open_archive(str(archive)).table(), open_archive(str(demo / "archive")).table()
    assert list(mine["glacier_id"]) == list(theirs["glacier_id"])
    np.testing.assert_allclose(mine["area_km2"], theirs["area_km2"])  # same cubes, same model: same areas


def test_bench_inference_reports_model_and_pipeline_throughput(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["bench", "inference", "--workdir", str(demo), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["pixels"] == 3 * 384 * 384
    assert r["model_px_per_s"] > r["pipeline_px_per_s"] > 0
    assert r["efficiency"] == pytest.approx(r["pipeline_px_per_s"] / r["model_px_per_s"])
    assert 0 < r["fraction_of_peak"] < 1.5
