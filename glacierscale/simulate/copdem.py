"""Copernicus DEM GLO-30 tile: the terrain resampled to 1 arc-second in EPSG:4326, as the real COGs are."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine
from rasterio.warp import Resampling, reproject, transform_bounds

from glacierscale.simulate import stac
from glacierscale.simulate.region import Region

COLLECTION = "cop-dem-glo-30"
ARCSEC = 1.0 / 3600.0


def dem_grid(region: Region) -> tuple[Affine, tuple[int, int], tuple[float, float, float, float]]:
    """Return the geographic 1″ grid (transform, shape, bounds) covering the region with a 2″ margin."""
    w, s, e, n = transform_bounds(region.crs, "EPSG:4326", *region.bounds)
    w, s = np.floor(w / ARCSEC) * ARCSEC - 2 * ARCSEC, np.floor(s / ARCSEC) * ARCSEC - 2 * ARCSEC
    e, n = np.ceil(e / ARCSEC) * ARCSEC + 2 * ARCSEC, np.ceil(n / ARCSEC) * ARCSEC + 2 * ARCSEC
    width, height = round((e - w) / ARCSEC), round((n - s) / ARCSEC)
    return Affine(ARCSEC, 0, w, 0, -ARCSEC, n), (height, width), (w, s, e, n)


def simulate_dem(region: Region, out: Path) -> dict[str, Any]:
    """Write the DEM COG on a geographic 1″ grid covering the region and return its STAC item."""
    transform, (height, width), (w, s, e, n) = dem_grid(region)
    dem = np.full((height, width), np.nan, dtype=np.float32)
    elevation = region.terrain.elevation
    if region.valid is not None:
        elevation = np.where(region.valid, elevation, np.nan).astype(np.float32)
    reproject(elevation, dem, src_transform=region.transform, src_crs=region.crs,
              dst_transform=transform, dst_crs="EPSG:4326", resampling=Resampling.bilinear,
              src_nodata=np.nan, dst_nodata=np.nan)
    lat, lon = int(np.floor(s)), int(np.floor(w))
    item_id = f"Copernicus_DSM_COG_10_{'N' if lat >= 0 else 'S'}{abs(lat):02d}_00_{'E' if lon >= 0 else 'W'}{abs(lon):03d}_00_DEM"
    href = out / item_id / f"{item_id}.tif"
    stac.write_cog(href, dem, transform, "EPSG:4326", np.nan)
    bbox = [float(w), float(s), float(e), float(n)]
    geometry = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    data = stac.asset(href, "Data", dem.shape, transform, ["data"],
                      {"sampling": "point", "data_type": "float32", "spatial_resolution": 30, "unit": "meter"})
    props = {"platform": "tandem-x", "gsd": 30, **stac.projection(4326), "proj:shape": list(dem.shape),
             "proj:transform": list(transform)[:6], "glacierscale:simulated": True}
    return stac.item(item_id, COLLECTION, datetime(2021, 4, 22), geometry, bbox, props, {"data": data},
                     ["raster/v1.1.0", "projection/v1.1.0"])
