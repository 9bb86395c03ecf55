"""OBIA-style clean-up of a mapped class raster, step by step (each step configurable; docs/products.md).

Steps, in order, on the glacier mask (clean + debris-covered ice), never touching nodata (255):

1. **opening** by a disc of ``opening_m``: removes spurs and single-pixel bridges thinner than the disc (cloud
   edges, shadow fringes read as ice). Off by default: at 20 m it also trims real narrow ice.
2. **closing** by a disc of ``closing_m``: closes cracks and one-pixel gaps inside ice (crevasse shadows).
3. **hole filling** below ``fill_holes_km2``: rock islands smaller than this inside ice become ice of the class
   around them (misread crevasse fields, dark ice); larger islands are nunataks and stay.
4. **isolated debris**: debris-covered objects that touch no clean ice are removed (moraine read as debris;
   a real debris tongue is connected to the clean ice that feeds it).
5. **steep snow** (needs the DEM slope, off by default): clean ice on slopes of ``steep_snow_slope_deg`` or more
   in objects narrower than ``steep_snow_width_m`` (no pixel half that width inside the ice: streaks and gully
   fills) becomes background: avalanche snow on rock walls reads as snow-covered ice to every optical band,
   while snow does not stay on such slopes as wide fields; wide steep ice (hanging glaciers, ice aprons) stays.
6. **minimum mapping unit**: objects below ``min_object_km2`` (0.01 km², the RGI's smallest glacier) removed.

scikit-image's morphology and scipy's labelling do the work (well kept, exact, no custom kernels).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.morphology import closing, disk, opening, remove_small_holes, remove_small_objects

NODATA = 255
CLEAN, DEBRIS, WATER = 1, 2, 3


@dataclass(frozen=True)
class CleanupOptions:
    """The clean-up steps' sizes (0 turns a step off)."""

    min_object_km2: float = 0.01
    opening_m: float = 0.0
    closing_m: float = 0.0
    fill_holes_km2: float = 0.0
    remove_isolated_debris: bool = False
    steep_snow_slope_deg: float = 0.0
    steep_snow_width_m: float = 60.0

    def __post_init__(self) -> None:
        for name in ("min_object_km2", "opening_m", "closing_m", "fill_holes_km2", "steep_snow_slope_deg",
                     "steep_snow_width_m"):
            if getattr(self, name) < 0:
                raise ValueError(f"clean-up {name} must be ≥ 0, got {getattr(self, name)}")


def _disk(radius_m: float, resolution: float) -> np.ndarray | None:
    r = round(radius_m / resolution)
    return disk(r) if r >= 1 else None


def clean(classes: np.ndarray, resolution: float, options: CleanupOptions = CleanupOptions(),
          slope_deg: np.ndarray | None = None) -> np.ndarray:
    """Return a cleaned copy of ``classes`` (0 background, 1 clean ice, 2 debris, 3 water, 255 nodata).

    The steps act on ice; water keeps its class where it does not become ice, everything else is background.
    ``slope_deg``: the DEM slope on the same grid (NaN or 255 where unknown), for the steep-snow step; without
    it that step is skipped.
    """
    cls = classes.copy()  # classes of pixels that become ice are written here
    nodata = classes == NODATA
    ice = (classes == CLEAN) | (classes == DEBRIS)
    px_km2 = resolution**2 / 1e6
    kernel = _disk(options.opening_m, resolution)
    if kernel is not None:
        ice &= opening(ice, kernel).astype(bool)
    kernel = _disk(options.closing_m, resolution)
    if kernel is not None:
        closed = closing(ice, kernel).astype(bool) & ~nodata
        _assign_new_ice(cls, closed & ~ice)
        ice = closed
    holes = int(options.fill_holes_km2 / px_km2)
    if holes >= 1:
        filled = remove_small_holes(ice | nodata, max_size=holes) & ~nodata
        _assign_new_ice(cls, filled & ~ice)
        ice = filled
    if options.remove_isolated_debris:
        labels, n = ndimage.label(ice)
        if n:
            has_clean = np.zeros(n + 1, bool)
            has_clean[np.unique(labels[(cls == CLEAN) & ice])] = True
            ice &= has_clean[labels]
    if options.steep_snow_slope_deg > 0 and slope_deg is not None:
        ice &= ~_steep_snow(ice, ice & (cls == CLEAN), slope_deg, options, resolution)
    mmu = round(options.min_object_km2 / px_km2)
    if mmu > 1:
        ice = remove_small_objects(ice, max_size=mmu - 1)
    out = np.where(nodata, NODATA, 0).astype(classes.dtype)
    keep = ice & ~nodata
    out[keep] = np.where(cls[keep] == DEBRIS, DEBRIS, CLEAN)
    out[(classes == WATER) & ~keep & ~nodata] = WATER  # water stays water (the calving-front export traces it)
    return out


def _steep_snow(ice: np.ndarray, clean_ice: np.ndarray, slope_deg: np.ndarray, options: CleanupOptions,
                resolution: float) -> np.ndarray:
    """Return the steep clean-ice objects (8-connected, on known slopes ≥ the threshold) that are thin: no pixel
    of theirs lies half the width or more inside the ice. A steep part of a wide glacier is deep inside it."""
    slope = np.asarray(slope_deg, dtype=np.float32)
    steep = clean_ice & np.isfinite(slope) & (slope >= options.steep_snow_slope_deg) & (slope < 255)
    objects, n = ndimage.label(steep, structure=np.ones((3, 3), bool))
    if not n:
        return steep
    depth = ndimage.distance_transform_edt(ice) * resolution  # metres to the nearest pixel that is not ice
    deepest = np.asarray(ndimage.maximum(depth, objects, np.arange(1, n + 1)))
    thin = np.concatenate([[False], deepest < options.steep_snow_width_m / 2])
    return thin[objects]


def _assign_new_ice(out: np.ndarray, new: np.ndarray) -> None:
    """Give pixels that became ice the class of the nearest ice (debris next to debris, clean next to clean)."""
    if not new.any():
        return
    ice = (out == CLEAN) | (out == DEBRIS)
    if not ice.any():
        out[new] = CLEAN
        return
    _, (iy, ix) = ndimage.distance_transform_edt(~ice, return_indices=True)
    out[new] = out[iy, ix][new]
