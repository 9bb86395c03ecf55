"""Rich tables for area series."""

from __future__ import annotations

import pandas as pd
from rich.table import Table


def area_table(areas: pd.DataFrame, truth: pd.DataFrame | None = None, title: str = "glacier area (km²)") -> Table:
    """Return a table: glacier id, area per year, and (with truth) truth area and relative error per year."""
    wide = areas.pivot(index="glacier_id", columns="year", values="area_km2")
    table = Table(title=title)
    table.add_column("glacier", style="bold")
    for y in wide.columns:
        table.add_column(str(y), justify="right")
        if truth is not None:
            table.add_column(f"truth {y}", justify="right")
            table.add_column("error", justify="right")
    for gid, row in wide.iterrows():
        cells = [str(gid)]
        for y in wide.columns:
            cells.append(f"{row[y]:.3f}")
            if truth is not None:
                t = float(truth.loc[gid, y]) if gid in truth.index and y in truth.columns else float("nan")
                cells += [f"{t:.3f}", f"{(row[y] - t) / t:+.1%}" if t else "–"]
        table.add_row(*cells)
    return table
