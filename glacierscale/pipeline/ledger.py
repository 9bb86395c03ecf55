"""The run ledger: one row per (unit, year) item — status, attempts, error, file, hashes, snapshot, seconds.

Statuses: ``pending`` (not finished), ``staged`` (finished, not yet committed), ``done`` / ``gap`` (committed on
the run branch), ``failed`` (error and file recorded), ``published`` (on ``main``), ``skipped`` (the archive
already held it with the same hashes).

Append-only and partitioned, so a flush costs what changed, not the whole run (1.1 M items for the world):
``<state>/runs/<run_id>/ledger/part-<seq>-L<level>.parquet``. Each flush writes the records that changed as a
new level-0 part (temporary name, then rename: a crash leaves whole parts only); the newest row of an item wins.
Every ``FANOUT`` parts of one level are merged into one part of the next level (newest row per item kept), so a
reader opens at most ``FANOUT`` parts per level and a merge holds at most one level's rows. ``plan.json`` holds
the items planned per year, so ``status`` counts what has not started yet without a row per pending item.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    import pyarrow as pa

Key = tuple[str, int]
COLUMNS = ("unit_id", "year", "status", "attempts", "error", "file", "input_hash", "model_hash", "location",
           "snapshot", "nodata_share")
STAGES = ("select", "cube", "infer", "reduce", "stage")
SECONDS = tuple(f"{s}{kind}" for s in STAGES for kind in ("", "_cpu"))  # wall and CPU seconds per stage
FANOUT = 16
PART = re.compile(r"part-(\d{9})-L(\d+)\.parquet$")
FINAL = ("done", "gap", "failed", "published", "skipped")


@dataclass
class ItemRecord:
    """The driver's ≤ 1 KB record of one item (no rasters, no scene lists)."""

    unit_id: str
    year: int
    status: str = "pending"
    attempts: int = 0
    error: str = ""
    file: str = ""
    input_hash: str = ""
    model_hash: str = ""
    location: str = ""
    snapshot: str = ""
    nodata_share: float = float("nan")
    seconds: dict[str, float] = field(default_factory=dict)


def ledger_path(state: str, run_id: str) -> str:
    return f"{state.rstrip('/')}/runs/{run_id}/ledger"


class Ledger:
    """The partitioned ledger of one run (a folder, local or ``s3://``)."""

    def __init__(self, path: str) -> None:
        import fsspec

        self.path = path.rstrip("/")
        self.fs, _, (self._root,) = fsspec.get_fs_token_paths(self.path)
        self._seq = max((seq for seq, _, _ in self._parts()), default=0)

    def _parts(self) -> list[tuple[int, int, str]]:
        """Return (seq, level, path) of every part, oldest first."""
        try:
            names = self.fs.ls(self._root, detail=False)
        except (FileNotFoundError, OSError):
            return []
        found = [(int(m.group(1)), int(m.group(2)), p) for p in names if (m := PART.search(str(p)))]
        return sorted(found)

    # ---- writing ----------------------------------------------------------------------------------------
    def plan(self, per_year: Mapping[int, int]) -> None:
        """Record how many items the run plans per year (``status`` counts the not-yet-started ones)."""
        self._put(f"{self._root}/plan.json", json.dumps({str(y): int(n) for y, n in per_year.items()}).encode())

    def append(self, records: Iterable[ItemRecord]) -> None:
        """Write ``records`` as one new part (nothing when empty); merge full levels."""
        frame = _frame(records)
        if len(frame) == 0:
            return
        self._seq += 1
        self._write(frame, self._seq, 0)
        self._merge_full_levels()

    def _write(self, frame: pd.DataFrame, seq: int, level: int) -> None:
        import io

        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        self._put(f"{self._root}/part-{seq:09d}-L{level}.parquet", buf.getvalue())

    def _put(self, path: str, data: bytes) -> None:
        self.fs.makedirs(self._root, exist_ok=True)
        tmp = f"{path}.tmp-{time.time_ns()}"
        self.fs.pipe_file(tmp, data)
        self.fs.mv(tmp, path)

    def _merge_full_levels(self) -> None:
        level = 0
        while True:
            parts = [(s, lv, p) for s, lv, p in self._parts() if lv == level]
            if len(parts) < FANOUT:
                return
            merged = _newest(pd.concat([self._read(p) for _, _, p in parts], ignore_index=True))
            self._write(merged, parts[-1][0], level + 1)  # same seq as its newest input: the order is kept
            for _, _, p in parts:
                self.fs.rm(p)
            level += 1

    def mark_published(self, snapshot: str | None) -> None:
        """Mark every done / gap / skipped item published (part by part: memory stays one part's rows)."""
        for seq, level, p in self._parts():
            frame = self._read(p)
            final = frame["status"].isin(("done", "gap", "skipped"))
            if not final.any():
                continue
            frame.loc[final, "status"] = "published"
            if snapshot:
                frame.loc[final, "snapshot"] = snapshot
            self._write(frame, seq, level)

    # ---- reading ----------------------------------------------------------------------------------------
    def _read(self, path: str) -> pd.DataFrame:
        with self.fs.open(path, "rb") as f:
            return pd.read_parquet(f)

    def frame(self) -> pd.DataFrame:
        """Return the newest row of every recorded item (an empty frame when nothing is recorded)."""
        return self.newest([*COLUMNS, *SECONDS]).to_pandas()

    def _legacy(self) -> pd.DataFrame | None:
        """A single-file ledger (``ledger.parquet`` beside the folder) of a run started by an older glacierscale."""
        path = self._root.rsplit("/", 1)[0] + "/ledger.parquet"
        if not self.fs.exists(path):
            return None
        df = self._read(path)
        secs = [json.loads(s or "{}") for s in df.pop("seconds")] if "seconds" in df else [{}] * len(df)
        for name in SECONDS:
            df[name] = [float(s.get(name, float("nan"))) for s in secs]
        return df

    def planned(self) -> dict[int, int]:
        path = f"{self._root}/plan.json"
        if not self.fs.exists(path):
            return {}
        return {int(y): int(n) for y, n in json.loads(self.fs.cat_file(path)).items()}

    def keys(self, status: str) -> set[Key]:
        """Return the items whose newest row has ``status``."""
        import pyarrow.compute as pc

        t = self.newest(("status",))
        sel = t.filter(pc.equal(t["status"], status))
        return set(zip((str(u) for u in sel["unit_id"].to_pylist()), (int(y) for y in sel["year"].to_pylist()),
                       strict=True))

    def newest(self, columns: Iterable[str]) -> pa.Table:
        """Return ``unit_id``, ``year`` and ``columns`` of the newest row of every item, as an Arrow table.

        Reads only those columns and never builds a pandas frame of the whole run: a 16,384-item ledger read
        whole into pandas for the summary added 42 MB to the driver, this read ≈ 3 MB.
        """
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq

        cols = ["unit_id", "year", *[c for c in columns if c not in ("unit_id", "year")]]
        tables = []
        legacy = self._legacy()
        if legacy is not None:
            tables.append(pa.Table.from_pandas(legacy[[c for c in cols if c in legacy]], preserve_index=False))
        for _, _, path in self._parts():
            with self.fs.open(path, "rb") as f:
                part = pq.ParquetFile(f)
                tables.append(part.read(columns=[c for c in cols if c in part.schema_arrow.names]))
        if not tables:
            empty = _frame(())
            return pa.Table.from_pandas(empty[[c for c in cols if c in empty.columns]], preserve_index=False)
        t = pa.concat_tables(tables, promote_options="default")
        t = t.append_column("_row", pa.array(np.arange(len(t), dtype=np.int64)))
        last = t.group_by(["unit_id", "year"], use_threads=False).aggregate([("_row", "max")])
        return t.take(np.sort(last["_row_max"].to_numpy())).drop_columns(["_row"])

    def digest(self) -> tuple[dict[str, Any], dict[str, float]]:
        """Return ``summarize``'s summary (with the planned items) and ``stage_seconds``, from the needed columns only."""
        import numpy as np
        import pyarrow.compute as pc

        t = self.newest(("status", "attempts", "error", "file", *SECONDS))
        per_year: dict[int, dict[str, int]] = {}
        counts = t.group_by(["year", "status"], use_threads=False).aggregate([("status", "count")])
        for y, st, n in zip(counts["year"].to_pylist(), counts["status"].to_pylist(),
                            counts["status_count"].to_pylist(), strict=True):
            per_year.setdefault(int(y), {})[str(st)] = int(n)
        failed = t.filter(pc.equal(t["status"], "failed")).select(["unit_id", "year", "file", "error", "attempts"])
        failures = [{"unit_id": str(r["unit_id"]), "year": int(r["year"]), "file": str(r["file"] or ""),
                     "reason": str(r["error"] or ""), "attempts": int(r["attempts"] or 0)} for r in failed.to_pylist()]
        seconds = {}
        for name in SECONDS:
            if name in t.column_names:
                v = t[name].to_numpy(zero_copy_only=False).astype(np.float64)
                if np.isfinite(v).any():
                    seconds[name] = float(np.nanmean(v))
        return _summary(per_year, self.planned(), failures), seconds


def _frame(records: Iterable[ItemRecord]) -> pd.DataFrame:
    rows = [{**{c: getattr(r, c) for c in COLUMNS}, **{s: float(r.seconds.get(s, float("nan"))) for s in SECONDS}}
            for r in records]
    df = pd.DataFrame(rows, columns=[*COLUMNS, *SECONDS])
    return df.astype({"year": "int64", "attempts": "int64", "nodata_share": "float64",
                      **{s: "float64" for s in SECONDS}})


def _newest(df: pd.DataFrame) -> pd.DataFrame:
    """Keep the last row of each (unit_id, year): rows are in write order."""
    return df.drop_duplicates(["unit_id", "year"], keep="last").reset_index(drop=True)


def _record(row: Mapping[str, Any]) -> ItemRecord:
    rec = ItemRecord(**{k: row[k] for k in COLUMNS})
    rec.unit_id, rec.year, rec.attempts = str(rec.unit_id), int(rec.year), int(rec.attempts)
    rec.seconds = {s: float(row[s]) for s in SECONDS if s in row and pd.notna(row[s])}
    return rec


def write_ledger(path: str, records: Mapping[Key, ItemRecord] | Iterable[ItemRecord]) -> None:
    """Append ``records`` to the ledger at ``path`` (one part)."""
    Ledger(path).append(records.values() if isinstance(records, Mapping) else records)


def read_ledger(path: str) -> dict[Key, ItemRecord]:
    """Return the newest record of every item of the ledger at ``path`` ({} when there is none yet)."""
    df = Ledger(path).frame()
    return {(r.unit_id, r.year): r for r in map(_record, df.to_dict(orient="records"))}


def summarize(ledger: pd.DataFrame | Mapping[Key, ItemRecord], planned: Mapping[int, int] | None = None
              ) -> dict[str, Any]:
    """Return counts per status overall and per year, and the failures (unit, year, file, reason).

    Items ``planned`` per year but without a row yet count as ``pending``.
    """
    df = ledger if isinstance(ledger, pd.DataFrame) else _frame(ledger.values())
    per_year: dict[int, dict[str, int]] = {int(y): {str(k): int(v) for k, v in g["status"].value_counts().items()}
                                           for y, g in df.groupby("year")} if len(df) else {}
    failed = df[df["status"] == "failed"]
    failures = [{"unit_id": str(r.unit_id), "year": int(r.year), "file": str(r.file), "reason": str(r.error),
                 "attempts": int(r.attempts)} for r in failed.itertuples(index=False)]
    return _summary(per_year, planned, failures)


def _summary(per_year: dict[int, dict[str, int]], planned: Mapping[int, int] | None,
             failures: list[dict[str, Any]]) -> dict[str, Any]:
    for y, n in (planned or {}).items():
        missing = n - sum(per_year.get(y, {}).values())
        if missing > 0:
            counts = per_year.setdefault(y, {})
            counts["pending"] = counts.get("pending", 0) + missing
    totals: dict[str, int] = {}
    for counts in per_year.values():
        for k, v in counts.items():
            totals[k] = totals.get(k, 0) + v
    return {"items": sum(totals.values()), "counts": totals, "per_year": dict(sorted(per_year.items())),
            "failures": failures}


def stage_seconds(ledger: pd.DataFrame | Mapping[Key, ItemRecord]) -> dict[str, float]:
    """Return the mean seconds per item of each stage (wall and CPU) over the items that ran it."""
    df = ledger if isinstance(ledger, pd.DataFrame) else _frame(ledger.values())
    return {s: float(df[s].mean()) for s in SECONDS if s in df and df[s].notna().any()}


def latest_ledger(state: str, name: str) -> str | None:
    """Return the most recently written ledger of runs named ``name`` under ``state`` (None if none)."""
    import fsspec

    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:40]
    fs, _, (root,) = fsspec.get_fs_token_paths(f"{state.rstrip('/')}/runs")
    try:
        found = [(info.get("mtime") or info.get("LastModified") or 0, p)
                 for p, info in fs.find(root, detail=True).items()
                 if (PART.search(p) or p.endswith("/ledger.parquet")) and p[len(root) + 1:].startswith(f"{slug}-")]
    except (FileNotFoundError, OSError):
        return None
    if not found:
        return None
    newest = max(found, key=lambda t: float(t[0].timestamp()) if hasattr(t[0], "timestamp") else float(t[0]))[1]
    run_dir = newest.rsplit("/ledger", 1)[0]
    path = f"{run_dir}/ledger"
    return f"{state.split('://', 1)[0]}://{path}" if "://" in state else path
