"""Cloud climate per region (``RegionSpec.cloud_climate``): cover per climate, "auto", the unchanged default."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sim_helpers import read_items

from glacierscale.cli import main
from glacierscale.errors import ConfigError
from glacierscale.simulate import RegionSpec, simulate
from glacierscale.simulate.atmosphere import scene_cloud_cover
from glacierscale.simulate.cloudclimate import CLIMATES, auto_climate, cloud_climate
from glacierscale.simulate.region import build_region

S2, LANDSAT = "sentinel-2-l2a", "landsat-c2-l2"
SMALL = RegionSpec(size_px=128, years=(2022, 2023), seed=3, physics="full", name="clouds")


def covers(name: str, n: int = 20000, seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array([scene_cloud_cover(rng, CLIMATES[name]) for _ in range(n)])


# --- the distributions -----------------------------------------------------------------------------------


def test_mean_cover_orders_the_climates_with_documented_values() -> None:
    mean = {name: float(covers(name).mean()) for name in CLIMATES}
    for name, value in mean.items():  # the means of docs/simulator.md's table, to ±0.02 over 20,000 scenes
        assert value == pytest.approx(CLIMATES[name].mean, abs=0.02), name
    assert mean["maritime"] - mean["mountain"] >= 0.12
    assert mean["mountain"] - mean["continental"] >= 0.18


def test_near_clear_and_overcast_shares_follow_the_sources() -> None:
    maritime, mountain, continental = covers("maritime"), covers("mountain"), covers("continental")
    # Svalbard: fewer than 10 % of overpasses cloud-free (Marshall 1994), ~20 % of Landsat 8 scenes clear over
    # Aavatsmark Glacier (Nowak & Czarnecki 2023): 15 % near-clear; <= 3 oktas 29-32 % of the time
    assert 0.13 <= np.mean(maritime <= 0.05) <= 0.18
    assert 0.20 <= np.mean(maritime <= 0.375) <= 0.32
    assert np.mean(maritime > 0.95) >= 0.15
    assert np.mean(mountain <= 0.05) < 0.02 and mountain.max() <= 0.85
    assert 0.28 <= np.mean(continental <= 0.05) <= 0.38 and continental.max() <= 0.85


def test_default_climate_draws_the_historical_cloud_fractions() -> None:
    # the formula scene_cloud_cover had before cloud climates existed: one beta draw per scene
    old = np.random.default_rng(2023)
    expected = [float(np.clip(old.beta(2.0, 2.0) * 0.9, 0, 0.85)) for _ in range(50)]
    a, b = np.random.default_rng(2023), np.random.default_rng(2023)
    assert [scene_cloud_cover(a) for _ in range(50)] == expected
    assert [scene_cloud_cover(b, cloud_climate("mountain", 10.78, 46.8)) for _ in range(50)] == expected
    assert a.random() == b.random() == old.random(), "no extra draw: the scene's later draws are unchanged"
    assert expected[:3] == pytest.approx([0.7645, 0.3371, 0.3250], abs=1e-4)


def test_default_spec_writes_the_scenes_simulated_before_cloud_climates(tmp_path: Path) -> None:
    assert SMALL.cloud_climate == "mountain"
    simulate(SMALL, tmp_path / "s", sensors=("s2", "landsat"), progress=False)
    cover = {c: [i["properties"]["eo:cloud_cover"] for i in read_items(tmp_path / "s", c)] for c in (S2, LANDSAT)}
    # written by the simulator at 3b44c6c (before this field) for the same spec
    assert cover[S2] == [15.6006, 65.8081, 6.5186, 80.896, 60.0647, 24.9878, 51.4771, 38.3911]
    assert cover[LANDSAT] == [32.6, 18.86, 42.06, 63.53]
    assert json.loads((tmp_path / "s" / "simulation.json").read_text())["cloud_climate"] == "mountain"


# --- auto --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("lon", "lat", "climate"), [
    (-73.2, -49.3, "maritime"),  # Southern Patagonian Icefield
    (-134.4, 58.6, "maritime"),  # Juneau Icefield, south-east Alaska
    (-148.05, 61.147, "maritime"),  # Coxe Glacier, Prince William Sound
    (170.2, -43.5, "maritime"),  # New Zealand Southern Alps
    (7.2, 61.7, "maritime"),  # Jostedalsbreen
    (-19.15, 63.74, "maritime"),  # Mýrdalsjökull
    (15.6, 78.9, "maritime"),  # Svalbard
    (76.43, 35.80, "continental"),  # Baltoro, Karakoram
    (94.3, 35.7, "continental"),  # Kunlun
    (-69.8, -30.0, "continental"),  # dry Andes
    (10.78, 46.80, "mountain"),  # Ötztal Alps
    (86.8, 28.07, "mountain"),  # Everest (monsoon)
])
def test_auto_picks_the_climate_of_the_place(lon: float, lat: float, climate: str) -> None:
    assert auto_climate(lon, lat) == climate
    assert cloud_climate("auto", lon, lat) is CLIMATES[climate]


def test_auto_region_resolves_at_its_centre() -> None:
    region = build_region(replace(SMALL, cloud_climate="auto", center_lon=-73.2, center_lat=-49.3, ela_m=1100))
    assert region.cloud_climate.name == "maritime"


# --- bad values --------------------------------------------------------------------------------------------


def test_bad_climate_is_refused_naming_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"RegionSpec\.cloud_climate must be one of 'mountain', 'maritime', "
                                          r"'continental', 'auto', got 'wet'"):
        simulate(replace(SMALL, cloud_climate="wet"), tmp_path / "s", progress=False)
    assert not (tmp_path / "s").exists(), "nothing is written"


def test_classic_physics_keeps_its_clouds(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cloud_climate 'maritime' needs physics='full'"):
        simulate(replace(SMALL, physics="classic", cloud_climate="maritime"), tmp_path / "s", progress=False)


# --- command line ------------------------------------------------------------------------------------------


def mean_s2_cover(root: Path) -> float:
    return float(np.mean([i["properties"]["eo:cloud_cover"] for i in read_items(root, S2)]))


def test_cli_maritime_run_is_cloudier_than_continental(tmp_path: Path) -> None:
    mean = {}
    for climate in ("maritime", "continental"):
        out = tmp_path / climate
        assert main(["simulate", "--cloud-climate", climate, "--size", "128", "--years", "2022:2023",
                     "--sensors", "s2", "--seed", "3", "--out", str(out), "--quiet"]) == 0
        assert json.loads((out / "simulation.json").read_text())["cloud_climate"] == climate
        mean[climate] = mean_s2_cover(out)
    assert len(read_items(tmp_path / "maritime", S2)) == 8
    # same dates and surfaces, only the cloud draws differ
    assert mean["maritime"] > mean["continental"] + 20, mean


def test_cli_bad_climate_exits_2_naming_the_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "--cloud-climate", "wet", "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    assert "--cloud-climate: invalid choice: 'wet'" in capsys.readouterr().err


def test_cli_classic_physics_refuses_another_climate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", "--physics", "classic", "--cloud-climate", "maritime", "--out", str(tmp_path / "o")])
    assert code == 2
    assert "--cloud-climate maritime needs --physics full" in capsys.readouterr().err
