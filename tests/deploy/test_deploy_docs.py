"""docs/deploy.md shows what deploy/sizing.py computes, from the figures the other docs measured."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _sizing():  # deploy/ is not a package: load the script by path
    spec = importlib.util.spec_from_file_location("deploy_sizing", ROOT / "deploy" / "sizing.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass resolves annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def test_the_sizing_inputs_are_the_measured_figures_of_the_other_docs() -> None:
    sizing = _sizing()
    planning = (ROOT / "docs" / "planning.md").read_text()
    assert f"{sizing.TILES:,} tiles in 56 CRSs" in planning and f"{sizing.TILES * 9:,} work units" in planning
    pipeline = (ROOT / "docs" / "pipeline.md").read_text()
    # the table's columns are the runs of the newest bench inference, then older ones: sizing takes one of them
    row = re.search(r"\| cold CPU-s per tile-year: select / cube / infer / reduce / stage \|(.*)\|", pipeline)
    assert row, "docs/pipeline.md has no cold CPU-s row"
    runs = [[float(v) for v in cell.split(" / ")] for cell in row.group(1).split("|")]
    assert list(sizing.CPU_S_PER_BENCH_TILE_YEAR.values()) in runs
    assert "4 tiles of 384 px × 20 m" in pipeline and sizing.BENCH_TILE_PX == 384
    assert "| 16,384 | 365.6 / 394.3 | **22.3 / 24.1** |" in pipeline and sizing.DRIVER_S_PER_ITEM == 0.024


def test_docs_deploy_shows_the_sizing_scripts_output() -> None:
    sizing = _sizing()
    doc = (ROOT / "docs" / "deploy.md").read_text()
    assert sizing.markdown() in doc
    tail = sizing.markdown(cube_factor=3).split("| figure | value |")[1]
    assert all(line in doc for line in tail.splitlines() if "bound" in line or "**" in line)
    s = sizing.size()
    assert 1.0 < s.wall_h < 2.0 and s.driver_h > s.cpu_bound_h  # 24 CPU workers: the driver is the bound
    assert s.transfer_ms > 5 * s.gpu_ms  # a GPU node waits on the network, not on FLOPs
