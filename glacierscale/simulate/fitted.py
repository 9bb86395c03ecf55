"""Terrain that fits real outlines when no DEM is given, and glaciers grown on a real DEM without outlines.

Fitted terrain: each glacier surface falls linearly along its long axis from its head (the wider end:
accumulation basins are wider than tongues) to its terminus, between the inventory's Zmax and Zmin when
it has them (RGI ``Zmin``/``Zmax``, GLIMS ``min_elev``/``max_elev``), else between ELA + 250 m + 200 m·√A and
ELA − 200 m − 250 m·√A (A in km²). Valley walls rise ~700 m within a kilometre of the ice, plus fractal
relief, so glaciers lie in troughs and illumination, shadows and layover behave as in mountains.

Grown glaciers: ice covers the smoothed DEM above the ELA less a reach that grows with valley concavity
(150 m on ridges, up to 750 m in deep valleys), on slopes below 40°, in connected bodies ≥ 0.1 km².
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from glacierscale.simulate.terrain import fbm


def _axis_position(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Return 0 (head, wider end) .. 1 (terminus) along the principal axis of a pixel set."""
    pts = np.stack([rows, cols], axis=1).astype(np.float64)
    pts -= pts.mean(axis=0)
    if len(pts) < 3:
        return np.zeros(len(pts))
    _, vecs = np.linalg.eigh(pts.T @ pts)
    s = pts @ vecs[:, -1]
    s = (s - s.min()) / max(float(np.ptp(s)), 1e-9)
    # the accumulation basin is the wider half: more pixels there
    return s if (s < 0.5).sum() >= (s >= 0.5).sum() else 1.0 - s


def fit_terrain(ids: np.ndarray, zranges: list[tuple[float, float]], ela_m: float, resolution: float,
                rng: np.random.Generator) -> np.ndarray:
    """Return elevation (m, float32) in which the glaciers of the id raster (1..n) lie in valleys."""
    shape = ids.shape
    surface = np.zeros(shape, dtype=np.float64)
    for i, (zmin, zmax) in enumerate(zranges, start=1):
        rows, cols = np.nonzero(ids == i)
        if rows.size == 0:
            continue
        size = np.sqrt(rows.size * resolution**2 / 1e6)
        hi = zmax if np.isfinite(zmax) else ela_m + 250 + 200 * size
        lo = zmin if np.isfinite(zmin) else ela_m - 200 - 250 * size
        surface[rows, cols] = hi - (hi - lo) * _axis_position(rows, cols)
    ice = ids > 0
    relief = (40.0 * fbm(shape, rng, beta=3.2) + 12.0 * fbm(shape, rng, beta=2.2)).astype(np.float64)
    if not ice.any():
        return (ela_m - 300 + 400 * fbm(shape, rng, beta=3.4) + relief).astype(np.float32)
    dist, (ir, ic) = ndimage.distance_transform_edt(~ice, return_indices=True)
    base = surface[ir, ic]
    walls = 700.0 * (1.0 - np.exp(-dist * resolution / 900.0))
    elevation = base + walls + relief * np.where(ice, 0.25, 1.0)
    return ndimage.gaussian_filter(elevation, 1.5).astype(np.float32)


def grow_glaciers(z: np.ndarray, slope: np.ndarray, valid: np.ndarray, ela_m: float, resolution: float) -> np.ndarray:
    """Return a label raster (0 ice-free, 1..n glaciers) of glaciers grown on a DEM for an ELA."""
    zs = ndimage.gaussian_filter(z.astype(np.float64), 100.0 / resolution)
    concavity = ndimage.gaussian_filter(zs, 500.0 / resolution) - zs  # > 0 in valleys
    reach = 150.0 + 4.0 * np.clip(concavity, 0, 150)
    ice = valid & (zs > ela_m - reach) & (np.degrees(slope) < 40)
    ice = ndimage.binary_fill_holes(ndimage.binary_closing(ndimage.binary_opening(ice, iterations=2), iterations=2))
    labels, n = ndimage.label(ice & valid)
    if n == 0:
        return labels.astype(np.int32)
    sizes = ndimage.sum_labels(np.ones(z.shape), labels, index=np.arange(1, n + 1)) * resolution**2 / 1e6
    keep = np.flatnonzero(sizes >= 0.1) + 1
    out = np.zeros(z.shape, dtype=np.int32)
    for new, old in enumerate(keep, start=1):
        out[labels == old] = new
    return out
