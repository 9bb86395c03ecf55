"""Clouds and their shadows for the optical and thermal sensors (full physics).

Cloud optical thickness is a smooth random field thresholded to the scene's cloud cover; its shadow is the
same field displaced away from the sun by the cloud height (2 km) over the tangent of the sun elevation.
The field is drawn on a grid padded by that displacement, so clouds outside the scene cast shadows into it
and the shadows have no edge where the displaced field would run out.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from glacierscale.simulate.cloudclimate import CLIMATES, CloudClimate, scene_cover
from glacierscale.simulate.physics import smooth_noise

CLOUD_HEIGHT_M = 2000.0
CLOUD_SIGMA_PX = 18.0


def scene_cloud_cover(rng: np.random.Generator, climate: CloudClimate = CLIMATES["mountain"]) -> float:
    """Return a scene's cloud fraction drawn from the region's cloud climate (default "mountain": 40-70 %
    typical over mountains in the ablation season, 0-85 % possible; :mod:`glacierscale.simulate.cloudclimate`)."""
    return scene_cover(rng, climate)


def clouds(shape: tuple[int, int], resolution: float, cover: float, sun_elev_deg: float, sun_az_deg: float,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Return (cloud opacity 0..1, cloud-shadow strength 0..1) on the scene grid."""
    height_px = CLOUD_HEIGHT_M / np.tan(np.deg2rad(max(sun_elev_deg, 5.0))) / resolution
    az = np.deg2rad(sun_az_deg)
    shift = (np.cos(az) * height_px, -np.sin(az) * height_px)  # rows, columns: away from the sun
    pad = int(min(np.ceil(max(abs(shift[0]), abs(shift[1]))) + 2, 2 * max(shape)))
    field = smooth_noise((shape[0] + 2 * pad, shape[1] + 2 * pad), rng, CLOUD_SIGMA_PX)
    thr = np.quantile(field, 1 - cover) if cover > 0.005 else np.inf
    cloud = np.clip((field - thr) / 0.6, 0, 1).astype(np.float32) ** 0.7
    shadow = ndimage.shift(cloud, shift, order=0, cval=0.0)
    inner = (slice(pad, pad + shape[0]), slice(pad, pad + shape[1]))
    return cloud[inner], np.clip(shadow[inner] - cloud[inner], 0, 1)
