"""The publish of a small update on a large archive: seconds and the driver's memory during the publish.

    .venv/bin/python benchmarks/publish_scope.py build /tmp/pubscope 4096   # an archive of 4,096 tiles, 2021
    .venv/bin/python benchmarks/publish_scope.py after /tmp/pubscope        # a 64-unit update (2022): prints
                                                                             # publish_s, committer_peak_rss_mb

Stand-in stages (``pipeline/standins.py``), the real driver, staging and icechunk archive. The second step
copies the base archive first, so it can run once per code version (``git stash`` between them); the label
(``after``) names the copy. The publish runs in the run's committer process (``pipeline/committer.py``):
``committer_peak_rss_mb`` is that process's high-water mark (VmHWM), ``driver_rss_delta_mb`` what the driver
grew during the publish.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import psutil
import ray

from glacierscale.config import RunConfig, build_run_config
from glacierscale.pipeline.bench import RES_M, TILE_PX, _inventory
from glacierscale.pipeline.committer import CommitterProcess
from glacierscale.pipeline.run import run_pipeline
from glacierscale.pipeline.standins import StandinFactory


def _cfg(work: Path, name: str, inv: Path, years: list[int], arch: Path) -> RunConfig:
    return build_run_config({
        "name": name, "catalog": {"url": "http://stand-in.invalid/stac", "provider": "local"},
        "inventory": str(inv), "years": years, "archive": str(arch), "cube_store": str(work / "cubes"),
        "grid": {"resolution": RES_M, "tile_size": TILE_PX, "margin_m": 0, "overlap_px": 0},
        "stream": {"batch_items": 256}, "infer": {"num_cpus": 0.5}}, "publish_scope")


def build(work: Path, n: int) -> None:
    """An archive of ``n`` one-glacier tiles for 2021, and a 64-glacier inventory of its first tiles."""
    work.mkdir(parents=True, exist_ok=True)
    _inventory(work / "big.gpkg", n)
    gpd.read_file(work / "big.gpkg").head(64).to_file(work / "small.gpkg")
    run_pipeline(_cfg(work, "big", work / "big.gpkg", [2021], work / "base"), progress=False,
                 stages=StandinFactory())


def update(work: Path, label: str) -> dict[str, Any]:
    """Run the 64-unit update for 2022 on a copy of the base archive; return the publish's figures."""
    arch = work / f"arch-{label}"
    shutil.rmtree(arch, ignore_errors=True)
    shutil.copytree(work / "base", arch)
    proc, out = psutil.Process(), {}
    publish = CommitterProcess.publish

    def timed(self: CommitterProcess, summary: dict[str, Any]) -> str | None:
        r0 = proc.memory_info().rss
        t0 = time.perf_counter()
        snap = publish(self, summary)
        out.update(publish_s=round(time.perf_counter() - t0, 2), committer_peak_rss_mb=_hwm_mb(self.proc.pid),
                   driver_rss_delta_mb=round((proc.memory_info().rss - r0) / 2**20, 1))
        return snap

    CommitterProcess.publish = timed  # type: ignore[method-assign]
    result = run_pipeline(_cfg(work, "small", work / "small.gpkg", [2022], arch), progress=False,
                          stages=StandinFactory())
    return {**out, "rows": len(result.areas)}


def _hwm_mb(pid: int) -> float:
    """Return the process's peak resident memory (VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def main() -> None:
    mode, work = sys.argv[1], Path(sys.argv[2])
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        if mode == "build":
            build(work, int(sys.argv[3]))
        else:
            print(json.dumps(update(work, mode)))
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
