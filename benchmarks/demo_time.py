"""Time `glacierscale demo` cold (fresh workdir: simulate + build cubes) and warm (workdir kept).

    .venv/bin/python benchmarks/demo_time.py [--workdir /tmp/demo-bench]

Prints wall seconds of each run and the per-stage timings of the warm run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path


def timed(workdir: Path) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "glacierscale", "demo", "--workdir", str(workdir), "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--workdir", default="/tmp/demo-bench")
    args = p.parse_args()
    work = Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    cold = timed(work)
    warm = timed(work)
    summary = json.loads((work / "demo-summary.json").read_text())
    print(json.dumps({"cold_s": round(cold, 1), "warm_s": round(warm, 1),
                      "mean_abs_rel_error": round(summary["mean_abs_rel_error"], 4),
                      "max_abs_rel_error": round(summary["max_abs_rel_error"], 4)}))


if __name__ == "__main__":
    main()
