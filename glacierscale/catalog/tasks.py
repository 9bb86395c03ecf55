"""Scene selection as a run task: one (unit, year), persisted with the item ids it chose, reused on resume.

The task receives one work unit, never the inventory; what it returns to the driver is a small
:class:`SelectionRecord` (ids and hash), while the chosen items themselves go to a JSON file that the cube task
reads. The input hash keys every later product: scene ids per sensor + the unit's grid + provider + code
version, so new scenes, another grid or another provider redo an item, and nothing else does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from glacierscale.catalog.provider import Provider
from glacierscale.inventory.units import WorkUnit

CUBE_CODE_VERSION = "cube-2"  # bump when the cube assembly changes what the same scenes produce


@dataclass(frozen=True)
class SelectionRecord:
    """Which scenes one unit-year uses (ids per sensor), where the items are kept, and the input hash."""

    unit_id: str
    year: int
    scene_ids: dict[str, list[str]]
    input_hash: str
    path: str  # JSON with the selected STAC item dicts and every decision
    gap_reason: str = ""  # non-empty: no optical scene sees the unit, nothing can be mapped
    seconds: float = 0.0
    reused: bool = False
    notes: list[str] = field(default_factory=list)
    cpu_seconds: float = 0.0  # process CPU time of the task (for sizing)

    @property
    def is_gap(self) -> bool:
        return bool(self.gap_reason)


RADAR = "s1"  # the SAR sensor: it maps a year without optical scenes when the run maps under clouds


def input_hash(unit: WorkUnit, provider: str, scene_ids: dict[str, list[str]], code_version: str) -> str:
    """Return the sha256 key of everything that decides a unit-year's cube."""
    key = {"unit": unit.unit_id, "epsg": unit.epsg, "bounds": unit.padded_bounds(), "res": unit.resolution,
           "size": unit.read_size_px, "provider": provider, "scenes": {s: list(v) for s, v in sorted(scene_ids.items())},
           "code": code_version}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def selection_path(state: str, run_id: str, unit: WorkUnit, year: int) -> str:
    return f"{state.rstrip('/')}/runs/{run_id}/selections/{unit.unit_id}/{year}.json"


def _read_json(path: str) -> dict[str, Any] | None:
    import fsspec

    try:
        with fsspec.open(path) as f:
            data = json.load(f)
    except (FileNotFoundError, OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: str, data: dict[str, Any]) -> None:
    import fsspec

    fs, _, (p,) = fsspec.get_fs_token_paths(path)
    fs.makedirs(p.rsplit("/", 1)[0], exist_ok=True)
    tmp = f"{p}.tmp"
    with fs.open(tmp, "w") as f:
        json.dump(data, f)
    fs.mv(tmp, p)  # whole or absent: a reader never sees half a selection


def _record(unit: WorkUnit, year: int, data: dict[str, Any], path: str, seconds: float, reused: bool,
            optical_required: bool = True) -> SelectionRecord:
    gap, notes = str(data.get("gap_reason", "")), list(data.get("notes", []))
    if gap and not optical_required and data["scene_ids"].get(RADAR):
        gap, notes = "", [*notes, f"mapped from SAR alone: {gap}"]
    return SelectionRecord(unit.unit_id, year, data["scene_ids"], data["input_hash"], path, gap, seconds, reused, notes)


def select_item(url: str, provider: Provider, unit: WorkUnit, year: int, *, state: str, run_id: str,
                season: tuple[str, str], south_season: tuple[str, str], max_cloud: float, max_scenes: int,
                code_version: str = CUBE_CODE_VERSION, optical_required: bool = True) -> SelectionRecord:
    """Select the scenes of one unit-year (or reuse the run's persisted selection) and return its record.

    ``optical_required=False`` (a run that maps under clouds): a year without an optical scene is no gap when
    SAR scenes see the unit; the record's notes keep why optical is missing.
    """
    import time

    from glacierscale.catalog.access import unsigned_item
    from glacierscale.catalog.search import detach_item
    from glacierscale.catalog.select import UnitGrid, select_scenes

    t0 = time.perf_counter()
    path = selection_path(state, run_id, unit, year)
    kept = _read_json(path)
    if kept is not None and "input_hash" in kept:
        return _record(unit, year, kept, path, time.perf_counter() - t0, True, optical_required)
    bbox = unit.bbox_wgs84()
    window = season if unit.hemisphere == "north" else south_season
    coarse = max(8, unit.size_px // 4)
    grid = UnitGrid(unit.epsg, unit.bounds, (coarse, coarse))
    sels = select_scenes(url, provider, bbox, year, window, max_cloud, max_scenes, grid, require_optical=False)
    ids = {s: sel.ids for s, sel in sels.items()}
    optical = sels.get("s2")
    gap = ""
    if optical is not None and not optical.items:
        why = "; ".join(d.reason for d in optical.decisions[:3]) or "no scene in the window"
        gap = f"no optical scene sees unit {unit.unit_id} in {year}: {why}"
    data = {
        "unit_id": unit.unit_id, "year": year, "scene_ids": ids, "gap_reason": gap,
        "input_hash": input_hash(unit, provider.name, ids, code_version),
        # unsigned: a signature expires, and a selection is a record (workers sign right before they read)
        "items": {s: [unsigned_item(detach_item(it)) for it in sel.items] for s, sel in sels.items()},
        "decisions": {s: [d.__dict__ for d in sel.decisions] for s, sel in sels.items()},
    }
    _write_json(path, data)
    return _record(unit, year, data, path, time.perf_counter() - t0, False, optical_required)


def selected_items(record: SelectionRecord) -> dict[str, list[dict[str, Any]]]:
    """Return the STAC item dicts per sensor that a selection chose (read from its JSON)."""
    from glacierscale.errors import CatalogError

    data = _read_json(record.path)
    if data is None or data.get("input_hash") != record.input_hash:
        raise CatalogError(f"scene selection {record.path} of unit {record.unit_id} {record.year} is missing or "
                           "changed since it was made")
    items = data.get("items", {})
    return {str(s): list(v) for s, v in items.items()}
