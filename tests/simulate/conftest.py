"""Fixtures for the simulator tests: a full-physics procedural scene set and scenes over real data.

Real data are read from ../shared/data/real beside the repository; tests that need them skip when absent.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from sim_helpers import OETZTAL_DEM, OETZTAL_RGI, CliRun, need_real, read_items

from glacierscale.simulate import Region, RegionSpec, SceneSet, build_region, simulate

# 7.68 km, one year, four dates: a low June snow line, then three end-of-season scenes; every sensor
FULL_SPEC = RegionSpec(size_px=768, years=(2022,), seed=5, physics="full", dates=("06-20", "08-12", "08-25", "09-08"),
                       name="full")
ALL = ("s2", "s1", "landsat", "dem")


@pytest.fixture(scope="session")
def full_scenes(tmp_path_factory: pytest.TempPathFactory) -> SceneSet:
    """The full-physics procedural scene set, written once per session (~8 s)."""
    return simulate(FULL_SPEC, tmp_path_factory.mktemp("full-sim"), sensors=ALL, progress=False)


@pytest.fixture(scope="session")
def full_region() -> Region:
    """The in-memory region behind ``full_scenes`` (the simulator's own surfaces and masks)."""
    return build_region(FULL_SPEC)


@pytest.fixture(scope="session")
def oetztal_cli(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    """`glacierscale simulate` over the Ötztal SRTM DEM and 20 RGI outlines: 10 km × 10 km, one year, all sensors."""
    need_real()
    out = tmp_path_factory.mktemp("oetztal") / "scenes"
    code = (
        "import resource, sys, time\n"
        "from glacierscale.cli import main\n"
        "t = time.perf_counter()\n"
        "rc = main(sys.argv[1:])\n"
        "print('SECONDS', time.perf_counter() - t)\n"
        "print('PEAK_MB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
        "sys.exit(rc)\n"
    )
    args = ["simulate", "--dem", str(OETZTAL_DEM), "--outlines", str(OETZTAL_RGI), "--lon", "10.80", "--lat", "46.84",
            "--size", "1000", "--years", "2022", "--seed", "11", "--out", str(out), "--quiet"]
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if line.startswith(("SECONDS", "PEAK_MB")))
    scenes = sum(len(read_items(out, c)) for c in ("sentinel-2-l2a", "sentinel-1-rtc", "landsat-c2-l2"))
    return CliRun(out=out, seconds=float(lines["SECONDS"]), peak_mb=float(lines["PEAK_MB"]), scene_count=scenes)
