"""Helpers for run tests: a config over a synthetic inventory of many small tiles, for stand-in stages."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from glacierscale.config import RunConfig, build_run_config
from glacierscale.pipeline.bench import _inventory
from glacierscale.pipeline.ledger import read_ledger


def standin_config(tmp: Path, units: int, *, years: tuple[int, ...] = (2021, 2022), **stream: Any) -> RunConfig:
    """Return a run config over ``units`` synthetic 16-px tiles (one glacier each), for stand-in stages."""
    inv = tmp / "inventory.gpkg"
    if not inv.exists():
        _inventory(inv, units)
    return build_run_config({
        "name": "standin", "catalog": {"url": "http://stand-in.invalid/stac", "provider": "local"},
        "inventory": str(inv), "years": list(years), "archive": str(tmp / "archive"), "cube_store": str(tmp / "cubes"),
        "grid": {"resolution": 20.0, "tile_size": 16, "margin_m": 0, "overlap_px": 0},
        "stream": {"batch_items": 4, "max_in_flight": 4, "backoff_s": 0.0, **stream}, "infer": {"num_cpus": 0.5},
    }, "test")


# a stand-in run of 12 units × 2 years in a child process (a Ctrl-C exits 130, as `glacierscale run` does)
RUN_SCRIPT = """
import signal
import sys
# a shell without job control starts background commands with SIGINT ignored, and Python keeps that: restore the
# default (KeyboardInterrupt), as in a terminal, so a suite started in the background still tests Ctrl-C
signal.signal(signal.SIGINT, signal.default_int_handler)
sys.path.insert(0, {helpers!r})
from pathlib import Path
from run_helpers import standin_config
from glacierscale.pipeline.run import run_pipeline
from glacierscale.pipeline.standins import StandinFactory
cfg = standin_config(Path({tmp!r}), 12)
try:
    run_pipeline(cfg, progress=False, stages=StandinFactory(cloud_units=frozenset({cloudy!r}), delay_s={delay_s!r}))
except KeyboardInterrupt:  # what `glacierscale run` does with it (cli/__init__.py)
    print("interrupted", flush=True)
    sys.exit(130)
"""


def start_standin_run(tmp: Path, cloudy: frozenset[str], *, capture: bool = False,
                      delay_s: float = 0.3) -> subprocess.Popen[str]:
    """Start :data:`RUN_SCRIPT` in its own session (a signal to its group reaches it and the Ray it starts only);
    ``capture``: its output is piped (read it with ``communicate``), else discarded; ``delay_s``: each stand-in
    item's time."""
    code = RUN_SCRIPT.format(helpers=str(Path(__file__).parent), tmp=str(tmp), cloudy=sorted(cloudy),
                             delay_s=delay_s)
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    env.pop("RAY_ADDRESS", None)
    return subprocess.Popen([sys.executable, "-c", code], start_new_session=True, env=env,
                            stdout=subprocess.PIPE if capture else subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            text=True)


def wait_committed(ledger: Path, proc: subprocess.Popen[str], at_least: int, timeout_s: float = 180) -> int:
    """Wait until the run's ledger holds ``at_least`` finished items (or it ends, or time runs out); return them."""
    committed = 0
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        committed = sum(r.status in ("done", "gap") for r in read_ledger(ledger).values())
        if committed >= at_least:
            break
        time.sleep(0.1)
    return committed
