"""RGI regions (first and second order) and the selection of glaciers from an inventory.

Region codes follow RGI 7.0 (the same numbering as RGI 6.0): first-order ``01``..``19`` (``20``, the Antarctic
mainland, is defined but holds no glaciers), second-order ``NN-MM``. Codes are accepted with or without the
leading zero (``1``, ``01``, ``11-1``, ``11-01``) and normalised to the two-digit form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from glacierscale.errors import ConfigError

O1_NAMES: dict[str, str] = {
    "01": "Alaska", "02": "Western Canada and USA", "03": "Arctic Canada North", "04": "Arctic Canada South",
    "05": "Greenland Periphery", "06": "Iceland", "07": "Svalbard and Jan Mayen", "08": "Scandinavia",
    "09": "Russian Arctic", "10": "Asia North", "11": "Central Europe", "12": "Caucasus and Middle East",
    "13": "Asia Central", "14": "Asia South West", "15": "Asia South East", "16": "Low Latitudes",
    "17": "Southern Andes", "18": "New Zealand", "19": "Subantarctic and Antarctic Islands",
    "20": "Antarctic Mainland",
}

# second-order region numbers per first-order region (RGI 6.0 and 7.0 use the same numbering)
_O2_NUMBERS: dict[str, tuple[int, ...]] = {
    "01": tuple(range(1, 7)), "02": tuple(range(1, 6)), "03": tuple(range(1, 8)), "04": tuple(range(1, 10)),
    "05": (1, 11), "06": (1,), "07": (1, 2), "08": (1, 2, 3), "09": (1, 2, 3), "10": tuple(range(1, 8)),
    "11": (1, 2), "12": (1, 2), "13": tuple(range(1, 10)), "14": (1, 2, 3), "15": (1, 2, 3), "16": (1, 2, 3, 4),
    "17": (1, 2), "18": (1,), "19": (*range(1, 6), *range(11, 25), 31), "20": (1,),
}
O2_CODES: frozenset[str] = frozenset(f"{o1}-{n:02d}" for o1, ns in _O2_NUMBERS.items() for n in ns)

_CODE = re.compile(r"^(\d{1,2})(?:-(\d{1,2}))?$")


def normalise_region_code(code: str) -> str:
    """Return ``code`` as ``NN`` or ``NN-MM``; ConfigError if it is not an RGI region."""
    text = str(code).strip()
    m = _CODE.match(text)
    if m is None:
        raise ConfigError(f"unknown RGI region code {text!r}: use a first-order code 01-19 or a second-order "
                          f"code like 11-01")
    o1 = f"{int(m.group(1)):02d}"
    if o1 not in O1_NAMES:
        raise ConfigError(f"unknown RGI region code {text!r}: first-order regions are 01-19 "
                          f"(and 20, the Antarctic mainland)")
    if m.group(2) is None:
        return o1
    o2 = f"{o1}-{int(m.group(2)):02d}"
    if o2 not in O2_CODES:
        known = ", ".join(sorted(c for c in O2_CODES if c.startswith(o1 + "-")))
        raise ConfigError(f"unknown RGI region code {text!r}: region {o1} ({O1_NAMES[o1]}) has second-order "
                          f"regions {known}")
    return o2


def parse_region_codes(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Return normalised, de-duplicated region codes from ``"01,11-01"`` or a list; () for None/empty."""
    if value is None:
        return ()
    parts = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    codes = [normalise_region_code(p) for p in parts if p.strip()]
    return tuple(dict.fromkeys(codes))


@dataclass(frozen=True)
class Selection:
    """Which glaciers of an inventory to plan: every non-empty criterion must hold (AND)."""

    regions: tuple[str, ...] = ()  # first- or second-order codes; a glacier matches if it is in any of them
    ids: tuple[str, ...] = ()
    bbox: tuple[float, float, float, float] | None = None  # W, S, E, N degrees; W > E crosses the antimeridian
    min_area_km2: float = 0.0

    def describe(self) -> str:
        """Return the criteria in words, for messages and the plan summary."""
        parts = []
        if self.regions:
            parts.append(f"regions {','.join(self.regions)}")
        if self.ids:
            parts.append(f"{len(self.ids)} glacier ids")
        if self.bbox is not None:
            parts.append("bbox " + ",".join(f"{v:g}" for v in self.bbox))
        if self.min_area_km2 > 0:
            parts.append(f"area >= {self.min_area_km2:g} km²")
        return "; ".join(parts) or "all glaciers"


def _bbox_boxes(bbox: tuple[float, float, float, float]) -> list[shapely.Geometry]:
    """Return the bbox as boxes in the unwrapped longitude frame (-180..540) the planner works in."""
    w, s, e, n = bbox
    if not (-90 <= s < n <= 90) or not (-180 <= w <= 180 and -180 <= e <= 180) or w == e:
        raise ConfigError(f"bbox {bbox} must be W,S,E,N in degrees with S < N (W > E crosses the antimeridian)")
    if w > e:  # crosses the antimeridian: east part continues past 180 in the unwrapped frame
        return [shapely.box(w, s, e + 360.0, n), shapely.box(w - 360.0, s, e, n)]
    return [shapely.box(w, s, e, n), shapely.box(w + 360.0, s, e + 360.0, n)]


def select_glaciers(outlines: gpd.GeoDataFrame, selection: Selection, *, source: str = "the inventory") -> gpd.GeoDataFrame:
    """Return the rows of ``outlines`` (lon/lat, from :func:`~glacierscale.inventory.grid.to_lonlat`) selected.

    ConfigError when a criterion cannot be applied (no region attribute, unknown ids) or nothing is left.
    """
    keep = np.ones(len(outlines), dtype=bool)
    counts: list[str] = []
    if selection.regions:
        o1 = outlines.get("o1region")
        if o1 is None or o1.isna().all():
            raise ConfigError(f"{source} carries no RGI region attribute (o1region, O1Region, gtng_o1reg or RGI "
                              f"ids), so --regions {','.join(selection.regions)} cannot be applied: select with "
                              f"--bbox or --ids, or name the region column with --columns o1region=COLUMN")
        o2 = outlines["o2region"] if "o2region" in outlines else o1.where(False)
        wanted_o1 = [c for c in selection.regions if "-" not in c]
        wanted_o2 = [c for c in selection.regions if "-" in c]
        in_region = o1.isin(wanted_o1).to_numpy() | o2.isin(wanted_o2).to_numpy()
        if wanted_o2 and o2.isna().all():
            raise ConfigError(f"{source} carries no second-order region attribute, so regions "
                              f"{','.join(wanted_o2)} cannot be applied; use first-order codes")
        keep &= in_region
        counts.append(f"regions {','.join(selection.regions)} matched {int(in_region.sum())}")
    if selection.ids:
        wanted = set(selection.ids)
        present = set(outlines["glacier_id"])
        missing = sorted(wanted - present)
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            raise ConfigError(f"{len(missing)} of {len(wanted)} requested glacier ids are not in {source}: {shown}")
        keep &= outlines["glacier_id"].isin(wanted).to_numpy()
    if selection.bbox is not None:
        tree = shapely.STRtree(outlines.geometry.to_numpy())
        hit = np.zeros(len(outlines), dtype=bool)
        for b in _bbox_boxes(selection.bbox):
            hit[tree.query(b, predicate="intersects")] = True
        keep &= hit
        counts.append(f"bbox matched {int(hit.sum())}")
    if selection.min_area_km2 > 0:
        big = (outlines["outline_km2"] >= selection.min_area_km2).to_numpy()
        keep &= big
        counts.append(f"{int(big.sum())} are >= {selection.min_area_km2:g} km²")
    if not keep.any():
        detail = f" ({'; '.join(counts)})" if counts else ""
        raise ConfigError(f"the selection ({selection.describe()}) leaves no glacier of {source}"
                          f"{detail}; {len(outlines)} outlines were read")
    return outlines[keep] if not keep.all() else outlines


def region_names(codes: Sequence[str]) -> list[str]:
    """Return display names (``11 Central Europe``) for first-order codes; unknown codes pass through."""
    return [f"{c} {O1_NAMES[c]}" if c in O1_NAMES else str(c) for c in codes]
