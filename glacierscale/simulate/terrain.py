"""Procedural mountain terrain: a massif with radial glacial valleys and fractal relief.

The relief is built so that glaciers behave like real valley glaciers: a summit plateau above the
equilibrium line feeds U-shaped valleys whose floors are smoother (lower slope) than their walls, and the
tongues end in the valleys below the equilibrium line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


def fbm(shape: tuple[int, int], rng: np.random.Generator, beta: float = 3.0) -> np.ndarray:
    """Return fractal (1/f^beta power spectrum) noise scaled to zero mean and unit standard deviation."""
    ny, nx = shape
    fy = np.fft.fftfreq(ny)[:, None]
    fx = np.fft.rfftfreq(nx)[None, :]
    f = np.sqrt(fx**2 + fy**2)
    f[0, 0] = 1.0
    amp = f ** (-beta / 2.0)
    amp[0, 0] = 0.0
    phase = rng.uniform(0, 2 * np.pi, size=amp.shape)
    field = np.fft.irfft2(amp * np.exp(1j * phase), s=shape)
    field -= field.mean()
    std = field.std()
    return (field / std if std > 0 else field).astype(np.float32)


@dataclass(frozen=True)
class ValleyAxis:
    """The centre line of one valley, from the summit outwards, in pixel coordinates (row, col)."""

    rows: np.ndarray
    cols: np.ndarray
    length_px: float


@dataclass(frozen=True)
class Terrain:
    """Elevation (m) on a square grid plus the valley axes glaciers follow."""

    elevation: np.ndarray
    valleys: list[ValleyAxis]
    resolution: float

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.elevation.shape[0]), int(self.elevation.shape[1]))


def slope_aspect(elevation: np.ndarray, resolution: float) -> tuple[np.ndarray, np.ndarray]:
    """Return slope and aspect in radians (aspect clockwise from north, downslope direction)."""
    dz_dy, dz_dx = np.gradient(elevation.astype(np.float64), resolution)
    # rows grow southwards, so north-facing means elevation grows with row index
    slope = np.arctan(np.hypot(dz_dx, dz_dy))
    aspect = np.arctan2(-dz_dx, dz_dy) % (2 * np.pi)
    return slope.astype(np.float32), aspect.astype(np.float32)


def valley_axis(center: tuple[float, float], angle: float, length: float, rng: np.random.Generator) -> ValleyAxis:
    """Return a gently meandering axis starting at ``center`` heading at ``angle`` (radians, 0 = east)."""
    n = max(int(length), 2)
    s = np.arange(n, dtype=np.float64)
    wiggle = 0.25 * np.sin(s / (length / 2.2) + rng.uniform(0, 2 * np.pi)) * (s / length)
    theta = angle + wiggle
    cols = center[1] + np.cumsum(np.cos(theta))
    rows = center[0] - np.cumsum(np.sin(theta))
    return ValleyAxis(rows=rows, cols=cols, length_px=float(length))


def axis_distance(axis: ValleyAxis, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Return per-pixel distance to the axis (px) and the along-axis fraction (0 head .. 1 end) of the nearest point."""
    mask = np.ones(shape, dtype=bool)
    r = np.clip(np.round(axis.rows).astype(int), 0, shape[0] - 1)
    c = np.clip(np.round(axis.cols).astype(int), 0, shape[1] - 1)
    mask[r, c] = False
    frac = np.zeros(shape, dtype=np.float32)
    frac[r, c] = np.linspace(0.0, 1.0, len(r), dtype=np.float32)
    dist, (ir, ic) = ndimage.distance_transform_edt(mask, return_indices=True)
    return dist.astype(np.float32), frac[ir, ic]


def procedural_terrain(
    size_px: int,
    resolution: float,
    rng: np.random.Generator,
    *,
    summit_m: float = 3500.0,
    base_m: float = 1700.0,
    n_valleys: int = 4,
    fine_relief_m: float = 25.0,
) -> Terrain:
    """Return a massif of ``size_px``² pixels with ``n_valleys`` radial U-shaped valleys."""
    shape = (size_px, size_px)
    yy, xx = np.mgrid[0:size_px, 0:size_px].astype(np.float32)
    cy = size_px * rng.uniform(0.45, 0.55)
    cx = size_px * rng.uniform(0.45, 0.55)
    r = np.hypot(yy - cy, xx - cx) / size_px
    massif = base_m + (summit_m - base_m) * np.exp(-((r / 0.42) ** 2))
    start = rng.uniform(0, 2 * np.pi)
    angles = start + np.arange(n_valleys) * (2 * np.pi / n_valleys) + rng.uniform(-0.3, 0.3, n_valleys)
    valleys: list[ValleyAxis] = []
    carve = np.zeros(shape, dtype=np.float32)
    # a smooth ice-bearing floor: valleys carved with a U profile (exp(-d^4)), deepest mid-valley
    for ang in angles:
        axis = valley_axis((cy + 0.06 * size_px * -np.sin(ang), cx + 0.06 * size_px * np.cos(ang)),
                           float(ang), 0.40 * size_px, rng)
        valleys.append(axis)
        dist, frac = axis_distance(axis, shape)
        width = size_px * (0.035 + 0.03 * frac)
        depth = 380.0 * np.clip(np.sin(np.pi * np.clip(frac * 0.9 + 0.1, 0, 1)), 0, 1) ** 0.7
        carve = np.maximum(carve, depth * np.exp(-((dist / width) ** 4)))
    relief = 90.0 * fbm(shape, rng, beta=3.2) + fine_relief_m * fbm(shape, rng, beta=2.2)
    # valley floors are smoother than walls: damp the relief where the carve is deep
    floor = np.clip(carve / 250.0, 0, 1)
    elevation = massif - carve + relief * (1.0 - 0.8 * floor)
    return Terrain(elevation=elevation.astype(np.float32), valleys=valleys, resolution=resolution)
