"""The change products of the real run: default `simulate` region (clouds and all) → `run` (shipped model, Ray).

The issue's acceptance figures are asserted as they are (model a27c6b37, 2026-12-05: area error mean 2.6 %, max
3.8 %, 6/6 change signs, 12/12 within ±1.96σ; docs/products.md). What must hold whatever the model does — a gap
never reads as retreat, every estimate says where it came from — is asserted too.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from glacierscale.archive.query import open_archive
from glacierscale.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run_table(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, str]:
    tmp = tmp_path_factory.mktemp("products-run")
    sim, arch = tmp / "S", tmp / "archive"
    assert main(["simulate", "--out", str(sim), "--quiet"]) == 0
    assert main(["run", "--catalog", str(sim), "--inventory", str(sim / "inventory.gpkg"), "--years", "2021:2023",
                 "--archive", str(arch), "--quiet"]) == 0
    truth = gpd.read_file(sim / "truth" / "truth_outlines.gpkg")[["glacier_id", "year", "area_km2"]]
    table = open_archive(str(arch)).table().merge(truth.rename(columns={"area_km2": "true_km2"}),
                                                  on=["glacier_id", "year"])
    return table, str(arch)


def figures(table: pd.DataFrame) -> dict[str, float]:
    """Return the acceptance figures: area error mean/max, change signs right, truth within ±1.96σ."""
    err = (table["area_km2"] - table["true_km2"]).abs() / table["true_km2"]
    pairs = right = 0
    for _, g in table.sort_values("year").groupby("glacier_id"):
        a, t = g["area_km2"].to_numpy(), g["true_km2"].to_numpy()
        for i in range(len(g) - 1):
            if abs(t[i + 1] - t[i]) / t[i] > 0.01:
                pairs += 1
                right += int(np.sign(a[i + 1] - a[i]) == np.sign(t[i + 1] - t[i]))
    inside = (table["area_km2"] - table["true_km2"]).abs() <= 1.96 * table["area_unc_km2"]
    return {"mean_err": float(err.mean()), "max_err": float(err.max()), "signs_right": right / max(pairs, 1),
            "pairs": pairs, "within_unc": float(inside.mean())}


def test_a_gap_never_reads_as_retreat_and_every_area_names_its_source(run_table) -> None:
    table, arch = run_table
    assert len(table) == 4 * 3
    assert (table["area_km2"] >= table["observed_area_km2"] - 1e-9).all()  # filling only adds what clouds hid
    hidden = table["observed_fraction"] < 0.999
    assert (table.loc[hidden, "filled_km2"] > 0).all() and table.loc[hidden, "area_source"].str.contains("years").all()
    assert (table["area_unc_km2"] >= table["area_unc_boundary_km2"]).all()
    rates = open_archive(arch).change_rates()
    assert len(rates) >= 1 and set(rates["glacier_id"]) <= set(table["glacier_id"])


def test_issue_13_acceptance_figures(run_table) -> None:
    table, _ = run_table
    f = figures(table)
    print(f"\nrun on the default simulate region: {f}")
    assert f["mean_err"] <= 0.03 and f["max_err"] <= 0.06, f
    assert f["pairs"] >= 1 and f["signs_right"] >= 0.9, f
    assert f["within_unc"] >= 0.9, f
