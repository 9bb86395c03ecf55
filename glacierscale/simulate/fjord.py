"""A tidewater glacier in a procedural region (``RegionSpec.marine``): the lowest tongue calves into a fjord.

The procedural massif is lowered until the terminus of its lowest glacier stands ``CLIFF_M`` above the sea;
the valley beyond that terminus, as wide as the tongue, is drowned (a fjord) and every other pixel of bare
ground below sea level becomes sea (0 m, as the sea is in Copernicus DEM tiles). The region's ELA moves down
with the terrain, so the glaciers keep their accumulation areas: coastal ranges with tidewater glaciers have
ELAs of a few hundred metres to ~1,200 m (south-east Alaska, Svalbard, Patagonia). What happens at the front
(mélange, the basin the tongue vacates, the calving front) is ``simulate.attributes.finish``'s, as for a real
marine-terminating outline.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rasterio import features
from shapely.geometry import LineString

from glacierscale.simulate.glaciers import GlacierModel, glacier_outline_px
from glacierscale.simulate.terrain import Terrain, axis_distance

# height of the calving front above the waterline: tidewater ice cliffs are typically 20-80 m high (Columbia,
# Hubbard, Kronebreen) [derived]; 40 m keeps the tongue's lowest pixels clearly above sea level
CLIFF_M = 40.0


def _front_elevation(terrain: Terrain, model: GlacierModel) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Return the median ice-surface elevation at the first terminus, the first outline mask, and the valley's
    distance to axis (px) and along-axis fraction."""
    axis = terrain.valleys[model.valley]
    shape = terrain.shape
    mask = features.rasterize([(glacier_outline_px(model, axis, 0.0), 1)], out_shape=shape, fill=0,
                              dtype="uint8").astype(bool)
    dist, frac = axis_distance(axis, shape)
    t = frac / max(model.terminus_frac, 1e-6)
    front = mask & (t > 0.95)
    z = terrain.elevation
    return (float(np.median(z[front])) if front.any() else float(z[mask].min()) if mask.any() else np.inf,
            mask, dist, frac)


def sink_to_sea(terrain: Terrain, models: Sequence[GlacierModel]) -> tuple[Terrain, int, float]:
    """Return the lowered terrain, the index of the glacier that now ends in the sea, and how far (m) the
    terrain was lowered (the region's ELA moves down as much)."""
    fronts = [_front_elevation(terrain, m) for m in models]
    k = int(np.argmin([f[0] for f in fronts]))
    z_front, _, dist, frac = fronts[k]
    model = models[k]
    lowered = z_front - CLIFF_M
    z = terrain.elevation - np.float32(lowered)
    ice = np.zeros(terrain.shape, dtype=bool)
    for f in fronts:
        ice |= f[1]
    # the fjord: the valley floor beyond the first terminus, as wide as the tongue's end, and on in the valley's
    # direction to the edge of the region, so the sea the glacier calves into is open
    half_width = model.half_width_px * (1.0 - 0.5 * model.terminus_frac)
    axis = terrain.valleys[model.valley]
    n = len(axis.rows)
    i = int(np.clip(round(model.terminus_frac * (n - 1)), 1, n - 1))
    j = max(0, i - max(2, n // 20))
    d = np.array([axis.cols[i] - axis.cols[j], axis.rows[i] - axis.rows[j]])
    d /= max(float(np.hypot(*d)), 1e-9)
    start = np.array([axis.cols[i], axis.rows[i]])
    channel = LineString([start, start + d * 2 * max(terrain.shape)]).buffer(half_width)
    corridor = features.rasterize([(channel, 1)], out_shape=terrain.shape, fill=0, dtype="uint8").astype(bool)
    fjord = (((frac > model.terminus_frac - 0.02) & (dist < half_width)) | corridor) & ~ice
    z = np.where(fjord | (~ice & (z < 0)), np.float32(0.0), z)
    return Terrain(z.astype(np.float32), terrain.valleys, terrain.resolution), k, float(lowered)
