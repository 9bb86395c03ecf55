"""Bodies of the Ray tasks the pipeline schedules (plain functions, so they are testable without Ray)."""

from __future__ import annotations

from typing import Any

import numpy as np

from glacierscale.inventory.units import WorkUnit


def build_cube_task(provider: Any, unit: WorkUnit, items: dict[int, dict[str, list[dict[str, Any]]]],
                    store: str) -> bool:
    """Build and store one unit's cube from selected item dicts unless the store already holds the same
    scenes for every year; return True when it was (re)built."""
    import json

    from glacierscale.cube.build import assemble_unit
    from glacierscale.cube.store import complete_for, open_unit, write_unit

    wanted = {str(y): {s: [it["id"] for it in its] for s, its in per.items()} for y, per in items.items()}
    existing = open_unit(store, unit)
    if complete_for(existing, list(items), unit) and existing is not None:
        stored = json.loads(existing.attrs.get("scenes", "{}"))
        if all(stored.get(y) == scenes for y, scenes in wanted.items()):
            return False
    write_unit(store, unit, assemble_unit(provider, unit, items))
    return True


def load_cube_year(store: str, unit: WorkUnit, year: int) -> tuple[np.ndarray, list[str]]:
    """Return one year of a stored unit cube as (band, y, x) float32 and its band names."""
    from glacierscale.cube.store import open_unit
    from glacierscale.errors import CubeError

    ds = open_unit(store, unit)
    if ds is None or year not in {int(y) for y in ds["year"].values}:
        raise CubeError(f"cube store {store} has no year {year} for unit {unit.unit_id}")
    return ds["data"].sel(year=year).values.astype(np.float32), [str(b) for b in ds["band"].values]


def reduce_unit_task(unit: WorkUnit, results: list[Any], inventory: Any, max_distance_m: float,
                     min_object_km2: float) -> tuple[list[Any], list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray]:
    """Cut the core tile out of one unit's padded predictions, clean and attribute it; return (areas per year,
    cleaned classes, glacier probabilities, x, y) of the core tile."""
    from glacierscale.cube.store import unit_coords
    from glacierscale.reduce.areas import attribution_map, clean_classes, unit_areas, zone_mask

    labels, ids = attribution_map(unit, inventory, max_distance_m)
    inside = zone_mask(unit)
    min_px = max(1, round(min_object_km2 * 1e6 / unit.resolution**2))
    areas, cleaned, probs = [], [], []
    for r in results:
        # clean on the padded tile, so an object that reaches into the overlap keeps its full size
        classes = clean_classes(r.classes, min_px)[unit.core()]
        cleaned.append(classes)
        probs.append(r.glacier_probability[unit.core()])
        areas.append(unit_areas(unit, r.year, classes, labels, ids, inside))
    x, y = unit_coords(unit, padded=False)
    return areas, cleaned, probs, x, y
