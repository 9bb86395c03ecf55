"""Terrain that fits real outlines when no DEM is given, and glaciers grown on a real DEM without outlines.

Fitted terrain: each glacier surface falls linearly along its long axis from its head (the wider end:
accumulation basins are wider than tongues) to its terminus, between the inventory's Zmax and Zmin when
it has them (RGI ``Zmin``/``Zmax``, GLIMS ``min_elev``/``max_elev``), else between ELA + 250 m + 200 m·√A and
ELA − 200 m − 250 m·√A (A in km²). With ``headwalls`` the head of the ice climbs its headwall: within 250 m
of the outline (less on small glaciers) the surface rises up to 150 m more, ≥ 35° at the rim as the avalanche-fed
headwalls of real accumulation basins (> 30°–40°, PHYSICS.md "Slopes"), so steep snow slopes belong to the
glacier as on real ones, not only the gentle ice between walls. Ice caps (RGI ``Form`` 1) have no headwall.
Valley walls rise ~700 m within a kilometre of the ice, plus fractal relief, so glaciers lie in troughs and
illumination, shadows and layover behave as in mountains.

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


HEADWALL_RISE_M = 150.0  # how far the ice climbs against its headwall, on glaciers of ≥ 1.44 km²
HEADWALL_WIDTH_M = 250.0  # over this distance inside the outline


def _headwall(ids: np.ndarray, i: int, position: np.ndarray, rows: np.ndarray, cols: np.ndarray, resolution: float,
              size_km: float) -> np.ndarray:
    """Return the rise (m) of each pixel of glacier ``i`` against the headwall: steep near the outline at the head."""
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    inside = np.pad(ids[r0:r1, c0:c1] == i, 1)
    depth = ndimage.distance_transform_edt(inside)[1:-1, 1:-1][rows - r0, cols - c0] * resolution
    width = min(HEADWALL_WIDTH_M, 250.0 * size_km)
    head = np.clip((0.35 - position) / 0.2, 0.0, 1.0)  # the upper 15 % fully, fading out by 35 % of the length
    return head * HEADWALL_RISE_M * (width / HEADWALL_WIDTH_M) * np.clip(1.0 - depth / width, 0.0, 1.0) ** 2


def fit_terrain(ids: np.ndarray, zranges: list[tuple[float, float]], ela_m: float, resolution: float,
                rng: np.random.Generator, headwalls: list[bool] | None = None) -> np.ndarray:
    """Return elevation (m, float32) in which the glaciers of the id raster (1..n) lie in valleys.

    ``headwalls`` says per glacier whether its head climbs a headwall (default none; the simulator asks for it
    with ``RegionSpec.headwalls``, a training region with ``headwalls: true``, and never on ice caps).
    """
    shape = ids.shape
    surface = np.zeros(shape, dtype=np.float64)
    for i, (zmin, zmax) in enumerate(zranges, start=1):
        rows, cols = np.nonzero(ids == i)
        if rows.size == 0:
            continue
        size = np.sqrt(rows.size * resolution**2 / 1e6)
        hi = zmax if np.isfinite(zmax) else ela_m + 250 + 200 * size
        lo = zmin if np.isfinite(zmin) else ela_m - 200 - 250 * size
        position = _axis_position(rows, cols)
        surface[rows, cols] = hi - (hi - lo) * position
        if headwalls is not None and headwalls[i - 1]:
            surface[rows, cols] += _headwall(ids, i, position, rows, cols, resolution, size)
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
