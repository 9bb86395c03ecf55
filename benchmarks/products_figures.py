"""Acceptance figures of the change products with the stand-in model under a chosen cloud cover (docs/products.md).

Runs the scenario of tests/archive/test_products_acceptance.py (default `simulate` region, stand-in model,
real reducer and archive publish) with the per-year cloud cover given, and prints the area error, change signs
and uncertainty coverage:

    .venv/bin/python benchmarks/products_figures.py --cover 0.28,0.20,0.10    # the test's calibrated clouds
    .venv/bin/python benchmarks/products_figures.py --cover 0.45,0.70,0.15    # harsher
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _scenario() -> object:
    path = HERE.parent / "tests" / "archive" / "test_products_acceptance.py"
    spec = importlib.util.spec_from_file_location("products_acceptance", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class _Tmp:
    def __init__(self, root: Path) -> None:
        self.root = root

    def mktemp(self, name: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=name, dir=self.root))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cover", default="0.28,0.20,0.10", help="cloud cover per year 2021,2022,2023")
    args = ap.parse_args()
    scenario = _scenario()
    scenario.COVER = tuple(float(c) for c in args.cover.split(","))  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as tmp:
        table, _, _ = scenario.mapped.__wrapped__(_Tmp(Path(tmp)))  # type: ignore[attr-defined]
    err = (table["area_km2"] - table["true_km2"]).abs() / table["true_km2"]
    observed = (table["observed_area_km2"].fillna(0) - table["true_km2"]).abs() / table["true_km2"]
    pairs = right = 0
    for _, g in table.sort_values("year").groupby("glacier_id"):
        a, t = g["area_km2"].to_numpy(), g["true_km2"].to_numpy()
        for i in range(len(g) - 1):
            if abs(t[i + 1] - t[i]) / t[i] > 0.01:
                pairs += 1
                right += int(np.sign(a[i + 1] - a[i]) == np.sign(t[i + 1] - t[i]))
    inside = (table["area_km2"] - table["true_km2"]).abs() <= 1.96 * table["area_unc_km2"]
    print(json.dumps({"cover": args.cover, "mean_err": round(float(err.mean()), 4), "max_err": round(float(err.max()), 4),
                      "observed_only_mean_err": round(float(observed.mean()), 4), "signs_right": f"{right}/{pairs}",
                      "within_1.96_sigma": f"{int(inside.sum())}/{len(inside)}"}))


if __name__ == "__main__":
    main()
