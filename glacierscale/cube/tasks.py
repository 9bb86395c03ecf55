"""The cube stage of a run item: reuse a complete stored unit-year for the same inputs, or build and store it."""

from __future__ import annotations

import time

import numpy as np

from glacierscale.catalog.provider import Provider
from glacierscale.catalog.tasks import RADAR, SelectionRecord, selected_items
from glacierscale.cube.years import CubeYear, read_cube_year, write_cube_year
from glacierscale.inventory.units import WorkUnit

OPTICAL = "s2"


def _missing(ds_missing: np.ndarray, sensors: list[str]) -> dict[str, bool]:
    return {s: bool(m) for s, m in zip(sensors, ds_missing.tolist(), strict=True)}


def cube_item(provider: Provider, unit: WorkUnit, selection: SelectionRecord, store: str, *,
              optical_required: bool = True) -> CubeYear:
    """Return one unit-year's cube for inference: read back when complete for the selection's input hash,
    else assembled from the selected scenes and stored (marker last). A year with no clear optical pixel at
    all is returned as a gap (``data`` None): there is nothing to map. With ``optical_required=False`` (the run
    maps under clouds) such a year is mapped from its SAR scenes when it has any."""
    import pystac

    from glacierscale.cube.assemble import build_year

    t0 = time.perf_counter()
    year = selection.year
    if selection.is_gap:  # a selection with SAR scenes is no gap when the run maps under clouds (catalog.tasks)
        return CubeYear(unit.unit_id, year, None, [], {OPTICAL: True}, 0.0, False, 0.0, selection.gap_reason)
    ds = read_cube_year(store, unit, year, selection.input_hash)
    if ds is not None:
        data = ds["data"].values.astype(np.float32, copy=False)
        bands = [str(b) for b in ds["band"].values]
        missing = _missing(ds["missing"].values, [str(s) for s in ds["sensor"].values])
        clear = float((ds["clear_count"].values > 0).mean())
        built = False
    else:
        items = {s: [pystac.Item.from_dict(d) for d in its] for s, its in selected_items(selection).items()}
        comp = build_year(provider, items, unit)
        write_cube_year(store, unit, year, comp, selection.input_hash)
        data, bands, missing = comp.data, comp.bands, comp.missing
        clear = float((comp.clear_count > 0).mean())
        built = True
    seconds = time.perf_counter() - t0
    radar = not optical_required and not missing.get(RADAR, True)  # SAR read: it maps the year on its own
    if clear == 0.0 and OPTICAL in missing and not radar:
        reason = f"no clear optical pixel in unit {unit.unit_id} in {year} (scenes {selection.scene_ids.get(OPTICAL)})"
        return CubeYear(unit.unit_id, year, None, bands, missing, 0.0, built, seconds, reason)
    return CubeYear(unit.unit_id, year, data, bands, missing, clear, built, seconds)
