"""Calving fronts of lake- and marine-terminating glaciers: the ice/water line, its position (box method), retreat.

- **Front line**: the pixel edges between a glacier's ice and the largest water body it touches (a lake or the
  sea; smaller ponds on or beside the ice are not the front), merged into lines. Exact to the pixel grid: no
  skeleton or longest path is needed when the boundary is taken between pixels rather than through them.
  A pixel on the ice/water boundary is mixed, and a classifier may call it neither (background): a pixel with
  ice on one side and the lake on the opposite side counts as the lake (``bridge``), so the front does not lose
  the stretches where the map leaves such a one-pixel rim.
- **Position (box method)**: a box over the zone where the terminus moves (pixels that were ice in some years
  and water in others, grown by ``margin_px``); the position is the ice area in the box divided by the box's
  width (the mean front length), so it is a distance along flow that does not depend on the front's shape.
- **Retreat** per year = position change (positive = retreat), with uncertainty √2 × ½ pixel: each position
  carries the ½-pixel uncertainty of its front line, as an area uncertainty of front length × ½ pixel divided by
  the same width.

The water mask is an input: the archive's fronts take the model's water class (archive/fronts.py); other
callers may derive it from imagery (Sentinel-2 SCL class 6, or NDWI).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from affine import Affine
from scipy import ndimage


@dataclass(frozen=True)
class Front:
    """One glacier's calving front in one year (CRS of the grid it was taken on)."""

    line: shapely.Geometry  # (Multi)LineString (empty if the ice touches no water)
    length_m: float


def front_line(ice: np.ndarray, water: np.ndarray, transform: Affine, close_px: int = 1, bridge: bool = True) -> Front:
    """Return the front between ``ice`` and the largest water body it touches (both bool, same grid).

    The water mask is closed by ``close_px`` and its holes filled first: a lake seen through speckle, floating
    ice or misread pixels is one body, not many. With ``bridge`` a pixel that is neither, between the ice and
    water (ice on one side, water on the opposite side: a mixed boundary pixel), joins the water; without it
    the front is only where ice meets water.
    """
    if close_px > 0:
        water = ndimage.binary_closing(water, iterations=close_px, border_value=0) | water
    water = ndimage.binary_fill_holes(water) & ~ice
    if bridge:
        water |= _between(ice, water)
    labels, n = ndimage.label(water)
    if n == 0:
        return Front(shapely.LineString(), 0.0)
    touching = np.unique(labels[ndimage.binary_dilation(ice) & (labels > 0)])
    if len(touching) == 0:
        return Front(shapely.LineString(), 0.0)
    sizes = ndimage.sum_labels(np.ones_like(labels), labels, touching)
    lake = labels == touching[int(np.argmax(sizes))]
    segments = []
    for axis in (0, 1):  # edges between vertical (axis 0) and horizontal (axis 1) neighbours
        a = [slice(None), slice(None)]
        b = [slice(None), slice(None)]
        a[axis], b[axis] = slice(0, -1), slice(1, None)
        pairs = (ice[tuple(a)] & lake[tuple(b)]) | (lake[tuple(a)] & ice[tuple(b)])
        rows, cols = np.nonzero(pairs)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            if axis == 0:  # the edge below pixel (r, c): from its lower-left to lower-right corner
                p, q = (c, r + 1), (c + 1, r + 1)
            else:  # the edge right of pixel (r, c)
                p, q = (c + 1, r), (c + 1, r + 1)
            segments.append(shapely.LineString([transform @ p, transform @ q]))
    if not segments:
        return Front(shapely.LineString(), 0.0)
    merged = shapely.line_merge(shapely.union_all(segments))
    return Front(merged, float(merged.length))


def _between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return the pixels in neither mask with ``a`` on one side and ``b`` on the opposite side (4-neighbours)."""
    pa, pb = np.pad(a, 1), np.pad(b, 1)
    out = np.zeros(a.shape, bool)
    for before, after in (((slice(0, -2), slice(1, -1)), (slice(2, None), slice(1, -1))),
                          ((slice(1, -1), slice(0, -2)), (slice(1, -1), slice(2, None)))):
        out |= (pa[before] & pb[after]) | (pb[before] & pa[after])
    return out & ~a & ~b


def box_positions(ice: np.ndarray, fronts: list[Front], resolution: float, margin_px: int = 2) -> np.ndarray:
    """Return the front position (m along flow, box method) of each year of ``ice`` (years, y, x) bool.

    The box covers the pixels whose state changes over the years, grown by ``margin_px``; its width is the mean
    length of the fronts. Positions are relative to the box's up-glacier edge: larger = farther advanced.
    """
    changing = ice.any(axis=0) & ~ice.all(axis=0)
    box = np.asarray(ndimage.binary_dilation(changing, iterations=margin_px) if changing.any() else changing, bool)
    width = float(np.mean([f.length_m for f in fronts if f.length_m > 0] or [np.nan]))
    area = (ice & box[None]).sum(axis=(1, 2)) * resolution**2
    return np.asarray(area / width, dtype=np.float64)


def retreat(positions: np.ndarray, resolution: float) -> tuple[np.ndarray, float]:
    """Return (retreat between consecutive years in m, positive = retreat; its 1σ uncertainty in m)."""
    return -np.diff(positions), float(np.sqrt(2.0) * resolution / 2.0)


def mean_distance(a: shapely.Geometry, b: shapely.Geometry, step: float) -> float:
    """Return the symmetric mean distance between two lines (CaFFe's MDE), sampling both every ``step``."""
    def points(line: shapely.Geometry) -> shapely.Geometry:
        out: list[shapely.Point] = []
        for part in getattr(line, "geoms", [line]):
            n = max(2, int(part.length / step) + 1)
            out.extend(part.interpolate(d) for d in np.linspace(0.0, part.length, n))
        return shapely.points([(p.x, p.y) for p in out])

    pa, pb = points(a), points(b)
    return float(np.mean(np.concatenate([shapely.distance(pa, b), shapely.distance(pb, a)])))
