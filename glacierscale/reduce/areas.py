"""Reduce: clean up class rasters, attribute glacier pixels to inventory glaciers, sum areas per year.

Pixels are attributed to the inventory outline they fall in, or to the nearest outline within
``max_distance_m`` (a glacier that advanced or an outline that is slightly off); glacier pixels farther
from every outline (snow fields, misclassifications) stay unattributed and are reported as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import geopandas as gpd
import numpy as np
from affine import Affine
from pyproj import CRS, Proj, Transformer
from rasterio import features
from scipy import ndimage
from skimage.morphology import remove_small_objects

from glacierscale.classes import NODATA_CLASS
from glacierscale.inventory.units import WorkUnit


@dataclass(frozen=True)
class UnitAreas:
    """Per-glacier pixel areas of one unit and year (km²)."""

    unit_id: str
    year: int
    area_km2: dict[str, float]
    debris_km2: dict[str, float]
    unattributed_km2: float
    nodata_km2: float


def unit_transform(unit: WorkUnit) -> Affine:
    minx, _, _, maxy = unit.bounds
    return Affine(unit.resolution, 0, minx, 0, -unit.resolution, maxy)


def zone_mask(unit: WorkUnit) -> np.ndarray | None:
    """Return the core-tile pixels that lie inside the zone of the unit's CRS, or None when all of them do.

    Tiles of neighbouring zones (UTM zones, UTM vs polar stereographic) overlap on the ground; the planner
    hands each glacier part to the zone it lies in, so counting only in-zone pixels never counts ice twice.
    """
    w, s, e, n = unit.zone_wgs84()
    if (w, s, e, n) == (-180.0, -90.0, 180.0, 90.0):
        return None
    bw, bs, be, bn = unit.bbox_wgs84()
    if bw <= be and w <= bw and be <= e and s <= bs and bn <= n:
        return None
    x, y = _pixel_centres(unit)
    tf = Transformer.from_crs(f"EPSG:{unit.epsg}", "EPSG:4326", always_xy=True)
    lon, lat = tf.transform(*np.meshgrid(x, y))
    inside = (lat >= s) & ((lat < n) | (n == 90.0))
    if e - w < 360.0:
        inside &= (lon >= w) & ((lon < e) | (e == 180.0))
    return np.asarray(inside)


SCALE_GRID = 17  # the areal scale is computed at 17 × 17 points of a tile and interpolated (it varies smoothly)


def pixel_areas_km2(unit: WorkUnit) -> np.ndarray:
    """Return the true (ellipsoidal) area in km² of every core-tile pixel: resolution² / the CRS's areal scale.

    A projected pixel is not the same area everywhere on the ground: UTM's areal scale is 0.9992 on the central
    meridian and up to 1.002 at zone edges; EPSG:3031's (true scale at 71° S) is 1.087 at 60° S, 1.066 at
    62° S and 0.946 at the pole, EPSG:3413's (70° N) 0.988 at 72° N and 0.952 at 81° N. Counting pixels ×
    resolution² would make Antarctic peripheral glaciers up to 9 % too large and North Greenland's 5 % too small.
    Cached per tile (every year of a tile shares it).
    """
    return _pixel_areas(unit.epsg, unit.col, unit.row, unit.resolution, unit.size_px)


def tile_pixel_areas_km2(epsg: int, col: int, row: int, resolution: float, size_px: int) -> np.ndarray:
    """:func:`pixel_areas_km2` for a tile named by its grid position (as archive unit ids give it)."""
    return _pixel_areas(epsg, col, row, resolution, size_px)


@lru_cache(maxsize=8)
def _pixel_areas(epsg: int, col: int, row: int, resolution: float, size_px: int) -> np.ndarray:
    span = size_px * resolution
    minx, maxy = col * span, (row + 1) * span
    # coarse grid from the first to the last pixel centre, interpolated bilinearly to every pixel
    first, last = resolution / 2, span - resolution / 2
    gx = minx + np.linspace(first, last, SCALE_GRID)
    gy = maxy - np.linspace(first, last, SCALE_GRID)
    to_lonlat, proj = _projection(epsg)
    lon, lat = to_lonlat.transform(*np.meshgrid(gx, gy))
    scale = np.asarray(proj.get_factors(lon, lat).areal_scale, dtype=np.float64)
    weights = _bilinear_weights(size_px)
    out = (resolution**2 / 1e6) / (weights @ scale @ weights.T)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=16)
def _projection(epsg: int) -> tuple[Transformer, Proj]:
    return Transformer.from_crs(f"EPSG:{epsg}", "EPSG:4326", always_xy=True), Proj(CRS.from_epsg(epsg))


@lru_cache(maxsize=4)
def _bilinear_weights(size_px: int) -> np.ndarray:
    """Return the (size_px, SCALE_GRID) matrix that interpolates the coarse grid linearly onto pixel centres."""
    pos = np.linspace(0, SCALE_GRID - 1, size_px)
    lo = np.minimum(np.floor(pos).astype(int), SCALE_GRID - 2)
    frac = pos - lo
    w = np.zeros((size_px, SCALE_GRID))
    w[np.arange(size_px), lo] = 1 - frac
    w[np.arange(size_px), lo + 1] = frac
    return w


def _pixel_centres(unit: WorkUnit) -> tuple[np.ndarray, np.ndarray]:
    minx, _, _, maxy = unit.bounds
    r = unit.resolution
    return minx + r / 2 + r * np.arange(unit.size_px), maxy - r / 2 - r * np.arange(unit.size_px)


def attribution_map(unit: WorkUnit, inventory: gpd.GeoDataFrame, max_distance_m: float, *,
                    padded: bool = False) -> tuple[np.ndarray, list[str]]:
    """Return (index raster, ids) on the core tile: index i+1 = glacier ids[i], 0 = no glacier within reach.

    Only the glaciers the plan lists for the unit are rasterised (at world scale the inventory is large).
    Rows with the same id are dissolved into one glacier (``ids`` has each id once). ``padded``: on the padded
    tile (the inference read, ``unit.read_transform()``) instead of the core tile.
    """
    listed = inventory["glacier_id"].astype(str).isin(unit.glacier_ids).to_numpy()
    proj = inventory[listed].to_crs(unit.epsg)
    # rows sharing an id (a glacier split over several rows) are one glacier: one label, their outlines dissolved
    ids = sorted({str(g) for g in proj["glacier_id"]})
    index = {g: i + 1 for i, g in enumerate(ids)}
    shape = (unit.read_size_px,) * 2 if padded else (unit.size_px, unit.size_px)
    transform = unit.read_transform() if padded else unit_transform(unit)
    shapes = [(geom, index[str(g)]) for g, geom in zip(proj["glacier_id"], proj.geometry, strict=True)
              if geom is not None and not geom.is_empty]
    if not shapes:
        return np.zeros(shape, np.int32), ids
    labels = features.rasterize(shapes, out_shape=shape, transform=transform, fill=0, dtype="int32")
    return _within_reach(labels, unit.resolution, max_distance_m), ids


def _within_reach(labels: np.ndarray, resolution: float, max_distance_m: float) -> np.ndarray:
    """Return ``labels`` grown to every pixel within ``max_distance_m`` of a labelled one (the nearest label)."""
    if max_distance_m <= 0 or not labels.any():
        return labels
    dist, (ir, ic) = ndimage.distance_transform_edt(labels == 0, return_indices=True)
    return np.where(dist * resolution <= max_distance_m, labels[ir, ic], 0)


@dataclass(frozen=True)
class Attribution:
    """The attribution rasters of one unit, all from one rasterisation of its glaciers on the padded tile.

    ``reach``: index i+1 = ``ids[i]`` for pixels within the buffer of that glacier's outline (the nearest one);
    ``outlines``: the same for pixels inside the outline; ``padded_reach``: ``reach`` over the padded tile.
    ``reach`` and ``outlines`` cover the core tile. The buffer is measured on the padded tile, so a core pixel
    near the tile edge goes to an outline just beyond the edge, as the neighbouring tile sees it.
    """

    reach: np.ndarray
    outlines: np.ndarray
    padded_reach: np.ndarray
    ids: list[str]


def attribution_maps(unit: WorkUnit, inventory: gpd.GeoDataFrame, max_distance_m: float) -> Attribution:
    """Return the unit's :class:`Attribution`: one rasterisation and one distance transform (not one per map)."""
    padded, ids = attribution_map(unit, inventory, 0.0, padded=True)
    reach = _within_reach(padded, unit.resolution, max_distance_m)
    core = unit.core()
    return Attribution(reach[core], padded[core], reach, ids)


def clean_classes(classes: np.ndarray, min_area_px: int) -> np.ndarray:
    """Return classes with glacier objects smaller than ``min_area_px`` set to background (OBIA-style)."""
    glacier = (classes == 1) | (classes == 2)
    kept = remove_small_objects(glacier, max_size=min_area_px - 1) if min_area_px > 1 else glacier
    out = classes.copy()
    out[glacier & ~kept] = 0
    return out


def unit_areas(unit: WorkUnit, year: int, classes: np.ndarray, labels: np.ndarray, ids: list[str],
               inside: np.ndarray | None = None) -> UnitAreas:
    """Return per-glacier clean+debris and debris areas of one core-tile unit-year from attributed pixels,
    counting only the pixels ``inside`` the unit's zone (all when None; see :func:`zone_mask`)."""
    px_km2 = pixel_areas_km2(unit)
    n = len(ids) + 1
    if inside is not None:
        classes = np.where(inside, classes, 0)
    glacier = (classes == 1) | (classes == 2)

    def km2(mask: np.ndarray) -> np.ndarray:
        return np.bincount(labels[mask].ravel(), weights=px_km2[mask].ravel(), minlength=n)

    total, debris = km2(glacier), km2(classes == 2)
    return UnitAreas(
        unit.unit_id, year,
        {gid: float(total[i + 1]) for i, gid in enumerate(ids) if gid in unit.glacier_ids},
        {gid: float(debris[i + 1]) for i, gid in enumerate(ids) if gid in unit.glacier_ids},
        float(total[0]), float(px_km2[classes == NODATA_CLASS].sum()),
    )
