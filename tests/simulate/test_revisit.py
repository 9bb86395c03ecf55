"""Realistic revisit (``RegionSpec.revisit="real"``): scenes per sensor era, what is written, and "fixed" unchanged."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from sim_helpers import read_items

from glacierscale.cli import main
from glacierscale.errors import ConfigError
from glacierscale.simulate import RegionSpec, simulate
from glacierscale.simulate.revisit import in_orbit, scenes_per_season
from glacierscale.simulate.scene import _plan

S2, S1, LANDSAT = "sentinel-2-l2a", "sentinel-1-rtc", "landsat-c2-l2"
ALPS = 46.8  # the procedural default latitude
SMALL = RegionSpec(size_px=128, years=(2023,), seed=3, revisit="real", name="revisit")


def written(root: Path) -> dict[str, int]:
    """Return the number of items written per collection (0 for a collection not written)."""
    return {c: len(read_items(root, c)) if (root / c).is_dir() else 0 for c in (S2, S1, LANDSAT)}


# --- counts per era --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("sensor", "year", "satellites", "scenes"), [
    ("s2", 2013, (), 0),  # before Sentinel-2A
    ("s1", 2013, (), 0),  # before Sentinel-1A
    ("s2", 2016, ("Sentinel-2A",), 8),  # 10-day revisit
    ("s1", 2016, ("Sentinel-1A",), 5),  # Sentinel-1B only from 26 Sep 2016, after the season
    ("landsat", 2016, ("Landsat 8",), 5),
    ("s2", 2020, ("Sentinel-2A", "Sentinel-2B"), 17),  # 5-day revisit
    ("s1", 2020, ("Sentinel-1A", "Sentinel-1B"), 9),  # 6-day repeat
    ("s1", 2023, ("Sentinel-1A",), 5),  # Sentinel-1B failed on 23 Dec 2021
    ("landsat", 2023, ("Landsat 8", "Landsat 9"), 11),
    ("landsat", 2010, ("Landsat 7",), 5),
    ("s2", 2025, ("Sentinel-2B", "Sentinel-2C"), 17),  # 2C replaced 2A
    ("s1", 2025, ("Sentinel-1A", "Sentinel-1C"), 9),  # 1C from 26 Mar 2025
])
def test_scenes_per_season_follow_the_satellites_in_orbit(sensor: str, year: int, satellites: tuple[str, ...],
                                                          scenes: int) -> None:
    assert in_orbit(sensor, year, ALPS) == satellites
    assert scenes_per_season(sensor, year, ALPS) == scenes


def test_overlapping_orbits_give_more_optical_scenes_towards_the_poles() -> None:
    s2 = [scenes_per_season("s2", 2020, lat) for lat in (30.0, ALPS, 61.0, 78.0)]
    assert s2 == [13, 17, 24, 56]  # Himalaya, Alps, Alaska, Svalbard (one a day, the cap)
    assert scenes_per_season("s1", 2020, 78.0) == 9  # planned acquisitions: no sidelap gain


def test_southern_season_counts_a_satellite_for_the_days_it_served() -> None:
    # 1 Feb - 28 Mar 2017: Sentinel-2B (from 7 Mar) serves 22 of the 56 days
    assert in_orbit("s2", 2017, -49.3) == ("Sentinel-2A", "Sentinel-2B")
    assert scenes_per_season("s2", 2016, -49.3) == 9
    assert scenes_per_season("s2", 2017, -49.3) == 12
    assert scenes_per_season("s2", 2020, -49.3) == 18
    assert scenes_per_season("s2", 2015, -49.3) == 0  # the 2015 austral summer was before Sentinel-2A


# --- what simulate writes --------------------------------------------------------------------------------


def test_real_revisit_writes_the_era_counts(tmp_path: Path) -> None:
    simulate(SMALL, tmp_path / "s", sensors=("s2", "s1", "landsat", "dem"), progress=False)
    assert written(tmp_path / "s") == {S2: 17, S1: 5, LANDSAT: 11}
    assert json.loads((tmp_path / "s" / "simulation.json").read_text())["revisit"] == "real"


def test_real_revisit_before_sentinel_writes_landsat_only(tmp_path: Path) -> None:
    scenes = simulate(replace(SMALL, years=(2013,)), tmp_path / "s", sensors=("s2", "s1", "landsat", "dem"),
                      progress=False)
    assert written(tmp_path / "s") == {S2: 0, S1: 0, LANDSAT: 5}
    assert sorted(scenes.collections) == ["cop-dem-glo-30", LANDSAT]
    assert (tmp_path / "s" / "truth" / "truth_classes_2013.tif").is_file()


def test_real_revisit_keeps_explicit_dates_only_while_a_satellite_served() -> None:
    spec = replace(SMALL, years=(2014, 2016), dates=("08-10", "09-01"))
    plan = Counter((s, d.year) for s, d in _plan(spec, spec.years, ("s2", "s1", "landsat"), False))
    # 2014: no Sentinel-2 yet, Sentinel-1A only from October; 2016: every sensor on both dates
    assert plan == {("landsat", 2014): 2, ("s2", 2016): 2, ("s1", 2016): 2, ("landsat", 2016): 2}


def test_fixed_revisit_keeps_the_classic_dates() -> None:
    spec = RegionSpec(size_px=128, years=(2021, 2022), seed=3, physics="full")
    assert spec.revisit == "fixed"
    plan = _plan(spec, spec.years, ("s2", "s1", "landsat", "dem"), True)
    assert Counter(s for s, _ in plan) == {"s2": 8, "s1": 4, "landsat": 4}
    # the dates the simulator drew for this spec before revisit existed (same seed, same scenes)
    got = [(s, d.isoformat()) for s, d in plan if d.year == 2021]
    assert got == [("s2", "2021-08-29T10:30:00"), ("s2", "2021-09-08T10:30:00"), ("s2", "2021-09-18T10:30:00"),
                   ("s2", "2021-09-20T10:30:00"), ("s1", "2021-08-05T05:30:00"), ("s1", "2021-08-26T17:15:00"),
                   ("landsat", "2021-09-06T10:00:00"), ("landsat", "2021-09-15T10:00:00")]


def test_bad_revisit_is_refused_naming_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"RegionSpec\.revisit must be 'fixed' or 'real', got 'weekly'"):
        simulate(replace(SMALL, revisit="weekly"), tmp_path / "s", progress=False)
    assert not (tmp_path / "s").exists(), "nothing is written"


# --- command line ----------------------------------------------------------------------------------------


def test_cli_revisit_real(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    assert main(["simulate", "--revisit", "real", "--size", "128", "--years", "2016", "--sensors", "s2,s1",
                 "--out", str(out), "--quiet"]) == 0
    assert written(out) == {S2: 8, S1: 5, LANDSAT: 0}


def test_cli_revisit_default_is_fixed_and_bad_values_are_refused(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sim"
    assert main(["simulate", "--size", "128", "--years", "2016", "--sensors", "s2,s1", "--out", str(out),
                 "--quiet"]) == 0
    assert written(out) == {S2: 4, S1: 2, LANDSAT: 0}
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "--revisit", "weekly", "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    assert "--revisit: invalid choice: 'weekly'" in capsys.readouterr().err
