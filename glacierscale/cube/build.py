"""Build one work unit's cube for several years: select scenes in the catalog, composite, align."""

from __future__ import annotations

from typing import Any

import xarray as xr

from glacierscale.catalog.provider import Provider
from glacierscale.catalog.select import SceneSelection, UnitGrid, select_scenes
from glacierscale.cube.assemble import build_year
from glacierscale.cube.store import to_dataset
from glacierscale.inventory.units import WorkUnit


def select_unit_scenes(url: str, provider: Provider, unit: WorkUnit, years: list[int], *, season: tuple[str, str],
                       max_cloud: float, max_scenes: int,
                       south_season: tuple[str, str] = ("01-15", "03-31")) -> dict[int, dict[str, SceneSelection]]:
    """Return, per year, the scene selection of every sensor for one unit (EmptySearchError if none).

    The window is the end of the ablation season of the unit's hemisphere.
    """
    bbox = unit.bbox_wgs84()
    window = season if (bbox[1] + bbox[3]) / 2 >= 0 else south_season
    coarse = max(8, unit.size_px // 4)
    grid = UnitGrid(unit.epsg, unit.bounds, (coarse, coarse))
    return {year: select_scenes(url, provider, bbox, year, window, max_cloud, max_scenes, grid) for year in years}


def assemble_unit(provider: Provider, unit: WorkUnit, items: dict[int, dict[str, list[Any]]]) -> xr.Dataset:
    """Return the unit's cube from already selected items (pystac Items or their dicts) per year and sensor."""
    import pystac

    composites = {}
    for year, per_sensor in items.items():
        chosen = {s: [it if isinstance(it, pystac.Item) else pystac.Item.from_dict(it) for it in its]
                  for s, its in per_sensor.items()}
        composites[year] = build_year(provider, chosen, unit)
    return to_dataset(unit, composites)


def build_unit(url: str, provider: Provider, unit: WorkUnit, years: list[int], *, season: tuple[str, str],
               max_cloud: float, max_scenes: int) -> tuple[xr.Dataset, dict[int, dict[str, Any]]]:
    """Return the unit's cube Dataset and, per year, the scene decisions (kept and dropped, with reasons)."""
    selections = select_unit_scenes(url, provider, unit, years, season=season, max_cloud=max_cloud,
                                    max_scenes=max_scenes)
    ds = assemble_unit(provider, unit, {y: {s: sel.items for s, sel in sels.items()} for y, sels in selections.items()})
    decisions = {y: {s: [d.__dict__ for d in sel.decisions] for s, sel in sels.items()} for y, sels in selections.items()}
    return ds, decisions
