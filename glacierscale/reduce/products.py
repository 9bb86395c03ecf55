"""What the reducer makes of one (unit, year) run item: rasters of the core tile and per-glacier parts.

These are the values that cross the staging interface into the archive (``glacierscale.archive.staging``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from glacierscale.inventory.units import WorkUnit

ItemStatus = Literal["done", "gap"]


@dataclass(frozen=True)
class GlacierPart:
    """One glacier's share of one unit-year (km²; pixels inside the unit's core tile and CRS zone).

    ``outline_km2`` is the glacier's inventory outline in the tile, ``observed_km2`` the part of it with a usable
    view; their sums over a glacier's tiles give its observed fraction. ``area_km2`` counts clean +
    debris-covered ice of observed pixels attributed to the glacier (its outline grown by the attribution
    buffer); the estimate for unobserved pixels is made at publish from every year of the tile
    (``reduce.temporal``). ``radar_km2`` is the share of ``observed_km2`` a run that maps under clouds
    (``infer.map_under_clouds``) read from SAR + DEM (+ thermal) alone.
    """

    glacier_id: str
    area_km2: float
    debris_km2: float
    outline_km2: float
    observed_km2: float
    perimeter_km: float = 0.0  # boundary length of the mapped ice inside the tile (uncertainty term)
    soft_area_km2: float = float("nan")  # sum of glacier probabilities over observed pixels (model term)
    outline_wkb: bytes = b""  # the mapped ice attributed to this glacier, as WKB polygons in the unit's CRS
    radar_km2: float = 0.0  # of observed_km2, the part no clear optical scene saw: mapped from SAR + DEM alone


@dataclass(frozen=True)
class UnitProduct:
    """Everything one (unit, year) item contributes to the archive.

    ``classes`` and ``probability`` cover the unit's core tile (``unit.size_px`` square, north up), uint8,
    255 = nodata; both are None for a gap (nothing usable at all: the archive records the gap, no pixels).
    """

    unit: WorkUnit
    year: int
    status: ItemStatus
    input_hash: str
    model_hash: str
    classes: np.ndarray | None = None
    probability: np.ndarray | None = None
    parts: tuple[GlacierPart, ...] = ()
    unattributed_km2: float = 0.0
    nodata_share: float = 1.0
    sensors: tuple[str, ...] = ()
    scenes: dict[str, list[str]] = field(default_factory=dict)
    reason: str = ""  # why a gap is a gap
