"""The Parquet ledger: round trip, summary per year, failures, the latest ledger of a run name."""

from __future__ import annotations

from pathlib import Path

from glacierscale.pipeline.ledger import ItemRecord, latest_ledger, ledger_path, read_ledger, summarize, write_ledger


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
    assert read_ledger(str(tmp_path / "none.parquet")) == {}
