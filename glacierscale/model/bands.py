"""Sensor groups of cube bands: the unit of fusion stems, modality dropout and ablations.

A group is present or absent as a whole in a cube (a sensor with no scene in the window gives all-NaN
bands). Optical data is required by default: a pixel without it is nodata. The other groups are optional for
a checkpoint trained with them dropped out; a checkpoint trained with cloud-shaped optical gaps lists optical
among its optional groups and can map a pixel from SAR (+ DEM, thermal) alone when asked to.

Elevation can be read relative to the tile (``relative_elevation``): the tile's median elevation is
subtracted, so a model never learns the absolute height of the snow line of the regions it was trained on.
"""

from __future__ import annotations

import numpy as np

GROUPS: dict[str, tuple[str, ...]] = {
    "optical": ("B02", "B03", "B04", "B08", "B11", "B12"),
    "sar": ("VV", "VH", "COH"),
    "thermal": ("LST",),
    "dem": ("ELEV", "SLOPE", "ASPECT"),
}
REQUIRED_GROUP = "optical"
IMAGING_GROUPS = ("optical", "sar")  # a pixel without optical data needs one of these (the DEM alone sees no ice)
ELEVATION_BAND = "ELEV"
OTHER_GROUP = "other"  # bands no group names (e.g. a custom 3-band model's): treated as required


def group_of(band: str) -> str:
    """Return the sensor group of a band name (``other`` when no group lists it)."""
    for name, members in GROUPS.items():
        if band in members:
            return name
    return OTHER_GROUP


def bands_by_group(bands: list[str]) -> dict[str, list[str]]:
    """Return the bands of each group present in ``bands`` (group order of GROUPS, band order of ``bands``)."""
    out: dict[str, list[str]] = {}
    for name in (*GROUPS, OTHER_GROUP):
        members = [b for b in bands if group_of(b) == name]
        if members:
            out[name] = members
    return out


def required_indices(bands: list[str]) -> list[int]:
    """Return the indices of the bands a pixel needs to be mapped: optical or unnamed bands (all if none)."""
    idx = [i for i, b in enumerate(bands) if group_of(b) in (REQUIRED_GROUP, OTHER_GROUP)]
    return idx or list(range(len(bands)))


def relative_elevation(data: np.ndarray, bands: list[str]) -> np.ndarray:
    """Return (band, y, x) data with the elevation band minus its median over the tile (a copy; others as they are).

    Idempotent: the median of relative elevation is 0. A tile without elevation is returned unchanged.
    """
    if ELEVATION_BAND not in bands:
        return data
    i = bands.index(ELEVATION_BAND)
    finite = np.isfinite(data[i])
    if not finite.any():
        return data
    out = np.array(data, dtype=np.float32, copy=True)
    out[i] = data[i] - np.float32(np.median(data[i][finite]))
    return out


def optional_optical_indices(bands: list[str]) -> list[list[int]]:
    """Return, per imaging group present in ``bands``, its band indices: a pixel with all bands of any one of
    them finite can be mapped by a checkpoint for which optical data is optional."""
    groups = bands_by_group(bands)
    return [[bands.index(b) for b in groups[g]] for g in IMAGING_GROUPS if g in groups]
