"""Change rates from the archive: gaps skipped (never read as retreat), rate ± uncertainty, signal-to-noise."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import RES, plan, product, unit

from glacierscale.archive.query import open_archive
from glacierscale.archive.run import open_run
from glacierscale.cli import main

# a pixel's ground area is resolution² / the CRS's areal scale (reduce.areas.pixel_areas_km2): in UTM within 0.2 %
GROUND = 2e-3

U1 = unit(410, 4000, ("G1", "G2"))
PX = RES * RES / 1e6


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> str:
    """G1, G2: 20 × 20 px in 2020, no view at all in 2021, 12 × 12 px in 2022, 11 × 11 px in 2023."""
    tmp = tmp_path_factory.mktemp("changes")
    arch = str(tmp / "archive")
    years = [2020, 2021, 2022, 2023]
    w = open_run(arch, "r1", plan("r1", [U1], years), staging=str(tmp / "staging"))
    w.checkpoint([w.stage(product(U1, 2020, ice_px=20)), w.stage(product(U1, 2021, status="gap")),
                  w.stage(product(U1, 2022, ice_px=12)), w.stage(product(U1, 2023, ice_px=11))])
    w.publish({})
    return arch


def test_a_gap_year_is_skipped_and_its_estimate_lies_between_its_neighbours(archive: str) -> None:
    a = open_archive(archive)
    g1 = a.glacier("G1").set_index("year")
    assert g1.loc[2021, "quality"] == "gap" and g1.loc[2021, "change_excluded"] == "nothing observed"
    assert 144 * PX < g1.loc[2021, "area_km2"] < 400 * PX  # interpolated in time, not 0, not a retreat to 0
    rates = a.change_rates("G1")
    assert list(zip(rates["from_year"], rates["to_year"], strict=True)) == [(2020, 2022), (2022, 2023)]
    first, second = rates.iloc[0], rates.iloc[1]
    assert first["skipped_years"] == "2021"
    assert first["change_km2"] == pytest.approx((144 - 400) * PX, rel=GROUND)
    assert first["rate_km2_per_yr"] == pytest.approx((144 - 400) * PX / 2, rel=GROUND)
    unc = np.hypot(g1.loc[2020, "area_unc_km2"], g1.loc[2022, "area_unc_km2"])
    assert first["change_unc_km2"] == pytest.approx(unc, rel=GROUND)
    assert first["rate_unc_km2_per_yr"] == pytest.approx(unc / 2, rel=GROUND)
    assert first["significant"] and first["snr"] == pytest.approx(256 * PX / unc, rel=GROUND)
    # 144 → 121 px: 0.0092 km² against a 1σ of ≈ 0.013 km² at 20 m pixels: within the noise, and said so
    assert second["change_km2"] == pytest.approx((121 - 144) * PX, rel=GROUND) and not second["significant"]


def test_cli_prints_changes_and_refuses_a_bad_fraction(archive: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["query", archive, "--glacier", "G2", "--changes", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["from_year"], r["to_year"]) for r in rows] == [(2020, 2022), (2022, 2023)]
    assert rows[0]["skipped_years"] == "2021" and rows[0]["significant"] is True
    assert main(["query", archive, "--glacier", "G2", "--changes"]) == 0
    assert "noise" in capsys.readouterr().out  # the second change is within the noise
    assert main(["query", archive, "--glacier", "G2", "--changes", "--min-observed", "1.5"]) == 2
    assert "--min-observed 1.5: must be a fraction between 0 and 1" in capsys.readouterr().err
