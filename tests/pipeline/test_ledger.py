"""The partitioned ledger: round trip, newest row wins, level merges, summary per year, the latest ledger."""

from __future__ import annotations

from pathlib import Path

from glacierscale.pipeline import ledger as ledger_module
from glacierscale.pipeline.ledger import (
    ItemRecord,
    Ledger,
    latest_ledger,
    ledger_path,
    read_ledger,
    summarize,
    write_ledger,
)


def test_ledger_roundtrip_and_summary(tmp_path: Path) -> None:
    recs = {("u1", 2021): ItemRecord("u1", 2021, "published", 1, input_hash="a", model_hash="m", nodata_share=0.1,
                                     seconds={"infer": 0.5}),
            ("u2", 2021): ItemRecord("u2", 2021, "failed", 3, "CubeError: not a TIFF", "/x/B03.tif", nodata_share=1.0),
            ("u1", 2022): ItemRecord("u1", 2022, "gap", 1, nodata_share=1.0)}
    path = ledger_path(str(tmp_path), "demo-run-abc")
    write_ledger(path, recs)
    back = read_ledger(path)
    assert back == recs
    s = summarize(back)
    assert s["items"] == 3 and s["per_year"] == {2021: {"published": 1, "failed": 1}, 2022: {"gap": 1}}
    assert s["failures"] == [{"unit_id": "u2", "year": 2021, "file": "/x/B03.tif", "reason": "CubeError: not a TIFF",
                              "attempts": 3}]
    assert latest_ledger(str(tmp_path), "demo") == path
    assert latest_ledger(str(tmp_path), "other") is None
    assert read_ledger(str(tmp_path / "none")) == {}


def test_appends_keep_the_newest_row_and_merge_levels(tmp_path: Path) -> None:
    """Each flush is one part; 16 parts of a level merge into one; the newest state of every item is read back."""
    book = Ledger(ledger_path(str(tmp_path), "world-run-1"))
    book.plan({2021: 300})
    for i in range(40):  # 40 flushes of 5 items, each item flushed twice (pending, then done)
        book.append([ItemRecord(f"u{j}", 2021, "pending", 1) for j in range(5 * i, 5 * i + 5)])
        book.append([ItemRecord(f"u{j}", 2021, "done", 1, snapshot=f"s{i}") for j in range(5 * i, 5 * i + 5)])
    # 80 parts written: every 16 level-0 parts became one level-1 part, so a reader opens 5 files, not 80
    assert [level for _, level, _ in book._parts()] == [1] * 5
    frame = book.frame()
    assert len(frame) == 200 and set(frame["status"]) == {"done"}
    assert frame.set_index("unit_id").loc["u199", "snapshot"] == "s39"
    s = summarize(frame, book.planned())
    assert s["counts"] == {"done": 200, "pending": 100} and s["items"] == 300
    assert book.digest() == (s, {})  # the column-wise read the run uses agrees (no stage seconds recorded)
    book.append([ItemRecord("u7", 2021, "failed", 3, "CubeError: corrupt", "/x/u7.tif")])
    assert Ledger(book.path).keys("failed") == {("u7", 2021)}  # a fresh reader (status, resume) sees it
    book.mark_published("snap-final")
    frame = Ledger(book.path).frame()
    assert (frame["status"] == "published").sum() == 199 and frame.set_index("unit_id").loc["u7", "status"] == "failed"
    assert set(frame.loc[frame["status"] == "published", "snapshot"]) == {"snap-final"}
    summary, _ = Ledger(book.path).digest()
    assert summary["counts"] == {"published": 199, "failed": 1, "pending": 100}
    assert summary["failures"] == [{"unit_id": "u7", "year": 2021, "file": "/x/u7.tif", "reason": "CubeError: corrupt",
                                    "attempts": 3}]


def test_digest_reads_the_summary_and_stage_seconds_of_the_newest_rows(tmp_path: Path) -> None:
    from glacierscale.pipeline.ledger import stage_seconds

    book = Ledger(ledger_path(str(tmp_path), "sizing-run-1"))
    book.append([ItemRecord("u1", 2021, "staged", 1, seconds={"cube": 4.0}),
                 ItemRecord("u2", 2021, "gap", 1, seconds={"cube": 1.0, "select": 0.5})])
    book.append([ItemRecord("u1", 2021, "done", 1, seconds={"cube": 2.0, "infer": 3.0})])  # the newest row wins
    summary, seconds = book.digest()
    assert summary["per_year"] == {2021: {"done": 1, "gap": 1}} and summary["failures"] == []
    assert seconds == {"cube": 1.5, "infer": 3.0, "select": 0.5}  # means over the items that ran the stage
    assert (summary, seconds) == (summarize(book.frame()), stage_seconds(book.frame()))
    assert Ledger(ledger_path(str(tmp_path), "nothing-yet")).digest() == (
        {"items": 0, "counts": {}, "per_year": {}, "failures": []}, {})


def test_a_single_file_ledger_of_an_older_run_is_read(tmp_path: Path) -> None:
    import json

    import pandas as pd

    run = tmp_path / "runs" / "old-run-abc"
    run.mkdir(parents=True)
    pd.DataFrame([{c: v for c, v in zip(ledger_module.COLUMNS, ("u1", 2021, "failed", 2, "boom", "/f.tif", "h", "m",
                                                                 "", "", 1.0), strict=True)}
                  | {"seconds": json.dumps({"cube": 1.5})}]).to_parquet(run / "ledger.parquet")
    back = read_ledger(ledger_path(str(tmp_path), "old-run-abc"))
    assert back[("u1", 2021)].status == "failed" and back[("u1", 2021)].seconds == {"cube": 1.5}
    summary, seconds = Ledger(ledger_path(str(tmp_path), "old-run-abc")).digest()
    assert summary["failures"][0]["reason"] == "boom" and seconds == {"cube": 1.5}
