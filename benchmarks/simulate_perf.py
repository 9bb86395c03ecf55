"""Seconds per sensor-year and peak memory of `glacierscale simulate` over a real DEM with real outlines.

    .venv/bin/python benchmarks/simulate_perf.py [--region oetztal|baltoro] [--years 2021:2022] [--json]

Each sensor runs in its own `glacierscale simulate` process (region building included, as a user pays it);
peak memory is that process's maximum resident set size. The 10 km × 10 km windows: Ötztal around
(10.80 E, 46.84 N) on the SRTM clip with 20 RGI 5 outlines; Baltoro around (76.40 E, 35.74 N), SRTM + the
Baltoro outline. Data are read from ../shared/data/real.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "oggm-sample-data"
REGIONS = {
    "oetztal": (REAL / "oetztal" / "srtm_oetztal.tif", REAL / "oetztal" / "rgi_oetztal.shp", 10.80, 46.84),
    "baltoro": (REAL / "himalaya_karakoram" / "baltoro_srtm_clip.tif", REAL / "himalaya_karakoram" / "baltoro_wgs84.shp",
                76.40, 35.74),
}


def run(sensor: str, region: str, years: str, out: Path) -> dict[str, float | str]:
    dem, outlines, lon, lat = REGIONS[region]
    cmd = [sys.executable, "-m", "glacierscale", "simulate", "--dem", str(dem), "--outlines", str(outlines),
           "--lon", str(lon), "--lat", str(lat), "--size", "1000", "--years", years, "--sensors", sensor,
           "--out", str(out), "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({status})")
    n_years = len(json.loads((out / "simulation.json").read_text())["years"])
    return {"sensor": sensor, "seconds": round(seconds, 2), "seconds_per_sensor_year": round(seconds / n_years, 2),
            "peak_mb": round(usage.ru_maxrss / 1024, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--region", choices=sorted(REGIONS), default="oetztal")
    ap.add_argument("--years", default="2021:2022")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for sensor in ("s2", "s1", "landsat", "dem"):
            rows.append(run(sensor, args.region, args.years, Path(tmp) / sensor))
    if args.json:
        print(json.dumps({"region": args.region, "years": args.years, "rows": rows}, indent=1))
        return
    print(f"{args.region} 10 km × 10 km, years {args.years}")
    print(f"{'sensor':8} {'seconds':>8} {'s/sensor-year':>14} {'peak MB':>8}")
    for r in rows:
        print(f"{r['sensor']:8} {r['seconds']:8} {r['seconds_per_sensor_year']:14} {r['peak_mb']:8}")


if __name__ == "__main__":
    main()
