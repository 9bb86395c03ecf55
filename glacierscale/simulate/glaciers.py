"""Procedural valley glaciers that retreat year by year, with debris-covered lower tongues.

Each glacier fills one valley of the terrain from its head (cirque below the summit) down to a terminus
that moves up-valley every year. A debris-covered glacier carries debris on its lower tongue from a fixed
position along the valley downwards, so retreat eats into the debris zone as it does in nature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from affine import Affine
from shapely import affinity
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry

from glacierscale.simulate.terrain import Terrain, ValleyAxis


@dataclass(frozen=True)
class GlacierModel:
    """One simulated glacier: where it lies and how it changes."""

    glacier_id: str
    valley: int
    terminus_frac: float  # along-axis position of the terminus in the first year
    retreat_px_per_year: float
    half_width_px: float
    debris_from_frac: float | None  # debris covers the tongue beyond this fraction; None = clean
    terminus_type: str = "land"

    @property
    def debris_covered(self) -> bool:
        return self.debris_from_frac is not None


def _band(axis: ValleyAxis, t0: float, t1: float, half_width: float, scale: float = 1.0) -> BaseGeometry:
    """Return the polygon (pixel coords x=col, y=row) of the glacier body between fractions t0 and t1."""
    n = len(axis.rows)
    t = np.linspace(t0, t1, max(int((t1 - t0) * n / 2), 8))
    idx = np.clip(t * (n - 1), 0, n - 1)
    rows = np.interp(idx, np.arange(n), axis.rows)
    cols = np.interp(idx, np.arange(n), axis.cols)
    dr = np.gradient(rows)
    dc = np.gradient(cols)
    norm = np.hypot(dr, dc) + 1e-9
    nr, nc = -dc / norm, dr / norm
    # rounded head (sqrt rise) and a tongue that narrows towards the terminus
    w = half_width * scale * np.sqrt(np.clip(t / 0.08, 0, 1)) * (1.0 - 0.5 * t)
    left = list(zip(cols + nc * w, rows + nr * w, strict=True))
    right = list(zip(cols - nc * w, rows - nr * w, strict=True))
    poly = Polygon(left + right[::-1]).buffer(0)
    cap = Point(cols[-1], rows[-1]).buffer(max(w[-1], 1.0))
    return poly.union(cap)


def glacier_outline_px(model: GlacierModel, axis: ValleyAxis, years_since_start: float) -> BaseGeometry:
    """Return the outline in pixel coordinates after ``years_since_start`` years of retreat."""
    t_end = model.terminus_frac - model.retreat_px_per_year * years_since_start / axis.length_px
    t_end = max(t_end, 0.2)
    return _band(axis, 0.0, t_end, model.half_width_px)


def debris_zone_px(model: GlacierModel, axis: ValleyAxis) -> BaseGeometry | None:
    """Return the debris-covered part of the valley (pixel coords), or None for a clean glacier."""
    if model.debris_from_frac is None:
        return None
    return _band(axis, model.debris_from_frac, 1.0, model.half_width_px, scale=1.4)


def to_world(geom: BaseGeometry, transform: Affine) -> BaseGeometry:
    """Map a geometry from pixel (col, row) to world coordinates of ``transform``."""
    a, b, c, d, e, f = transform.a, transform.b, transform.c, transform.d, transform.e, transform.f
    return affinity.affine_transform(geom, [a, b, d, e, c, f])


def design_glaciers(terrain: Terrain, rng: np.random.Generator, prefix: str, n_debris: int = 1) -> list[GlacierModel]:
    """Return one glacier per valley; the ``n_debris`` longest get debris-covered tongues."""
    res = terrain.resolution
    models = []
    fracs = rng.uniform(0.62, 0.82, len(terrain.valleys))
    order = np.argsort(-fracs)
    debris_set = set(order[:n_debris].tolist())
    for k, _axis in enumerate(terrain.valleys):
        debris = float(rng.uniform(0.45, 0.55)) if k in debris_set else None
        models.append(
            GlacierModel(
                glacier_id=f"{prefix}-{k + 1:02d}",
                valley=k,
                terminus_frac=float(fracs[k]),
                # 25-60 m/yr: typical Alpine valley-glacier retreat rates of the 2010s-2020s
                retreat_px_per_year=float(rng.uniform(25.0, 60.0) / res),
                half_width_px=float(rng.uniform(380.0, 520.0) / res),
                debris_from_frac=debris,
            )
        )
    return models


def ice_surface(elevation: np.ndarray, models: list[GlacierModel], axes: list[ValleyAxis]) -> np.ndarray:
    """Return elevation with each glacier's first extent replaced by a smooth, concave ice surface.

    The surface falls from the head to the terminus as ``0.8 (1 − t)^1.6 + 0.2 (1 − t)`` (t = 0 head .. 1
    terminus), so the
    accumulation basin is steep and the tongue flat (< ~15°), as on real valley glaciers; it blends into
    the valley walls over ~5 pixels.
    """
    from rasterio import features
    from scipy import ndimage

    from glacierscale.simulate.terrain import axis_distance

    out = elevation.astype(np.float64).copy()
    for model, axis in zip(models, axes, strict=True):
        shape = elevation.shape
        mask = features.rasterize([(glacier_outline_px(model, axis, 0.0), 1)], out_shape=shape, fill=0,
                                  dtype="uint8").astype(bool)
        if not mask.any():
            continue
        _, frac = axis_distance(axis, shape)
        t = np.clip(frac / max(model.terminus_frac, 1e-6), 0, 1)
        z = ndimage.gaussian_filter(out, 4.0)
        z_head = float(np.median(z[mask & (t < 0.08)])) if (mask & (t < 0.08)).any() else float(z[mask].max())
        z_term = float(np.median(z[mask & (t > 0.92)])) if (mask & (t > 0.92)).any() else float(z[mask].min())
        surface = z_term + (z_head - z_term) * (0.8 * (1.0 - t) ** 1.6 + 0.2 * (1.0 - t))
        surface = ndimage.gaussian_filter(surface, 4.0)  # the nearest-axis fraction is terraced
        weight = np.clip(ndimage.distance_transform_edt(mask) / 5.0, 0, 1)
        out = np.where(mask, weight * surface + (1 - weight) * out, out)
    return out.astype(np.float32)
