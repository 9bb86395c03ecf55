"""Ctrl-C in a run: it stops promptly, keeps what was committed, leaves no Ray behind, and a rerun resumes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest
from run_helpers import standin_config, start_standin_run, wait_committed

from glacierscale.archive import open_archive
from glacierscale.errors import ArchiveError
from glacierscale.pipeline.context import plan_run, run_id_of
from glacierscale.pipeline.ledger import ledger_path, read_ledger
from glacierscale.pipeline.run import run_pipeline
from glacierscale.pipeline.standins import StandinFactory

pytestmark = [pytest.mark.usefixtures("local_ray"), pytest.mark.slow]
CLOUDY = frozenset({"32632_20m_32_45_3"})


def test_ctrl_c_stops_the_run_keeps_its_items_and_a_rerun_resumes(tmp_path: Path) -> None:
    cfg = standin_config(tmp_path, 12)
    units = plan_run(cfg)[1]
    ledger = ledger_path(cfg.resolved_state_dir(), run_id_of(cfg, units, cfg.years, "run"))
    proc = start_standin_run(tmp_path, CLOUDY, capture=True)
    group = proc.pid
    committed = 0
    try:
        committed = wait_committed(ledger, proc, 6)
        os.killpg(group, signal.SIGINT)  # what a terminal's Ctrl-C sends: the whole foreground group
        t0 = time.monotonic()
        out, _ = proc.communicate(timeout=60)
        stop_s = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(group, signal.SIGKILL)
            proc.wait()
    assert 6 <= committed < 24, f"interrupted too late or never ran: {committed} items committed"
    assert proc.returncode == 130 and "interrupted" in out, out[-3000:]
    assert stop_s < 30, f"took {stop_s:.0f} s to stop"
    print(f"\nCtrl-C after {committed} committed items: stopped in {stop_s:.1f} s")
    time.sleep(1.0)
    left = [p for p in psutil.process_iter(["pid"]) if _in_group(p, group)]
    assert not left, f"processes of the interrupted run still alive: {[p.pid for p in left]}"
    kept = sum(r.status in ("done", "gap") for r in read_ledger(ledger).values())
    assert kept >= committed  # nothing committed before Ctrl-C is lost
    with pytest.raises(ArchiveError, match="no run has been published"):
        open_archive(cfg.archive)  # main never shows half a run
    again = run_pipeline(cfg, progress=False, stages=StandinFactory(cloud_units=CLOUDY))
    assert again.found_done >= committed
    assert again.exit_code == 0 and again.summary["counts"] == {"published": 24}


def _in_group(p: psutil.Process, group: int) -> bool:
    try:
        return os.getpgid(p.pid) == group
    except (ProcessLookupError, psutil.Error):
        return False
