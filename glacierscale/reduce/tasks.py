"""The reduce stage of a run item: the mapped padded tile → a :class:`UnitProduct` of its core tile.

Cleans the classes (small objects), cuts the core tile, attributes glacier pixels to the unit's inventory
glaciers and measures, per glacier, the ice area of observed pixels, the outline area and how much of it was
observed (so a cloud gap is counted, never read as retreat) and, of that, how much SAR + DEM mapped alone
(a run that maps under clouds), the boundary length and the ice polygons. Ice
beyond every outline's buffer becomes candidate glaciers with ids of their own (``reduce.candidates``), whose
"outline" is their mapped footprint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from glacierscale.classes import NODATA_CLASS
from glacierscale.inventory.units import WorkUnit
from glacierscale.reduce.products import GlacierPart, UnitProduct

if TYPE_CHECKING:
    import geopandas as gpd

    from glacierscale.infer.actors import TileResult
    from glacierscale.reduce.cleanup import CleanupOptions


def _perimeters_km(labels: np.ndarray, n: int, res_m: float) -> np.ndarray:
    """Return, per label 0..n-1, the length (km) of pixel edges between that label and any other value."""
    out = np.zeros(n, dtype=np.float64)
    padded = np.pad(labels, 1, constant_values=0)
    for a, b in ((padded[1:, :], padded[:-1, :]), (padded[:, 1:], padded[:, :-1])):
        edge = a != b
        out += np.bincount(a[edge].ravel(), minlength=n)[:n] + np.bincount(b[edge].ravel(), minlength=n)[:n]
    return out * res_m / 1000.0


def _polygons_wkb(ice_labels: np.ndarray, unit: WorkUnit) -> dict[int, bytes]:
    """Return per label > 0 the union of its pixels as WKB (multi)polygons in the unit's CRS."""
    from rasterio import features
    from shapely.geometry import shape
    from shapely.ops import unary_union

    from glacierscale.reduce.areas import unit_transform

    parts: dict[int, list[object]] = {}
    for geom, value in features.shapes(ice_labels.astype(np.int32), mask=ice_labels > 0,
                                       transform=unit_transform(unit), connectivity=4):
        parts.setdefault(int(value), []).append(shape(geom))
    return {k: unary_union(v).wkb for k, v in parts.items()}


def reduce_item(unit: WorkUnit, tile: TileResult, glaciers: gpd.GeoDataFrame, *, input_hash: str, model_hash: str,
                scenes: dict[str, list[str]], max_distance_m: float, min_object_km2: float,
                cleanup: CleanupOptions | None = None, candidate_min_km2: float | None = None) -> UnitProduct:
    """Return the unit-year's product from its mapped padded tile and the unit's glaciers (a gap stays a gap).

    ``cleanup`` sets the OBIA clean-up steps (``reduce.cleanup``); by default only objects below
    ``min_object_km2`` are removed. ``candidate_min_km2``: objects of ice beyond every outline's buffer at least
    this large become candidate parts (``reduce.candidates``); None keeps them in ``unattributed_km2`` only.
    """
    from glacierscale.reduce.areas import attribution_maps, pixel_areas_km2, zone_mask
    from glacierscale.reduce.candidates import find_candidates, is_candidate
    from glacierscale.reduce.cleanup import CleanupOptions, clean

    sensors = tuple(sorted(s for s, m in tile.missing.items() if not m))
    if tile.classes is None or tile.glacier_probability is None:
        return UnitProduct(unit, tile.year, "gap", input_hash, model_hash, sensors=sensors, scenes=scenes,
                           reason=tile.reason or "nothing usable")
    steps = cleanup or CleanupOptions(min_object_km2=min_object_km2)
    # clean on the padded tile, so an object that reaches into the overlap keeps its full size
    cleaned = clean(tile.classes, unit.resolution, steps, slope_deg=tile.slope_deg)
    classes = cleaned[unit.core()]
    probability = tile.glacier_probability[unit.core()]
    attribution = attribution_maps(unit, glaciers, max_distance_m)
    labels, outlines, ids = attribution.reach, attribution.outlines, attribution.ids
    inside = zone_mask(unit)
    if inside is not None:
        labels, outlines = np.where(inside, labels, 0), np.where(inside, outlines, 0)
    px_km2 = pixel_areas_km2(unit)  # true ground area of each pixel (the CRS's areal scale removed)
    nodata = classes == NODATA_CLASS
    ice = (classes == 1) | (classes == 2)
    counted = np.ones_like(nodata) if inside is None else inside
    if candidate_min_km2 is not None and (ice & (labels == 0) & counted).any():
        # objects are found on the padded tile, so one cut by the tile edge is named alike by both tiles
        beyond = ((cleaned == 1) | (cleaned == 2)) & (attribution.padded_reach == 0)
        cand, cand_ids = find_candidates(beyond, unit.core(), unit.read_transform(), unit.epsg, px_km2,
                                         candidate_min_km2)
        cand = np.where((cand > 0) & (labels == 0) & counted, cand + len(ids), 0)
        labels = np.where(cand > 0, cand, labels)
        outlines = np.where(cand > 0, cand, outlines)  # a candidate's footprint is its outline
        ids = [*ids, *cand_ids]
    n = len(ids) + 1
    ice_labels = np.where(ice, labels, 0)

    def count(mask: np.ndarray, lab: np.ndarray) -> np.ndarray:
        return np.bincount(lab[mask].ravel(), weights=px_km2[mask].ravel(), minlength=n)

    area, debris = count(ice, labels), count(classes == 2, labels)
    outline, observed = count(np.ones_like(ice), outlines), count(~nodata, outlines)
    radar_only = tile.radar_only[unit.core()] & ~nodata if tile.radar_only is not None else None
    radar = count(radar_only, outlines) if radar_only is not None else np.zeros(n)
    prob = np.where(nodata | (probability == 255), 0, probability).astype(np.float64) / 100.0
    soft = np.bincount(labels.ravel(), weights=(prob * px_km2).ravel(), minlength=n)
    perimeter = _perimeters_km(ice_labels, n, unit.resolution)
    polygons = _polygons_wkb(ice_labels, unit)
    parts = tuple(
        GlacierPart(gid, float(area[i + 1]), float(debris[i + 1]), float(outline[i + 1]), float(observed[i + 1]),
                    float(perimeter[i + 1]), float(soft[i + 1]), polygons.get(i + 1, b""), float(radar[i + 1]))
        for i, gid in enumerate(ids) if gid in unit.glacier_ids or is_candidate(gid)
    )
    share = float((nodata & counted).sum() / max(1, counted.sum()))
    return UnitProduct(unit, tile.year, "done", input_hash, model_hash, classes=classes, probability=probability,
                       parts=parts, unattributed_km2=float(area[0]), nodata_share=share, sensors=sensors,
                       scenes=scenes)
