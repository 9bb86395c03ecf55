"""Where simulated Sentinel-2 pixels fall among real hand-labelled spectra, per class (exit 1 on a mismatch).

    .venv/bin/python benchmarks/spectra_check.py [--real ../shared/data/real/aberle-glacier-spectra] [--json]

Renders late-summer full-physics dates of a procedural region, groups clear pixels by class (snow, snow in
cast shadow, ice, rock, water, debris) and prints, per band, the simulated median, the real median and the
percentile of the real class at which the simulated median falls (docs/simulator.md, docs/model.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from glacierscale.simulate.spectra import check_spectra, format_table, real_spectra, simulated_spectra

DEFAULT_REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real" / "aberle-glacier-spectra"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--real", type=Path, default=DEFAULT_REAL)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--dates", type=int, default=4)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    checks = check_spectra(real_spectra(args.real), simulated_spectra(seed=args.seed, dates=args.dates))
    print(json.dumps([asdict(c) for c in checks], indent=1) if args.json else format_table(checks))
    return 0 if all(c.passed for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
