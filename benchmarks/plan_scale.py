"""Plan a synthetic inventory of RGI 7.0 size (274,531 outlines in 19 region zips); time it and its peak memory.

    .venv/bin/python benchmarks/plan_scale.py [--workdir /tmp/glacierscale-plan-bench] [--years 2016:2024]

The inventory is generated once (benchmarks/plan_synthetic.py, cached in WORKDIR/rgi7-synthetic), then
``glacierscale plan --inventory WORKDIR/rgi7-synthetic --years YEARS --out WORKDIR/plan.parquet`` runs in a
child process: wall time, and peak RSS of that process (getrusage of children: reading the 19 shapefile zips,
selecting, tiling, writing the GeoParquet, printing the summary). Prints JSON with the numbers and
units per region; the acceptance limits are < 30 s and < 2 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plan_synthetic import TOTAL, write_rgi7_zips


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--workdir", default="/tmp/glacierscale-plan-bench")
    p.add_argument("--years", default="2016:2024")
    p.add_argument("--regenerate", action="store_true")
    args = p.parse_args()
    work = Path(args.workdir)
    inventory = work / "rgi7-synthetic"
    stats_file = work / "synthetic-stats.json"
    if args.regenerate or not stats_file.exists():
        t = time.perf_counter()
        stats = write_rgi7_zips(inventory)
        stats["generate_s"] = round(time.perf_counter() - t, 1)
        stats_file.write_text(json.dumps(stats))
    stats = json.loads(stats_file.read_text())
    out = work / "plan.parquet"
    cmd = [sys.executable, "-m", "glacierscale", "plan", "--inventory", str(inventory), "--years", args.years,
           "--out", str(out)]
    t = time.perf_counter()
    run = subprocess.run(cmd, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux: kilobytes
    plan = pd.read_parquet(out, columns=["unit_id", "year", "region", "n_glaciers", "epsg"])
    tiles = plan.drop_duplicates("unit_id")
    result = {
        "outlines": TOTAL, "vertices": stats["vertices"], "wall_s": round(wall, 1), "peak_rss_mb": round(peak_mb),
        "tiles": len(tiles), "work_units": len(plan), "crs": int(tiles["epsg"].nunique()),
        "tiles_per_region": {str(k): int(v) for k, v in tiles.groupby("region").size().items()},
        "command": " ".join(cmd[1:]), "ok": wall < 30 and peak_mb < 2048,
    }
    print(run.stdout)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
