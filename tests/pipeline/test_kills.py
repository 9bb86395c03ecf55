"""Killed actors and a killed driver: the run completes or resumes, and the archive equals an uninterrupted run's."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
from run_helpers import standin_config, start_standin_run, wait_committed

from glacierscale.archive import open_archive
from glacierscale.errors import ArchiveError
from glacierscale.pipeline.context import run_id_of
from glacierscale.pipeline.ledger import ledger_path, read_ledger
from glacierscale.pipeline.run import run_pipeline
from glacierscale.pipeline.standins import StandinFactory

pytestmark = [pytest.mark.usefixtures("local_ray"), pytest.mark.slow]
COLUMNS = ["glacier_id", "year", "area_km2", "debris_km2", "observed_fraction", "quality"]


def _table(archive: str) -> pd.DataFrame:
    return open_archive(archive).table()[COLUMNS].sort_values(["glacier_id", "year"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The uninterrupted run of 12 units × 2 years (one half-clouded unit) that every interrupted run must equal."""
    cfg = standin_config(tmp_path_factory.mktemp("reference"), 12)
    result = run_pipeline(cfg, progress=False, stages=StandinFactory(cloud_units=CLOUDY))
    assert result.exit_code == 0
    return _table(cfg.archive)


CLOUDY = frozenset({"32632_20m_16_1202_16000"})


def _worker_processes() -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "ThresholdWorker" in cmd and p.pid != os.getpid():
            found.append(p)
    return found


def test_a_killed_inference_actor_is_restarted_and_the_run_completes(tmp_path: Path, reference: pd.DataFrame) -> None:
    cfg = standin_config(tmp_path, 12)
    killed: list[int] = []

    def kill_once() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ledger = read_ledger(ledger_path(cfg.resolved_state_dir(), run_id_of(cfg, _units(cfg), cfg.years, "run")))
            procs = _worker_processes()
            if procs and sum(r.status == "done" for r in ledger.values()) >= 4:
                for p in procs:
                    p.send_signal(signal.SIGKILL)
                    killed.append(p.pid)
                return
            time.sleep(0.1)

    t = threading.Thread(target=kill_once)
    t.start()
    result = run_pipeline(cfg, progress=False, stages=StandinFactory(cloud_units=CLOUDY, delay_s=0.15))
    t.join()
    assert killed, "the actor was never killed: the test did not test anything"
    assert result.exit_code == 0 and result.summary["counts"] == {"published": 24}
    pd.testing.assert_frame_equal(_table(cfg.archive), reference)


def test_a_killed_driver_resumes_where_it_stopped(tmp_path: Path, reference: pd.DataFrame) -> None:
    cfg = standin_config(tmp_path, 12)
    ledger = ledger_path(cfg.resolved_state_dir(), run_id_of(cfg, _units(cfg), cfg.years, "run"))
    proc = start_standin_run(tmp_path, CLOUDY)  # its own session: the kill takes the driver and its Ray only
    committed = 0
    try:
        committed = wait_committed(ledger, proc, 8)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert 8 <= committed < 24, f"killed too late or never ran: {committed} items committed"
    # main never shows half a run
    with pytest.raises(ArchiveError, match="no run has been published"):
        open_archive(cfg.archive)
    again = run_pipeline(cfg, progress=False, stages=StandinFactory(cloud_units=CLOUDY))
    assert again.found_done >= committed  # everything committed before the kill is kept, not redone
    assert again.exit_code == 0 and again.summary["counts"] == {"published": 24}
    pd.testing.assert_frame_equal(_table(cfg.archive), reference)
    runs = {h.get("run_id") for h in open_archive(cfg.archive).history() if h.get("run_id")}
    assert runs == {again.run_id}  # main moved once, to this run (its checkpoints are the run branch's history)


def _units(cfg: object) -> list[object]:
    from glacierscale.pipeline.context import plan_run

    return plan_run(cfg)[1]  # type: ignore[arg-type]


def _task_processes() -> list[psutil.Process]:
    """Ray worker processes running a task of the run right now (their title is ``ray::<task name>``)."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if cmd.startswith("ray::") and "_task" in cmd and "IDLE" not in cmd:
            found.append(p)
    return found


def test_a_killed_task_worker_is_retried_and_the_run_completes(tmp_path: Path, reference: pd.DataFrame) -> None:
    """kill -9 of the worker processes running select/cube/reduce tasks mid-run: Ray retries the tasks
    (``max_retries=2``) and the run ends as an uninterrupted one."""
    cfg = standin_config(tmp_path, 12)
    killed: list[str] = []

    def kill_tasks() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(killed) < 2:
            for p in _task_processes():
                try:
                    title = " ".join(p.cmdline()).strip()
                    p.send_signal(signal.SIGKILL)
                    killed.append(title)
                except psutil.Error:
                    continue
                time.sleep(1.0)  # two kills, a second apart
                break
            time.sleep(0.02)

    t = threading.Thread(target=kill_tasks)
    t.start()
    result = run_pipeline(cfg, progress=False, stages=StandinFactory(cloud_units=CLOUDY, delay_s=0.15))
    t.join()
    assert killed, "no task worker was killed: the test did not test anything"
    print(f"\nkilled: {killed}")
    assert result.exit_code == 0 and result.summary["counts"] == {"published": 24}, (killed, result.summary)
    pd.testing.assert_frame_equal(_table(cfg.archive), reference)
