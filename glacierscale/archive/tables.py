"""Record groups of the archive (``tiles``, ``parts``, ``glaciers``, ``runs``) as plain Zarr arrays.

Each group is a small set of named arrays over shared dimensions (``tile``, ``year``, ``glacier``, ``part``,
``run``); a group grows along a dimension by resizing every array that has it. Chunks are (1024 tiles or
4096 glaciers, 1 year) for (record, year) arrays, so writing one year touches only that year's chunks; 1-D axes
use 16384 (2048 for appended parts and 64 KiB of outline bytes, so an append rewrites little). Strings are
Zarr v3 variable-length UTF-8 ("" = no value); WKB outlines are one ragged uint8 array with per-part offsets
(no unstable variable-length-bytes type in a store kept for decades).
"""

from __future__ import annotations

from typing import Any

import numpy as np

Column = tuple[tuple[str, ...], str]

TILES: dict[str, Column] = {
    "year": (("year",), "i4"),
    "unit_id": (("tile",), "str"), "epsg": (("tile",), "i4"), "col": (("tile",), "i4"), "row": (("tile",), "i4"),
    "resolution": (("tile",), "f8"), "size_px": (("tile",), "i4"), "glacier_ids": (("tile",), "str"),
    "bbox": (("tile", "corner"), "f8"),
    "status": (("tile", "year"), "str"), "input_hash": (("tile", "year"), "str"),
    "model_hash": (("tile", "year"), "str"), "run_id": (("tile", "year"), "str"),
    "nodata_share": (("tile", "year"), "f4"), "unattributed_km2": (("tile", "year"), "f8"),
    "sensors": (("tile", "year"), "str"), "scenes": (("tile", "year"), "str"), "reason": (("tile", "year"), "str"),
    "parts_start": (("tile", "year"), "i8"), "parts_count": (("tile", "year"), "i4"),
}
TILE_RECORD = ("status", "input_hash", "model_hash", "run_id", "nodata_share", "unattributed_km2", "sensors",
               "scenes", "reason", "parts_start", "parts_count")
PART_NUMBERS = ("area_km2", "debris_km2", "outline_km2", "observed_km2", "perimeter_km", "soft_area_km2", "unc_km2",
                "radar_km2")
PARTS: dict[str, Column] = {
    "tile": (("part",), "i4"), "year": (("part",), "i4"), "glacier_id": (("part",), "str"),
    **{n: (("part",), "f8") for n in PART_NUMBERS}, "gap": (("part",), "u1"),
    # outlines as WKB, ragged: part i is outline_wkb[wkb_start[i] : wkb_start[i] + wkb_size[i]] (plain uint8)
    "wkb_start": (("part",), "i8"), "wkb_size": (("part",), "i4"), "outline_wkb": (("byte",), "u1"),
}
# what publish re-estimates per part from the tile's whole series (archive/temporal.py; NaN until then)
PART_ESTIMATES: dict[str, Column] = {n: (("part",), "f8") for n in (
    "est_area_km2", "filled_km2", "filled_nearby_km2", "filtered_km2", "est_perimeter_km", "est_boundary_km2",
    "model_var_km4")}
GLACIER_ATTRS = ("glacier_id", "rgi_id", "glims_id", "lon", "lat", "region", "terminus_type")
GLACIER_NUMBERS = ("area_km2", "area_unc_km2", "debris_km2", "observed_fraction", "observed_area_km2", "filled_km2",
                   "area_unc_boundary_km2", "area_unc_model_km2", "radar_fraction")
GLACIER_YEAR = (*GLACIER_NUMBERS[:4], "quality", "sensors", "model_hash", "run_id", *GLACIER_NUMBERS[4:],
                "area_source", "change_excluded")
GLACIERS: dict[str, Column] = {
    "year": (("year",), "i4"),
    **{n: (("glacier",), "f8" if n in ("lon", "lat") else "str") for n in GLACIER_ATTRS},
    **{n: (("glacier", "year"), "f8" if n in GLACIER_NUMBERS else "str") for n in GLACIER_YEAR},
}
RUNS: dict[str, Column] = {n: (("run",), "str") for n in ("run_id", "published_at", "source_snapshot", "record")}

CHUNK_1D = {"tile": 16384, "glacier": 16384, "part": 2048, "run": 64, "year": 64, "byte": 1 << 16}
CHUNK_2D = {"tile": 1024, "glacier": 4096, "year": 1, "corner": 4}
FIXED = {"corner": 4}
UNITS = {"area_km2": "km2", "area_unc_km2": "km2", "debris_km2": "km2", "unattributed_km2": "km2", "lon": "degrees_east",
         "lat": "degrees_north", "perimeter_km": "km", "outline_km2": "km2", "observed_km2": "km2", "unc_km2": "km2",
         "radar_km2": "km2",
         **{n: "km2" for n in ("est_area_km2", "filled_km2", "filled_nearby_km2", "filtered_km2", "observed_area_km2",
                               "area_unc_boundary_km2", "area_unc_model_km2")},
         "est_perimeter_km": "km", "est_boundary_km2": "km2", "model_var_km4": "km4"}


def _dtype(kind: str) -> Any:
    return str if kind == "str" else np.dtype(kind)


def _fill(kind: str) -> Any:
    return {"str": "", "f8": np.nan, "f4": np.nan, "i4": -1, "i8": -1, "u1": 0}[kind]


GLACIER_COORDS = "glacier_id rgi_id lon lat"  # CF ``coordinates`` of (glacier, year) variables


def open_table(parent: Any, name: str, schema: dict[str, Column], *, create: bool) -> Any:
    """Return the group ``name`` of ``parent`` with every array of ``schema``; None if absent and not create."""
    if name not in parent:
        if not create:
            return None
        parent.create_group(name)
    group = parent[name]
    have = set(group.array_keys())
    for var, (dims, kind) in schema.items():
        if var in have:
            continue
        shape = tuple(FIXED.get(d, size(group, d)) for d in dims)
        chunks = tuple((CHUNK_2D if len(dims) > 1 else CHUNK_1D)[d] for d in dims)
        attrs: dict[str, Any] = {"units": UNITS[var]} if var in UNITS else {}
        if dims == ("glacier", "year"):
            attrs["coordinates"] = GLACIER_COORDS
        group.create_array(var, shape=shape, chunks=chunks, dtype=_dtype(kind), fill_value=_fill(kind), dimension_names=dims,
                           attributes=attrs)
    return group


def size(group: Any, dim: str) -> int:
    """Return the length of ``dim`` in ``group`` (0 if no array has it yet)."""
    for _, arr in group.arrays():
        dims = list(arr.metadata.dimension_names or ())
        if dim in dims:
            return int(arr.shape[dims.index(dim)])
    return 0


def grow(group: Any, dim: str, n: int) -> None:
    """Resize every array of ``group`` with dimension ``dim`` to length ``n``."""
    for _, arr in group.arrays():
        dims = list(arr.metadata.dimension_names or ())
        if dim in dims and arr.shape[dims.index(dim)] != n:
            shape = list(arr.shape)
            shape[dims.index(dim)] = n
            arr.resize(tuple(shape))


def append(group: Any, dim: str, columns: dict[str, np.ndarray]) -> int:
    """Append rows along ``dim`` (columns not given keep their fill); return the first new index."""
    n = len(next(iter(columns.values()))) if columns else 0
    start = size(group, dim)
    if n:
        grow(group, dim, start + n)
        for var, values in columns.items():
            group[var][start:start + n] = values
    return start


def year_indices(group: Any, years: list[int]) -> dict[int, int]:
    """Return each year's index on the group's year axis, appending missing years (arrival order)."""
    have = [int(v) for v in group["year"][:]]
    index = {y: i for i, y in enumerate(have)}
    new = [y for y in sorted(set(years)) if y not in index]
    if new:
        start = append(group, "year", {"year": np.asarray(new, dtype=np.int32)})
        index.update({y: start + i for i, y in enumerate(new)})
    return index


def read(group: Any, names: tuple[str, ...] | list[str]) -> dict[str, np.ndarray]:
    """Return whole arrays by name."""
    return {n: np.asarray(group[n][...]) for n in names}


def text(values: Any) -> np.ndarray:
    """Return an array read from Zarr (numpy StringDType) as an object array of str."""
    return np.asarray(values).astype(object)


def strings(values: Any) -> np.ndarray:
    """Return a numpy object array of str (what Zarr's variable-length strings take)."""
    return np.asarray(["" if v is None else str(v) for v in values], dtype=object)
