"""Rank optical scenes for one work unit from their scene classification over the unit itself.

The item's scene-level ``eo:cloud_cover`` describes a 110 km tile; what matters is the work unit. Each
candidate's mask layer (Sentinel-2 SCL) is read once, coarsely (nearest, ~4× the unit's pixel size),
onto the unit grid, giving cloud and coverage over the unit. Scenes are ranked by clear coverage, then
by closeness to the end of the window (least seasonal snow at the end of the ablation season), then by
sun elevation (shorter shadows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from glacierscale.catalog.access import SasSigner

CLOUDY_SCL = (3, 8, 9, 10)  # cloud shadow, cloud medium/high probability, thin cirrus
SNOW_SCL = 11


@dataclass(frozen=True)
class UnitSceneStats:
    """Mask statistics of one scene over one unit (fractions 0-1)."""

    coverage: float  # unit pixels with data
    cloud: float  # of covered pixels
    snow: float  # of covered pixels

    @property
    def clear(self) -> float:
        return self.coverage * (1 - self.cloud)


def mask_over_unit(href: str, epsg: int, bounds: tuple[float, float, float, float], shape: tuple[int, int],
                   gdal: dict[str, str] | None = None) -> np.ndarray:
    """Return the mask layer resampled (nearest) onto a coarse version of the unit grid; 0 where no data.

    ``gdal`` holds the provider's read options (timeouts); sidecar files are never looked for (one request less
    per remote scene, ×10 on a server that answers 404 slowly).
    """
    import rasterio
    from affine import Affine
    from rasterio.crs import CRS
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT

    minx, miny, maxx, maxy = bounds
    h, w = shape
    transform = Affine((maxx - minx) / w, 0, minx, 0, -(maxy - miny) / h, maxy)
    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR", **(gdal or {})), rasterio.open(href) as src, \
            WarpedVRT(src, crs=CRS.from_epsg(epsg), transform=transform, width=w, height=h,
                      resampling=Resampling.nearest, nodata=0) as vrt:
        return vrt.read(1)


def unit_stats(mask: np.ndarray, clear_classes: list[int]) -> UnitSceneStats:
    """Return coverage, cloud and snow fractions from an SCL-like class layer."""
    covered = mask != 0
    n = int(covered.sum())
    if n == 0:
        return UnitSceneStats(0.0, 1.0, 0.0)
    cloudy = np.isin(mask, CLOUDY_SCL) | (covered & ~np.isin(mask, [*clear_classes, *CLOUDY_SCL]))
    return UnitSceneStats(n / mask.size, float(cloudy[covered].sum()) / n, float((mask[covered] == SNOW_SCL).sum()) / n)


def rank_key(stats: UnitSceneStats, when: datetime, window_end: datetime, sun_elevation: float | None) -> tuple[float, ...]:
    """Sort key, best first: clear coverage (5 % steps), days before the window end, sun elevation."""
    days = abs((window_end - when).total_seconds()) / 86400
    return (-round(stats.clear * 20), days, -(sun_elevation or 0.0))


def describe(stats: UnitSceneStats) -> str:
    return (f"over the unit: {stats.coverage:.0%} covered, {stats.cloud:.0%} cloud/shadow, "
            f"{stats.snow:.0%} snow/ice")


def scene_stats(item: Any, mask_asset: str, clear_classes: list[int], epsg: int,
                bounds: tuple[float, float, float, float], shape: tuple[int, int],
                signer: SasSigner | None = None, gdal: dict[str, str] | None = None,
                timeout_s: float = 60.0) -> UnitSceneStats:
    """Return the unit statistics of one item; with ``signer`` the mask href is signed right before the read.

    An unreadable mask counts as no coverage, but a mask that cannot be fetched (a stalled or failing server) is
    a CatalogError saying so, transient: the selection is retried instead of recording a gap that is not one.
    """
    import rasterio

    from glacierscale.catalog.access import unreachable
    from glacierscale.errors import CatalogError
    from glacierscale.redact import redact, redact_logs

    redact_logs()  # GDAL errors logged by rasterio name the (signed) href
    if mask_asset not in item.assets:
        return UnitSceneStats(0.0, 1.0, 0.0)
    href = item.assets[mask_asset].href
    signed = signer.sign_href(href, item.collection_id or "") if signer else href
    try:
        mask = mask_over_unit(signed, epsg, bounds, shape, gdal)
    except rasterio.errors.RasterioIOError:
        why = unreachable(signed, timeout_s)
        if why is None:
            return UnitSceneStats(0.0, 1.0, 0.0)
    else:
        return unit_stats(mask, clear_classes)
    raise CatalogError(redact(f"cannot read the {mask_asset} mask of scene {item.id} ({href}): {why}"))
