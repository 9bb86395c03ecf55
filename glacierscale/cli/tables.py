"""Rich tables for area series."""

from __future__ import annotations

import pandas as pd
from rich.table import Table


def area_table(areas: pd.DataFrame, truth: pd.DataFrame | None = None, title: str = "glacier area (km²)") -> Table:
    """Return a table: glacier id, then per year the area (and, with truth, truth area and relative error)."""
    wide = areas.pivot(index="glacier_id", columns="year", values="area_km2")
    table = Table(title=title + (": mapped/truth error" if truth is not None else ""), padding=(0, 1))
    table.add_column("glacier", style="bold", no_wrap=True)
    for y in wide.columns:
        table.add_column(str(y), justify="right", no_wrap=True)
    for gid, row in wide.iterrows():
        cells = [str(gid)]
        for y in wide.columns:
            if truth is None:
                cells.append(f"{row[y]:.3f}")
                continue
            t = float(truth.loc[gid, y]) if gid in truth.index and y in truth.columns else float("nan")
            err = f"{(row[y] - t) / t:+.1%}" if t == t and t else "–"
            cells.append(f"{row[y]:.3f}/{t:.3f} {err:>6}")
        table.add_row(*cells)
    return table


def totals_table(totals: pd.DataFrame, title: str = "glaciers mapped per year") -> Table:
    """Return a table: year, glaciers with a record, total area and debris-covered area (km²)."""
    table = Table(title=title, padding=(0, 1))
    for name in ("year", "glaciers", "area km²", "debris km²"):
        table.add_column(name, justify="right", no_wrap=True)
    for r in totals.itertuples(index=False):
        table.add_row(str(r.year), f"{r.glaciers:,}", f"{r.area_km2:,.3f}", f"{r.debris_km2:,.3f}")
    return table


def ledger_table(summary: dict[str, object], title: str = "run ledger: items per year") -> Table:
    """Return a table of item counts per year and status (done / gap / failed / published ...)."""
    per_year = summary.get("per_year") or {}
    assert isinstance(per_year, dict)
    statuses = sorted({s for counts in per_year.values() for s in counts})
    table = Table(title=title, padding=(0, 1))
    table.add_column("year", style="bold")
    for s in statuses:
        table.add_column(s, justify="right")
    for year, counts in sorted(per_year.items()):
        table.add_row(str(year), *(str(counts.get(s, 0)) for s in statuses))
    return table


def failure_table(failures: list[dict[str, object]], limit: int = 50) -> Table:
    """Return a table of failed items: unit, year, file, reason (at most ``limit`` rows)."""
    table = Table(title=f"failed items ({len(failures)})", padding=(0, 1), show_lines=False)
    for col in ("unit", "year", "file", "reason"):
        table.add_column(col, overflow="fold")
    for f in failures[:limit]:
        table.add_row(str(f["unit_id"]), str(f["year"]), str(f.get("file") or "–"), str(f.get("reason", "")))
    return table
