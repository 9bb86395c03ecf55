"""The archive commits in a child process: the same results as the writer in the driver, errors raised there."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "archive"))
from synthetic import plan, product, unit

from glacierscale.archive.query import open_archive
from glacierscale.errors import ArchiveError
from glacierscale.pipeline.committer import CommitterProcess

UNITS = [unit(430 + k, 4000, (f"G{k}",)) for k in range(3)]


def test_checkpoint_held_publish_and_discard_through_the_child(tmp_path: Path) -> None:
    arch, staging = str(tmp_path / "archive"), str(tmp_path / "staging")
    c = CommitterProcess(arch, "r1", plan("r1", UNITS, [2021]), staging=staging)
    try:
        staged = [c.writer.stage(product(u, 2021)) for u in UNITS]  # what a worker does
        assert c.checkpoint(staged[:2]) and c.checkpoint(staged[2:])
        assert c.checkpoint(staged[:1]) is None  # already on the branch: nothing to commit
        assert sorted(c.held()) == sorted((u.unit_id, 2021) for u in UNITS)
        snap = c.publish({})
        assert snap and c.publish({}) is None  # once
        c.discard_staging()
    finally:
        c.close()
    assert c.proc.returncode == 0
    table = open_archive(arch).table()
    assert sorted(table["glacier_id"]) == ["G0", "G1", "G2"]
    assert table["area_km2"].tolist() == pytest.approx([0.16] * 3, rel=2e-3)  # 20 × 20 px of 20 m, ellipsoidal
    assert not (tmp_path / "staging" / "r1").exists()


def test_an_error_in_the_child_is_raised_in_the_driver_and_the_child_is_reaped(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="run id 'a b' must be non-empty without spaces"):
        CommitterProcess(str(tmp_path / "archive"), "a b", plan("a b", UNITS, [2021]), staging=str(tmp_path / "s"))


def test_a_dead_committer_is_an_archive_error_naming_the_run(tmp_path: Path) -> None:
    c = CommitterProcess(str(tmp_path / "archive"), "r2", plan("r2", UNITS, [2021]), staging=str(tmp_path / "s"))
    item = c.writer.stage(product(UNITS[0], 2021))
    c.proc.kill()
    c.proc.wait()
    with pytest.raises(ArchiveError, match=r"committer process of run r2 ended \(exit -9\) during checkpoint"):
        c.checkpoint([item])
    c.close()
