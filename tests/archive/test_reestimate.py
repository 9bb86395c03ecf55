"""Publish re-estimates every year of the tiles a run wrote: a later year changes an earlier gap's fill."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import RES, plan, product, unit

from glacierscale.archive.query import open_archive
from glacierscale.archive.run import open_run

# a pixel's ground area is resolution² / the CRS's areal scale (reduce.areas.pixel_areas_km2): in UTM within 0.2 %
GROUND = 2e-3

U = unit(420, 4000, ("G1",))
PX = RES * RES / 1e6


def _publish(arch: str, tmp: Path, run_id: str, items: list[tuple[int, dict]]) -> None:
    years = [y for y, _ in items]
    w = open_run(arch, run_id, plan(run_id, [U], years), staging=str(tmp / "staging"))
    w.checkpoint([w.stage(product(U, y, **kw)) for y, kw in items])
    w.publish({})


def test_a_gap_is_carried_over_then_interpolated_when_the_next_year_arrives(tmp_path: Path) -> None:
    arch = str(tmp_path / "archive")
    _publish(arch, tmp_path, "r1", [(2021, {"ice_px": 20}), (2022, {"status": "gap"})])
    g = open_archive(arch).glacier("G1").set_index("year")
    assert g.loc[2022, "area_km2"] == pytest.approx(400 * PX, rel=GROUND)  # only 2021 is known: persistence, not retreat
    assert g.loc[2022, "area_unc_model_km2"] > 0 and g.loc[2022, "run_id"] == "r1"

    _publish(arch, tmp_path, "r2", [(2023, {"ice_px": 16})])
    g = open_archive(arch).glacier("G1").set_index("year")
    # 2022 now lies between 20² and 16² px of ice: the ring lost by 2023 counts half
    assert g.loc[2022, "area_km2"] == pytest.approx((256 + (400 - 256) / 2) * PX, rel=GROUND)
    assert g.loc[2022, "area_source"] == "years" and g.loc[2022, "change_excluded"] == "nothing observed"
    assert g.loc[2022, "run_id"] == "r1"  # re-estimated by r2's publish, still the year r1 mapped
    assert g.loc[2023, "run_id"] == "r2" and g.loc[2021, "area_km2"] == pytest.approx(400 * PX, rel=GROUND)
    rates = open_archive(arch).change_rates("G1")
    assert list(zip(rates["from_year"], rates["to_year"], strict=True)) == [(2021, 2023)]
