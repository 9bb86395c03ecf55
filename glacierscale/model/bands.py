"""Sensor groups of cube bands: the unit of fusion stems, modality dropout and ablations.

A group is present or absent as a whole in a cube (a sensor with no scene in the window gives all-NaN
bands). Optical data is required: a pixel without it is nodata. The other groups are optional for a
checkpoint trained with them dropped out.
"""

from __future__ import annotations

GROUPS: dict[str, tuple[str, ...]] = {
    "optical": ("B02", "B03", "B04", "B08", "B11", "B12"),
    "sar": ("VV", "VH", "COH"),
    "thermal": ("LST",),
    "dem": ("ELEV", "SLOPE", "ASPECT"),
}
REQUIRED_GROUP = "optical"
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
