"""The run ledger: one Parquet row per (unit, year) item — status, attempts, error, file, hashes, snapshot.

Statuses: ``pending`` (not finished), ``staged`` (finished, not yet committed), ``done`` / ``gap`` (committed on
the run branch), ``failed`` (error and file recorded), ``published`` (on ``main``), ``skipped`` (the archive
already held it with the same hashes). The driver rewrites the file at every checkpoint (temporary name,
then rename), so a crash leaves the previous ledger whole; ``glacierscale status`` reads it at any time.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

COLUMNS = ("unit_id", "year", "status", "attempts", "error", "file", "input_hash", "model_hash", "location",
           "snapshot", "nodata_share", "seconds")


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
    return f"{state.rstrip('/')}/runs/{run_id}/ledger.parquet"


def write_ledger(path: str, records: dict[tuple[str, int], ItemRecord]) -> None:
    """Write every record to ``path`` atomically (temporary name, then rename)."""
    import fsspec

    rows = [{**asdict(r), "seconds": json.dumps(r.seconds)} for r in records.values()]
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    fs, _, (p,) = fsspec.get_fs_token_paths(path)
    fs.makedirs(p.rsplit("/", 1)[0], exist_ok=True)
    tmp = f"{p}.tmp-{time.time_ns()}"
    with fs.open(tmp, "wb") as f:
        df.to_parquet(f, index=False)
    fs.mv(tmp, p)


def read_ledger(path: str) -> dict[tuple[str, int], ItemRecord]:
    """Return the records of a ledger file ({} when there is none yet)."""
    import fsspec

    try:
        with fsspec.open(path, "rb") as f:
            df = pd.read_parquet(f)
    except (FileNotFoundError, OSError):
        return {}
    out = {}
    for row in df.to_dict(orient="records"):
        rec = ItemRecord(**{k: v for k, v in row.items() if k in COLUMNS and k != "seconds"})
        rec.year = int(rec.year)
        rec.attempts = int(rec.attempts)
        rec.seconds = json.loads(row.get("seconds") or "{}")
        out[(rec.unit_id, rec.year)] = rec
    return out


def summarize(records: dict[tuple[str, int], ItemRecord]) -> dict[str, Any]:
    """Return counts per status overall and per year, and the failures (unit, year, file, reason)."""
    df = pd.DataFrame([{"year": r.year, "status": r.status} for r in records.values()], columns=["year", "status"])
    per_year = {int(y): g["status"].value_counts().to_dict() for y, g in df.groupby("year")} if len(df) else {}
    failures = [{"unit_id": r.unit_id, "year": r.year, "file": r.file, "reason": r.error, "attempts": r.attempts}
                for r in records.values() if r.status == "failed"]
    return {"items": len(records), "counts": df["status"].value_counts().to_dict() if len(df) else {},
            "per_year": per_year, "failures": failures}


def stage_seconds(records: dict[tuple[str, int], ItemRecord]) -> dict[str, float]:
    """Return the mean seconds per item of each stage over the items that ran it."""
    sums: dict[str, list[float]] = {}
    for r in records.values():
        for k, v in r.seconds.items():
            sums.setdefault(k, []).append(float(v))
    return {k: sum(v) / len(v) for k, v in sums.items()}


def latest_ledger(state: str, name: str) -> str | None:
    """Return the most recently written ledger of runs named ``name`` under ``state`` (None if none)."""
    import fsspec

    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:40]
    fs, _, (root,) = fsspec.get_fs_token_paths(f"{state.rstrip('/')}/runs")
    try:
        found = [(info.get("mtime") or info.get("LastModified") or 0, p)
                 for p, info in fs.find(root, detail=True).items()
                 if p.endswith("/ledger.parquet") and p[len(root) + 1:].startswith(f"{slug}-")]
    except (FileNotFoundError, OSError):
        return None
    if not found:
        return None
    newest = max(found, key=lambda t: float(t[0].timestamp()) if hasattr(t[0], "timestamp") else float(t[0]))[1]
    return f"{state.split('://', 1)[0]}://{newest}" if "://" in state else newest
