"""Cube years: one Zarr v3 group per (unit, year), written atomically, so an interrupted write is never read.

Layout inside a cube store (local folder or ``s3://bucket/prefix``)::

    <unit_id>/<year>-<input_hash[:12]>.zarr   the year's (band, y, x) float32 composite + clear count
    <unit_id>/<year>.json                     marker, written last: input hash, group name, every stored object

A year is complete only when its marker exists, names the current input hash and every object it lists is
present with its size; anything else is rebuilt. Writing a year never touches the unit's other years, and
the same inputs always land at the same name (a retry overwrites its own partial write, never a good one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from glacierscale.cube.assemble import YearComposite
from glacierscale.cube.store import unit_coords
from glacierscale.errors import CubeError
from glacierscale.inventory.units import WorkUnit
from glacierscale.redact import redact


@dataclass(frozen=True)
class CubeYear:
    """One unit-year ready for inference: the (band, y, x) cube of the padded tile and its bookkeeping."""

    unit_id: str
    year: int
    data: np.ndarray | None  # None: nothing usable (a gap)
    bands: list[str]
    missing: dict[str, bool]
    clear_share: float  # share of padded-tile pixels with at least one clear optical observation
    built: bool  # True when this call assembled it, False when it was read back from the store
    seconds: float
    reason: str = ""
    cpu_seconds: float = 0.0  # process CPU time of the task (for sizing)


def _fs(store: str) -> tuple[Any, str]:
    import fsspec

    fs, _, paths = fsspec.get_fs_token_paths(store)
    return fs, paths[0].rstrip("/")


def year_paths(store: str, unit: WorkUnit, year: int, input_hash: str) -> tuple[str, str]:
    """Return (group URL, marker URL) of one unit-year in ``store``."""
    base = f"{store.rstrip('/')}/{unit.unit_id}"
    return f"{base}/{year}-{input_hash[:12]}.zarr", f"{base}/{year}.json"


def _year_dataset(unit: WorkUnit, year: int, comp: YearComposite, input_hash: str) -> xr.Dataset:
    import rioxarray  # noqa: F401  (registers .rio)

    x, y = unit_coords(unit)
    sensors = sorted(comp.missing)
    ds = xr.Dataset(
        {"data": (("band", "y", "x"), comp.data), "clear_count": (("y", "x"), comp.clear_count),
         "missing": (("sensor",), np.array([comp.missing[s] for s in sensors]))},
        coords={"band": np.array(comp.bands, dtype=object), "sensor": np.array(sensors, dtype=object), "x": x, "y": y},
        attrs={"unit_id": unit.unit_id, "year": int(year), "epsg": unit.epsg, "resolution": unit.resolution,
               "input_hash": input_hash, "scenes": json.dumps(comp.scenes)},
    )
    return ds.rio.write_crs(f"EPSG:{unit.epsg}")


def write_cube_year(store: str, unit: WorkUnit, year: int, comp: YearComposite, input_hash: str) -> str:
    """Write one unit-year and then its marker; return the group URL. CubeError naming the URL on failure."""
    url, marker = year_paths(store, unit, year, input_hash)
    fs, root = _fs(url)
    side = min(unit.read_size_px, 512)
    try:
        _year_dataset(unit, year, comp, input_hash).chunk({"band": -1, "y": side, "x": side}).to_zarr(
            url, mode="w", consolidated=False, zarr_format=3)
        objects = {p[len(root) + 1:]: int(info["size"]) for p, info in fs.find(root, detail=True).items()}
        with fs.open(marker, "w") as f:  # last: its presence means every object above was written
            json.dump({"input_hash": input_hash, "group": url.rsplit("/", 1)[1], "objects": objects}, f)
    except Exception as err:  # raised below, unchained: a Ray task returns it whole (see assemble._stack)
        reason = f"{err}"
    else:
        return url
    raise CubeError(redact(f"writing cube {url} failed: {reason}"))


def cube_year_complete(store: str, unit: WorkUnit, year: int, input_hash: str) -> bool:
    """Return True when the store holds this unit-year for ``input_hash`` with every object its marker lists."""
    url, marker = year_paths(store, unit, year, input_hash)
    fs, root = _fs(url)
    try:
        with fs.open(marker) as f:
            meta = json.load(f)
    except (FileNotFoundError, OSError, ValueError):
        return False
    if meta.get("input_hash") != input_hash or not meta.get("objects"):
        return False
    try:
        have = {p[len(root) + 1:]: int(info["size"]) for p, info in fs.find(root, detail=True).items()}
    except (FileNotFoundError, OSError):
        return False
    return all(have.get(k) == size for k, size in meta["objects"].items())


def read_cube_year(store: str, unit: WorkUnit, year: int, input_hash: str) -> xr.Dataset | None:
    """Return the stored unit-year for ``input_hash`` (loaded), or None when it is absent or incomplete."""
    if not cube_year_complete(store, unit, year, input_hash):
        return None
    url, _ = year_paths(store, unit, year, input_hash)
    try:
        return xr.open_zarr(url, consolidated=False, zarr_format=3, decode_coords="all").load()
    except Exception as err:
        reason = f"{err}"
    raise CubeError(redact(f"reading cube {url} failed: {reason}"))
