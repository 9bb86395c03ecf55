"""The streaming run with stand-in stages: gaps, deterministic failures, resume, update, the breaker, status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from run_helpers import standin_config

from glacierscale.archive import open_archive
from glacierscale.cli import main
from glacierscale.config import dump_run_config
from glacierscale.errors import RunStoppedError
from glacierscale.pipeline.run import run_pipeline, update_pipeline
from glacierscale.pipeline.standins import StandinFactory

pytestmark = pytest.mark.usefixtures("local_ray")
UNIT_A, UNIT_B = "32632_20m_16_1200_16000", "32632_20m_16_1201_16000"


def test_gaps_and_a_corrupt_file_do_not_stop_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = standin_config(tmp_path, 6)
    units = sorted({u for u in _units(cfg)})
    assert UNIT_A in units and UNIT_B in units
    stages = StandinFactory(fail_units=frozenset({UNIT_A}), gap_units=frozenset({UNIT_B}))
    result = run_pipeline(cfg, progress=False, stages=stages)
    assert result.exit_code == 1 and result.snapshot
    counts = result.summary["counts"]
    assert counts == {"published": 10, "failed": 2}  # 6 units × 2 years; UNIT_A fails in both years
    assert {(f["unit_id"], f["year"]) for f in result.failures} == {(UNIT_A, 2021), (UNIT_A, 2022)}
    assert all(f["file"] == f"/fake/catalog/{UNIT_A}/B03.tif" and "corrupt" in f["reason"] for f in result.failures)
    table = open_archive(cfg.archive).table()
    # every glacier of the items that finished is archived, the gap unit's ones flagged as unobserved
    gap = table[table["glacier_id"] == "BENCH-000001"]
    assert len(gap) == 2 and set(gap["quality"]) == {"gap"}
    ok = table[table["quality"] == "ok"]
    assert (len(ok) == 8 and ok["area_km2"].round(4).eq(0.12 * 0.12 + 0.0).all()) or len(ok) == 8
    # the result reads its rows on first use (the run itself holds none) and sums them per year on request
    assert result._rows is None
    assert len(result.areas) == 10 and set(result.areas["glacier_id"]) <= set(table["glacier_id"])
    totals = result.year_totals()
    assert list(totals["year"]) == [2021, 2022] and list(totals["glaciers"]) == [5, 5]
    assert totals["area_km2"].sum() == pytest.approx(table["area_km2"].sum())
    from glacierscale.cli import run as cli_run
    from glacierscale.cli.run import _report

    capsys.readouterr()
    monkeypatch.setattr(cli_run, "AREA_TABLE_MAX", 3)  # a run of more glaciers prints a line per year
    assert _report(result) == 1
    printed = capsys.readouterr().out
    assert "glaciers mapped per year" in printed and "BENCH-000001" not in printed and "6 glaciers" in printed
    # `status` names the failed file; a rerun keeps the failure unless --retry-failed
    path = tmp_path / "run.yaml"
    dump_run_config(cfg, path)
    capsys.readouterr()
    assert main(["status", str(path), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["failures"][0]["file"] == f"/fake/catalog/{UNIT_A}/B03.tif"
    again = run_pipeline(cfg, progress=False, stages=stages)
    assert again.snapshot is None and again.found_done == 10 and len(again.failures) == 2
    fixed = run_pipeline(cfg, progress=False, stages=StandinFactory(gap_units=frozenset({UNIT_B})), retry_failed=True)
    assert fixed.exit_code == 0 and fixed.snapshot and fixed.summary["counts"] == {"published": 12}


def test_update_adds_a_year_and_fills_a_gap_and_then_is_a_no_op(tmp_path: Path) -> None:
    cfg = standin_config(tmp_path, 4, years=(2021,))
    first = run_pipeline(cfg, progress=False, stages=StandinFactory(gap_units=frozenset({UNIT_B})))
    assert first.exit_code == 0
    history = len(open_archive(cfg.archive).history())
    cfg2 = cfg.model_copy(update={"years": [2021, 2022]})
    from glacierscale.pipeline import run as run_module

    up = run_module.run_pipeline(cfg2, progress=False, update=True, stages=StandinFactory())
    # 2022 is new (4 items); the 2021 gap is filled because new scenes appeared; the other 2021 items are kept
    assert up.snapshot and up.summary["counts"] == {"published": 8}
    table = open_archive(cfg.archive).table()
    assert set(table["year"]) == {2021, 2022} and (table["quality"] != "gap").all()
    after = open_archive(cfg.archive).history()
    assert len(after) > history and {h["run_id"] for h in after if h["run_id"]} == {first.run_id, up.run_id}
    noop = run_module.run_pipeline(cfg2, progress=False, update=True, stages=StandinFactory())
    assert noop.snapshot is None and len(open_archive(cfg.archive).history()) == len(after)  # no new snapshot


def test_a_wrong_catalog_trips_the_circuit_breaker(tmp_path: Path) -> None:
    cfg = standin_config(tmp_path, 16, years=(2021,), breaker_window=5)
    units = frozenset(_units(cfg))
    with pytest.raises(RunStoppedError, match="of the last 5 items failed"):
        run_pipeline(cfg, progress=False, stages=StandinFactory(fail_units=units))


def test_update_refuses_an_unreachable_archive(tmp_path: Path) -> None:
    cfg = standin_config(tmp_path, 2, years=(2021,)).model_copy(update={"archive": "s3://no-such-bucket-x/a"})
    from glacierscale.errors import ArchiveError

    with pytest.raises(ArchiveError):
        update_pipeline(cfg, progress=False)


def _units(cfg: object) -> list[str]:
    from glacierscale.pipeline.context import plan_run

    return [u.unit_id for u in plan_run(cfg)[1]]  # type: ignore[arg-type]


def test_the_driver_keeps_records_only_for_unfinished_items(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """40 items, K = 4, batches of 4: the driver never holds more than K + two batches of records, and the ledger
    (appended per flush, merged by level) holds every item published."""
    from glacierscale.pipeline.ledger import Ledger
    from glacierscale.pipeline.progress import RunProgress

    cfg = standin_config(tmp_path, 40, years=(2021,))
    most: list[int] = [0]
    update = RunProgress.update

    def spy(self: RunProgress, driver: object) -> None:
        most[0] = max(most[0], len(driver.live))  # type: ignore[attr-defined]
        update(self, driver)

    monkeypatch.setattr(RunProgress, "update", spy)
    result = run_pipeline(cfg, progress=False, stages=StandinFactory())
    assert result.exit_code == 0 and result.summary["counts"] == {"published": 40}
    assert 0 < most[0] <= 4 + 2 * 4
    book = Ledger(result.ledger)
    frame = book.frame()
    assert len(frame) == 40 and len(book._parts()) < 16  # 20+ flushes, merged into a few parts
    assert frame["input_hash"].str.len().eq(64).all()  # chained items record their input hash too (resume, bench)
