"""Driver memory at scale: a checkpoint reads only its batch's records; publish re-estimates in bounded chunks."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import plan, product, unit

from glacierscale.archive import commit, glaciers, run, tables, temporal
from glacierscale.archive.query import open_archive
from glacierscale.archive.run import open_run

UNITS = [unit(420 + k, 4000, (f"G{k}",)) for k in range(6)]


def _spy(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, calls: list[Any]) -> None:
    real = getattr(module, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        calls.append((args, kwargs, out))
        return out

    monkeypatch.setattr(module, name, spy)


def test_a_checkpoint_reads_only_its_batchs_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arch = str(tmp_path / "archive")
    w = open_run(arch, "r1", plan("r1", UNITS, [2021]), staging=str(tmp_path / "staging"))
    whole_index: list[Any] = []
    batch_reads: list[Any] = []
    _spy(monkeypatch, run, "tile_index", whole_index)
    _spy(monkeypatch, run, "records_at", batch_reads)
    monkeypatch.setattr(run, "_records", lambda root: pytest.fail("a checkpoint read every tile record"))
    monkeypatch.setattr(commit, "tile_records", lambda *a, **k: pytest.fail("a checkpoint read the tile table"))
    for b in range(3):  # three batches of two tiles: the archive grows, what a checkpoint reads does not
        w.checkpoint([w.stage(product(u, 2021)) for u in UNITS[2 * b:2 * b + 2]])
    assert len(whole_index) == 1  # the unit → tile index is read once (the empty branch), then kept
    assert [sorted(a[1]) for a, _, _ in batch_reads] == [
        sorted((u.unit_id, 2021) for u in UNITS[2 * b:2 * b + 2]) for b in range(3)]
    assert [len(out) for _, _, out in batch_reads] == [0, 0, 0]  # new items: no record to read back
    # the same items again: read back (only they), found identical, nothing committed
    assert w.checkpoint([w.stage(product(u, 2021)) for u in UNITS[:2]]) is None
    assert len(batch_reads[-1][2]) == 2 and len(whole_index) == 1
    monkeypatch.undo()
    held = w.held()
    assert sorted(held) == sorted((u.unit_id, 2021) for u in UNITS)
    ids = tables.text(run._root(w.repo, branch=w.branch)["tiles"]["unit_id"][...])
    assert sorted(ids.tolist()) == sorted(u.unit_id for u in UNITS) and len(ids) == 6  # no tile written twice


def test_a_writer_whose_branch_moved_rereads_its_index(tmp_path: Path) -> None:
    arch, staging = str(tmp_path / "archive"), str(tmp_path / "staging")
    a = open_run(arch, "r1", plan("r1", UNITS, [2021]), staging=staging)
    b = open_run(arch, "r1", plan("r1", UNITS, [2021]), staging=staging)  # e.g. a restarted driver
    a.checkpoint([a.stage(product(UNITS[0], 2021))])
    b.checkpoint([b.stage(product(UNITS[1], 2021))])  # b's first read sees a's tile
    a.checkpoint([a.stage(product(UNITS[2], 2021))])  # a's kept index is stale (tip moved): read again
    a.publish({})
    tiles = open_archive(arch).tiles()
    assert sorted(tiles["unit_id"]) == sorted(u.unit_id for u in UNITS[:3])
    assert sorted(open_archive(arch).table()["glacier_id"]) == ["G0", "G1", "G2"]


def _archive(tmp: Path, name: str) -> str:
    """Two runs over six tiles and three years, with gaps, so estimates fill from other years and runs."""
    arch, staging = str(tmp / name), str(tmp / f"{name}-staging")
    w = open_run(arch, "r1", plan("r1", UNITS, [2021, 2022]), staging=staging)
    w.checkpoint([w.stage(product(u, y, ice_px=20 - k, status="gap" if (k + y) % 3 == 0 else "done"))
                  for k, u in enumerate(UNITS) for y in (2021, 2022)])
    w.publish({})
    w = open_run(arch, "r2", plan("r2", UNITS[1:5], [2023]), staging=staging)
    w.checkpoint([w.stage(product(u, 2023, ice_px=14 + k % 2)) for k, u in enumerate(UNITS[1:5])])
    return arch


def test_chunked_reestimation_writes_the_same_values_as_one_chunk(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from glacierscale.archive.commit import open_root
    from glacierscale.archive.repo import open_repository

    results = {}
    for chunk in (1, 4, 10_000):
        arch = _archive(tmp_path, f"a{chunk}")
        session = open_repository(arch, create=False).writable_session("run-r2")
        root = open_root(session.store)
        reads: list[Any] = []
        _spy(monkeypatch, glaciers, "tile_records", reads)
        pairs = temporal.reestimate(root, list(range(6)), temporal.options_from(None), chunk_tiles=chunk)
        monkeypatch.undo()
        assert max(len(set(out["tile"])) for _, _, out in reads) <= chunk  # a chunk reads its own tiles' rows only
        est = tables.read(root["parts"], list(tables.PART_ESTIMATES))
        results[chunk] = (est, set(zip(pairs["glacier_id"], pairs["year"], strict=True)))
    est1, pairs1 = results[10_000]
    assert np.isfinite(est1["est_area_km2"]).sum() >= 14  # every live done part of 6 tiles × 3 years (some gaps)
    for chunk in (1, 4):
        est, pairs = results[chunk]
        assert pairs == pairs1
        for name in tables.PART_ESTIMATES:
            assert est[name].tobytes() == est1[name].tobytes(), name  # bit for bit, NaNs included


def test_publish_in_chunks_of_one_tile_gives_the_archive_of_one_chunk(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    frames, chunks = [], []
    for chunk in (1, 10_000):
        monkeypatch.setattr(temporal.reestimate, "__kwdefaults__", {"chunk_tiles": chunk})
        calls: list[Any] = []
        _spy(monkeypatch, temporal, "_reestimate_chunk", calls)
        arch = _archive(tmp_path, f"p{chunk}")
        open_run(arch, "r2", plan("r2", UNITS[1:5], [2023]), staging=str(tmp_path / f"p{chunk}-staging")).publish({})
        chunks.append(len(calls) - 6 // min(chunk, 6))  # r1's publish re-estimated 6 tiles before
        frames.append(open_archive(arch).table())
    assert chunks == [4, 1]  # r2 wrote 4 tiles: 4 chunks of one tile, or one chunk
    assert len(frames[0]) == 16  # 6 glaciers × 2 years + 4 × 2023
    assert frames[0].equals(frames[1])


def test_a_publish_reads_only_its_runs_tiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """r2 (4 of the archive's 6 tiles) publishes: every tile-record and part read is of its tiles' rows, and the
    archive is the same as one published with whole-table reads."""
    arch = _archive(tmp_path, "scoped")
    calls: list[Any] = []
    for module in (run, glaciers, temporal):
        _spy(monkeypatch, module, "tile_records", calls)
    open_run(arch, "r2", plan("r2", UNITS[1:5], [2023]), staging=str(tmp_path / "scoped-staging")).publish({})
    monkeypatch.undo()
    assert calls and all(len(a) > 2 or "tiles" in k for a, k, _ in calls)  # never the whole table
    read = {int(t) for a, k, _ in calls for t in (a[2] if len(a) > 2 else k["tiles"])}
    assert read == {1, 2, 3, 4}  # r2's tiles (r1 wrote tiles 0-5 first)
    table = open_archive(arch).table()
    assert len(table) == 16  # 6 glaciers × 2 years + 4 × 2023, as in the whole-table publish
    assert sorted(table[table["year"] == 2023]["glacier_id"]) == ["G1", "G2", "G3", "G4"]
