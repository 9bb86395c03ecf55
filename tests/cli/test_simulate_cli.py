"""`glacierscale simulate` flags: a region that fills whole run tiles, and flag errors that say what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from glacierscale.cli import main


def test_grid_m_makes_the_region_one_run_tile(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    assert main(["simulate", "--size", "256", "--grid-m", "2560", "--years", "2022", "--sensors", "s2",
                 "--out", str(out), "--quiet"]) == 0
    left, bottom, right, top = json.loads((out / "simulation.json").read_text())["bounds"]
    assert (right - left, top - bottom) == (2560.0, 2560.0)
    assert left % 2560 == 0 and top % 2560 == 0  # a tile of a 256 px × 10 m run grid


@pytest.mark.parametrize(("flags", "message"), [
    (["--size", "255"], "--size 255: must be an even number"),
    (["--grid-m", "5"], "--grid-m 5.0: must be at least 20 m"),
    (["--sensors", "s2,modis"], "choose from s2, s1, landsat, dem"),
    (["--debris-share", "1.5"], "--debris-share 1.5: must be between 0 and 1"),
    (["--debris-probability", "-0.1"], "--debris-probability -0.1: must be between 0 and 1"),
    (["--bbox", "10.9,46.7,10.7,46.9"], "W < E"),
    (["--dates", "02-30"], "'02-30' is not a month-day"),
])
def test_bad_flags_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str],
                             message: str) -> None:
    assert main(["simulate", "--out", str(tmp_path / "o"), "--years", "2022", "--quiet", *flags]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists(), "nothing is written"


@pytest.mark.parametrize(("flags", "headwalls"), [([], False), (["--headwalls"], True)])
def test_headwalls_flag_reaches_the_region_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: list[str],
                                                headwalls: bool) -> None:
    import glacierscale.simulate

    seen = []

    def record(spec, out, sensors, progress):  # type: ignore[no-untyped-def]
        seen.append(spec)
        raise SystemExit(0)  # stop before anything is simulated

    monkeypatch.setattr(glacierscale.simulate, "simulate", record)  # the command imports it when it runs
    with pytest.raises(SystemExit):
        main(["simulate", "--out", str(tmp_path / "o"), "--years", "2022", "--quiet", *flags])
    assert [s.headwalls for s in seen] == [headwalls]
