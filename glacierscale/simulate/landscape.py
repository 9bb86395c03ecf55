"""Glacier attributes and the landscape around them: debris zones, retreat, lakes, sea, calving fronts, rocks.

Rules (numbers and sources in docs/simulator.md and ../shared/PHYSICS.md):

- ELA of a glacier = area-median elevation of its first outline (Braithwaite & Raper 2009).
- Debris covers the lowest ``debris_share`` of the ablation area (below the glacier's ELA) of glaciers at
  least ``debris_min_area_km2`` large whose ablation zone has a median slope ≤ ``debris_max_slope_deg``:
  debris-covered tongues are large and flat (PHYSICS.md §5). Thickness grows from ~2 cm at the upper
  debris limit to ~0.5 m at the terminus, as on debris-covered glaciers generally.
- Retreat: each year a glacier loses a share of its first-year area from its lowest part upwards.
- Lake-terminating glaciers calve into a proglacial lake that fills the low ground in front of the first
  terminus and the basin the tongue vacates; marine ones into the sea (DEM ≤ 0.5 m), with ice mélange
  within ~1.5 km of the front. The calving front is the part of the outline that touches water.
"""

from __future__ import annotations

import numpy as np
import shapely
from affine import Affine
from rasterio import features
from scipy import ndimage
from shapely.geometry.base import BaseGeometry

from glacierscale.simulate.physics import smooth_noise

DEBRIS_H_TOP_M, DEBRIS_H_TERMINUS_M = 0.02, 0.5
LAKE_REACH_M, LAKE_DEPTH_M = 300.0, 15.0
MELANGE_REACH_M = 1500.0


def id_raster(outlines: dict[str, BaseGeometry], ids: list[str], shape: tuple[int, int], transform: Affine) -> np.ndarray:
    """Return an int32 raster: 1 + index of the glacier in ``ids`` covering each pixel centre, 0 elsewhere."""
    shapes = [(outlines[g], i + 1) for i, g in enumerate(ids) if not outlines[g].is_empty]
    if not shapes:
        return np.zeros(shape, dtype=np.int32)
    return features.rasterize(shapes, out_shape=shape, transform=transform, fill=0, dtype="int32")


def polygonize(mask: np.ndarray, transform: Affine) -> BaseGeometry:
    """Return the union of the pixel squares of ``mask`` as a (multi)polygon in world coordinates."""
    if not mask.any():
        return shapely.Polygon()
    polys = [shapely.geometry.shape(g) for g, _ in features.shapes(np.ones(mask.shape, np.uint8), mask=mask,
                                                                     transform=transform)]
    return shapely.union_all(polys)


def cut_polygon(cut: np.ndarray, keep: np.ndarray, transform: Affine) -> BaseGeometry:
    """Return a polygon covering the ``cut`` pixels and their neighbours that are not ``keep`` pixels.

    Subtracting it from an outline removes the cut pixels including the slivers of the outline that reach
    into neighbouring pixels without covering their centres, so the vector and its rasterisation agree.
    """
    return polygonize(ndimage.binary_dilation(cut) & ~(keep & ~cut), transform)


def glacier_ela(z: np.ndarray) -> float:
    """Return the area-median elevation of a glacier's pixels (balanced-budget ELA proxy)."""
    return float(np.median(z)) if z.size else float("nan")


def debris_zone(mask: np.ndarray, z: np.ndarray, slope: np.ndarray, *, ela_m: float, share: float,
                min_area_km2: float, max_slope_deg: float, pixel_km2: float) -> np.ndarray | None:
    """Return the debris zone of one glacier (lowest ``share`` of its ablation area) or None if not eligible."""
    if mask.sum() * pixel_km2 < min_area_km2 or share <= 0:
        return None
    ablation = mask & (z < ela_m)
    if ablation.sum() < 10 or np.degrees(np.median(slope[ablation])) > max_slope_deg:
        return None
    top = np.quantile(z[ablation], min(share, 1.0))
    zone = ndimage.binary_opening(ablation & (z <= top), iterations=2)
    return zone if zone.any() else None


def debris_thickness(zone: np.ndarray, z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return debris thickness (m) over one debris zone: thin at its upper limit, thick at the terminus."""
    out = np.zeros(z.shape, dtype=np.float32)
    if not zone.any():
        return out
    lo, hi = np.quantile(z[zone], [0.01, 0.99])
    u = np.clip((hi - z[zone]) / max(hi - lo, 1.0), 0, 1)
    patchy = np.exp(0.3 * rng.standard_normal(u.shape))
    out[zone] = np.clip((DEBRIS_H_TOP_M + (DEBRIS_H_TERMINUS_M - DEBRIS_H_TOP_M) * u**1.2) * patchy, 0.01, 1.5)
    return out


def retreat_cut(mask0: np.ndarray, z: np.ndarray, fraction: float) -> np.ndarray:
    """Return the pixels a glacier has lost after losing ``fraction`` of its first area from its lowest part."""
    if fraction <= 0 or not mask0.any():
        return np.zeros(mask0.shape, dtype=bool)
    level = np.quantile(z[mask0], min(fraction, 0.95))
    return mask0 & (z < level)


def lake_zone(mask0: np.ndarray, z: np.ndarray, resolution: float) -> np.ndarray:
    """Return where a proglacial lake can fill: low ground before the terminus and the lowest tongue basin."""
    if not mask0.any():
        return np.zeros(mask0.shape, dtype=bool)
    zg = z[mask0]
    z_front = float(np.quantile(zg, 0.02))
    front = mask0 & (z <= z_front)
    reach = ndimage.distance_transform_edt(~front) * resolution <= LAKE_REACH_M
    before = reach & ~mask0 & (z < z_front + LAKE_DEPTH_M)
    basin = mask0 & (z < np.quantile(zg, 0.2))
    zone = ndimage.binary_opening(before | basin, iterations=1)
    labels, n = ndimage.label(zone)
    if n == 0:
        return zone
    touching = np.unique(labels[ndimage.binary_dilation(front, iterations=2) & zone])
    return np.isin(labels, touching[touching > 0])


def melange_cover(ocean: np.ndarray, fronts: np.ndarray, resolution: float, rng: np.random.Generator) -> np.ndarray:
    """Return 0..1 ice-mélange cover of the sea: dense at the calving front, thinning out within ~1.5 km."""
    if not fronts.any() or not ocean.any():
        return np.zeros(ocean.shape, dtype=np.float32)
    dist = ndimage.distance_transform_edt(~fronts) * resolution
    cover = np.clip(1.0 - dist / MELANGE_REACH_M, 0, 1) * np.clip(0.7 + 0.3 * smooth_noise(ocean.shape, rng, 3.0), 0, 1)
    return np.where(ocean, cover, 0).astype(np.float32)


def calving_front(outline: BaseGeometry, water: np.ndarray, transform: Affine) -> BaseGeometry:
    """Return the part of an outline's boundary that touches water (empty line if none)."""
    if outline.is_empty or not water.any():
        return shapely.LineString()
    near = polygonize(ndimage.binary_dilation(water, iterations=1), transform)
    front = outline.boundary.intersection(near)
    lines = [g for g in getattr(front, "geoms", [front]) if isinstance(g, shapely.LineString | shapely.MultiLineString)]
    return shapely.line_merge(shapely.union_all(lines)) if lines else shapely.LineString()


def broad_noise(shape: tuple[int, int], rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Return smooth unit noise of a large correlation length (pixels), made on a coarse grid and interpolated."""
    factor = max(int(sigma // 8), 1)
    coarse = (shape[0] // factor + 2, shape[1] // factor + 2)
    field = smooth_noise(coarse, rng, sigma / factor)
    fine = ndimage.zoom(field, factor, order=1)[: shape[0], : shape[1]]
    return (fine - fine.mean()) / max(float(fine.std()), 1e-6)


def lithology(shape: tuple[int, int], resolution: float, rng: np.random.Generator) -> np.ndarray:
    """Return (3, y, x) weights of three rock types (granite-gneiss, schist, carbonate).

    Geological units vary over kilometres; within them boulders of other rock, weathering rinds, lichen and
    moisture vary from pixel to pixel (PHYSICS.md §1 gives 0.06-0.25 in B02 for one class), which the
    small-scale term carries. Rock, moraine and debris draw from the same field.
    """
    units = 3000.0 / resolution
    logits = np.stack([
        np.full(shape, 0.4, np.float32) + 2.0 * smooth_noise(shape, rng, 1.0),
        0.8 * broad_noise(shape, rng, units) + 2.0 * smooth_noise(shape, rng, 1.0),
        0.8 * broad_noise(shape, rng, units) - 0.3 + 2.0 * smooth_noise(shape, rng, 1.0),
    ])
    w = np.exp(logits - logits.max(axis=0))
    return (w / w.sum(axis=0)).astype(np.float32)


def roughness(shape: tuple[int, int], resolution: float, rng: np.random.Generator) -> np.ndarray:
    """Return sub-DEM surface relief (m) at 10-60 m scales: boulders, hummocks, gullies, ice cliffs.

    A 30-90 m DEM resampled to 10 m is far smoother than the ground an optical or radar pixel sees; this
    adds ~3 m at pixel scale and ~6 m at ~30 m scale (≈ 15° of extra slope), the same on rock,
    moraine and debris-covered ice, so none of them can be told apart by its shading statistics.
    """
    fine = 3.0 * smooth_noise(shape, rng, 10.0 / resolution)
    coarse = 6.0 * smooth_noise(shape, rng, 30.0 / resolution)
    return (fine + coarse).astype(np.float32)


def rock_glaciers(z: np.ndarray, slope: np.ndarray, aspect: np.ndarray, ela_m: float, ice: np.ndarray,
                  resolution: float, rng: np.random.Generator) -> np.ndarray:
    """Return lobes of active rock glaciers: periglacial, 200-600 m below the ELA, on 10-25° slopes, off the ice.

    About one per 10 km², each a tongue ~150 m wide and ~350 m long pointing downslope.
    """
    out = np.zeros(z.shape, dtype=bool)
    far = ndimage.distance_transform_edt(~ice) * resolution > 200 if ice.any() else np.ones(z.shape, bool)
    deg = np.degrees(slope)
    cand = far & (z > ela_m - 600) & (z < ela_m - 200) & (deg > 10) & (deg < 25)
    area_km2 = z.size * resolution**2 / 1e6
    n = int(rng.poisson(area_km2 / 10.0)) if cand.any() else 0
    rows, cols = np.nonzero(cand)
    yy, xx = np.ogrid[: z.shape[0], : z.shape[1]]
    for k in rng.choice(rows.size, size=min(n, rows.size), replace=False) if n else []:
        r0, c0 = rows[k], cols[k]
        down = aspect[r0, c0]  # downslope azimuth (clockwise from north)
        dx, dy = np.sin(down), -np.cos(down)  # column and row direction of the flow
        u = ((xx - c0) * dx + (yy - r0) * dy) * resolution  # along flow
        v = (-(xx - c0) * dy + (yy - r0) * dx) * resolution  # across
        out |= ((u / 175.0) ** 2 + (v / 75.0) ** 2) <= 1.0
    return out & ~ice
