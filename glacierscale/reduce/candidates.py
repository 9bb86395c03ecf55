"""Candidate glaciers: mapped ice beyond the attribution buffer of every inventory outline, kept with its own id.

An inventory is never complete (RGI 7 misses small glaciers, and a glacier that advanced past its buffer is
not in any outline), and mapped ice far from every outline may also be a perennial snow field or a
misreading. Either way it is not dropped: each connected object of unattributed ice becomes a *candidate*
with an id of its own and goes through the archive like a glacier (its area, uncertainty, polygon and
yearly series), flagged by the id's prefix, for a person to accept into the inventory or reject.

Ids are GLIMS-style location codes of the object's innermost pixel (the one farthest from its edge) rounded to
0.01° (≈ 1 km), prefixed ``cand-``: ``cand-G242680E52200N`` lies at 117.320° W, 52.200° N. The rounding keeps
an object's id from year to year while its edge moves, and objects in one 0.01° cell share an id (one
candidate). An object cut by a tile edge is found in each tile's padded read, and its innermost point is taken
over the padded object, so both tiles name it alike when it fits in their overlap.
"""

from __future__ import annotations

import re

import numpy as np
from affine import Affine
from pyproj import Transformer
from scipy import ndimage

PREFIX = "cand-"
CELL_DEG = 0.01  # rounding of the location code
_CODE = re.compile(r"^cand-G(\d{6})E(\d{5})([NS])$")


def is_candidate(glacier_id: str) -> bool:
    """Return whether ``glacier_id`` names a candidate (ice outside every inventory outline)."""
    return str(glacier_id).startswith(PREFIX)


def candidate_id(lon: float, lat: float) -> str:
    """Return the candidate id of a point: ``cand-G{lon 0-360 × 1000}E{|lat| × 1000}{N|S}`` rounded to 0.01°."""
    lon_r = round((lon % 360.0) / CELL_DEG) * CELL_DEG % 360.0
    lat_r = round(lat / CELL_DEG) * CELL_DEG
    return f"{PREFIX}G{round(lon_r * 1000):06d}E{round(abs(lat_r) * 1000):05d}{'N' if lat_r >= 0 else 'S'}"


def candidate_location(glacier_id: str) -> tuple[float, float]:
    """Return (lon in −180..180, lat) of a candidate id; ValueError naming the id if it is not one."""
    m = _CODE.match(str(glacier_id))
    if m is None:
        raise ValueError(f"{glacier_id!r} is not a candidate id (expected like cand-G242680E52200N)")
    lon = int(m.group(1)) / 1000.0
    lat = int(m.group(2)) / 1000.0 * (1 if m.group(3) == "N" else -1)
    return (lon - 360.0 if lon > 180.0 else lon), lat


def find_candidates(unattributed: np.ndarray, core: tuple[slice, slice], transform: Affine, epsg: int,
                    pixel_km2: np.ndarray, min_km2: float) -> tuple[np.ndarray, list[str]]:
    """Return (index raster on the core tile, ids): index i+1 = candidate ids[i], 0 = no candidate.

    ``unattributed``: the padded tile's ice beyond every outline's buffer; ``core`` cuts the core tile out of it;
    ``transform``: the padded tile's affine; ``pixel_km2``: the core tile's ground area per pixel. Objects (8-
    connected) smaller than ``min_km2`` over the padded tile are not candidates (pixel areas there are taken
    as the core's mean).
    """
    side = (core[0].stop - core[0].start, core[1].stop - core[1].start)
    out = np.zeros(side, np.int32)
    if not unattributed[core].any():
        return out, []
    objects, n = ndimage.label(unattributed, structure=np.ones((3, 3), bool))
    in_core = np.unique(objects[core][objects[core] > 0])
    sizes = np.bincount(objects.ravel(), minlength=n + 1) * float(pixel_km2.mean())
    keep = [int(k) for k in in_core if sizes[k] >= min_km2]
    if not keep:
        return out, []
    inner = ndimage.distance_transform_edt(objects > 0)
    spots = ndimage.maximum_position(inner, objects, keep)
    rows, cols = (np.array([s[k] for s in spots], dtype=np.float64) + 0.5 for k in (0, 1))  # pixel centres
    xs, ys = transform.c + cols * transform.a, transform.f + rows * transform.e  # north-up affine
    lon, lat = Transformer.from_crs(f"EPSG:{epsg}", "EPSG:4326", always_xy=True).transform(xs, ys)
    names = [candidate_id(float(x), float(y)) for x, y in zip(np.atleast_1d(lon), np.atleast_1d(lat), strict=True)]
    ids = sorted(set(names))
    index = {name: i + 1 for i, name in enumerate(ids)}
    lut = np.zeros(n + 1, np.int32)
    lut[keep] = [index[name] for name in names]
    out[...] = lut[objects[core]]
    return out, ids
