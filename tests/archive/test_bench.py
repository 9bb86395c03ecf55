"""``glacierscale bench archive`` at small sizes: the keys users and docs rely on, with plausible values."""

from __future__ import annotations

import json

import pytest

from glacierscale.cli import main


def test_bench_archive_json_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "archive", "--sizes", "20,40", "--batch", "20", "--tile-px", "32", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert set(r["commit_seconds_per_1000_tiles"]) == {"20", "40"}
    assert all(v > 0 for v in r["commit_seconds_per_1000_tiles"].values())
    assert r["glaciers"] == 60 and 0 < r["glacier_query_ms"] < 5000 and 0 < r["bbox_query_ms"] < 5000
    assert 1.0 <= r["update_bytes_ratio"] < 3.0  # small runs pay relatively more commit metadata


def test_bench_archive_refuses_sizes_off_the_batch(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "archive", "--sizes", "25,40", "--batch", "20"]) == 2
    assert "--sizes 25,40 must be increasing multiples of --batch 20" in capsys.readouterr().err
