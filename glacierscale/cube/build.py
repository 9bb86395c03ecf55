"""Build one work unit's cube for several years: select scenes in the catalog, composite, align."""

from __future__ import annotations

from typing import Any

import xarray as xr

from glacierscale.catalog.provider import Provider
from glacierscale.catalog.select import select_scenes
from glacierscale.cube.assemble import build_year
from glacierscale.cube.store import to_dataset
from glacierscale.inventory.units import WorkUnit


def build_unit(url: str, provider: Provider, unit: WorkUnit, years: list[int], *, season: tuple[str, str],
               max_cloud: float, max_scenes: int) -> tuple[xr.Dataset, dict[int, dict[str, Any]]]:
    """Return the unit's cube Dataset and, per year, the scene decisions (kept and dropped, with reasons)."""
    composites = {}
    decisions: dict[int, dict[str, Any]] = {}
    bbox = unit.bbox_wgs84()
    for year in years:
        selection = select_scenes(url, provider, bbox, year, season, max_cloud, max_scenes)
        composites[year] = build_year(provider, {s: sel.items for s, sel in selection.items()}, unit)
        decisions[year] = {s: [d.__dict__ for d in sel.decisions] for s, sel in selection.items()}
    return to_dataset(unit, composites), decisions
