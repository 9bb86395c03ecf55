"""``glacierscale bench pipeline``: the real driver, ledger, staging and archive commits with stand-in stages.

Each size runs in a fresh process (``python -m glacierscale.pipeline.bench --units N``): a synthetic inventory
of N glaciers, one per 16-px tile of one UTM zone, one year, the stand-in stages of ``standins.py`` (no catalog,
tiny cubes, a 1×1 model, the real reducer), the real archive on local disk. It reports the driver's peak RSS
(sampled every 0.1 s), seconds from the first item submitted to ``main`` published, per-item milliseconds and
the seconds spent in archive commits.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

TILE_PX = 16
RES_M = 20.0


def _inventory(path: Path, n: int) -> None:
    import geopandas as gpd
    from shapely.geometry import box

    span = TILE_PX * RES_M
    side = int(n**0.5 + 0.999)
    x0, y0 = 300 * span * 4, 5_120_000.0  # inside UTM 32N, away from the zone edges
    geoms, ids = [], []
    for i in range(n):
        c, r = i % side, i // side
        cx, cy = x0 + (c + 0.5) * span, y0 + (r + 0.5) * span
        geoms.append(box(cx - 60, cy - 60, cx + 60, cy + 60))
        ids.append(f"BENCH-{i:06d}")
    gpd.GeoDataFrame({"glacier_id": ids}, geometry=geoms, crs=32632).to_file(path)


class PeakRss:
    """Samples this process's resident memory in a background thread; ``peak_mb`` is the maximum seen.

    ``parts_mb`` splits the peak sample into anonymous memory (the heaps: Python, Rust, malloc arenas), file
    pages (mapped libraries) and shared memory (Ray's object store pages the driver touched), where Linux says.
    """

    def __init__(self, every_s: float = 0.1) -> None:
        import psutil

        self.proc, self.every_s, self.peak = psutil.Process(), every_s, 0
        self.parts_mb: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        rss = self.proc.memory_info().rss
        if rss >= self.peak:
            self.peak = rss
            self.parts_mb = _rss_parts()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(self.every_s)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20


def _rss_parts() -> dict[str, float]:
    """Return RssAnon / RssFile / RssShmem of this process in MB ({} where /proc does not say)."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return {}
    out = {}
    for line in lines:
        name, _, value = line.partition(":")
        if name in ("RssAnon", "RssFile", "RssShmem"):
            out[name[3:].lower()] = round(int(value.split()[0]) / 1024, 1)
    return out


def bench_one(units: int, workdir: Path, *, batch_items: int = 256, in_flight: int = 0) -> dict[str, Any]:
    """Run ``units`` stand-in items through the real run machinery; return the measured figures."""
    import ray

    from glacierscale.config import build_run_config
    from glacierscale.pipeline.run import run_pipeline
    from glacierscale.pipeline.standins import StandinFactory

    inv = workdir / "inventory.gpkg"
    _inventory(inv, units)
    cfg = build_run_config({
        "name": f"bench{units}", "catalog": {"url": "http://stand-in.invalid/stac", "provider": "local"},
        "inventory": str(inv), "years": [2021], "archive": str(workdir / "archive"),
        "cube_store": str(workdir / "cubes"), "grid": {"resolution": RES_M, "tile_size": TILE_PX, "margin_m": 0,
                                                      "overlap_px": 0},
        "stream": {"batch_items": batch_items, "max_in_flight": in_flight}, "infer": {"num_cpus": 0.5},
    }, "bench pipeline")
    from glacierscale.pipeline.committer import CommitterProcess
    from glacierscale.pipeline.context import LOCAL_RAY_SYSTEM_CONFIG

    stream_peak: list[float] = []
    publish = CommitterProcess.publish

    def timed_publish(self: CommitterProcess, summary: dict[str, Any]) -> str | None:
        stream_peak.append(rss.peak_mb)  # the driver's peak while items streamed, before the publish step
        return publish(self, summary)

    CommitterProcess.publish = timed_publish  # type: ignore[method-assign]
    ray.init(address="local", num_cpus=max(2, os.cpu_count() or 2), include_dashboard=False, log_to_driver=False,
             _system_config=LOCAL_RAY_SYSTEM_CONFIG)
    try:
        with PeakRss() as rss:
            t0, cpu0 = time.perf_counter(), time.process_time()
            result = run_pipeline(cfg, progress=False, stages=StandinFactory())
            seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        ray.shutdown()
    items = int(result.summary["items"])
    published = int(result.summary["counts"].get("published", 0))
    return {"units": units, "items": items, "published": published, "seconds": round(seconds, 3),
            "driver_peak_rss_mb": round(rss.peak_mb, 1),
            "driver_stream_peak_rss_mb": round(stream_peak[0], 1) if stream_peak else None,
            "driver_peak_rss_parts_mb": rss.parts_mb,
            "per_item_ms": round(1000 * seconds / max(1, items), 3),
            # the driver process's own CPU (loop, ledger, commits) per item: less sensitive to others' load
            "driver_cpu_ms_per_item": round(1000 * cpu / max(1, items), 3),
            "stream_seconds": round(result.seconds.get("stream", 0.0), 3),
            "commit_seconds": round(result.seconds.get("commits", 0.0) + result.seconds.get("publish", 0.0), 3),
            "checkpoint_seconds": round(result.seconds.get("commits", 0.0), 3),  # run-branch commits (background)
            "publish_seconds": round(result.seconds.get("publish", 0.0), 3),  # main moves: glacier records, once
            "per_item_ms_before_publish": round(1000 * (seconds - result.seconds.get("publish", 0.0)) / max(1, items),
                                                3),
            "archive_rows": len(result.areas)}


def bench_pipeline(sizes: list[int], *, batch_items: int = 256) -> list[dict[str, Any]]:
    """Run each size in a fresh Python process (so peaks do not carry over); return one record per size."""
    out = []
    for n in sizes:
        proc = subprocess.run([sys.executable, "-m", "glacierscale.pipeline.bench", "--units", str(n),
                               "--batch-items", str(batch_items)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            from glacierscale.errors import GlacierscaleError

            raise GlacierscaleError(f"bench pipeline with {n} units failed: {proc.stderr.strip()[-2000:]}")
        out.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="one size of `glacierscale bench pipeline` (in its own process)")
    p.add_argument("--units", type=int, required=True)
    p.add_argument("--batch-items", type=int, default=256)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gs-bench-pipeline-") as tmp:
        print(json.dumps(bench_one(args.units, Path(tmp), batch_items=args.batch_items)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
