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
