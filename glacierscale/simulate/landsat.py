"""Landsat 8/9 Collection 2 Level-2 surface temperature (``lwir11``) and ``qa_pixel`` on the native 30 m grid.

The surface temperature (:mod:`glacierscale.simulate.thermal`) is computed at 10 m, blurred to the
~100 m TIRS resolution, mixed with cold clouds and averaged onto a 30 m grid whose corners sit on
odd multiples of 15 m, as USGS grids do. Values are uint16 with the USGS Collection 2 scaling
``K = DN × 0.00341802 + 149.0`` and nodata 0, exactly as the real items declare in ``raster:bands``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine
from rasterio.warp import Resampling, reproject
from scipy import ndimage

from glacierscale.simulate import stac
from glacierscale.simulate.atmosphere import clouds, scene_cloud_cover
from glacierscale.simulate.physics import Surface, cast_shadow, illumination, solar_position
from glacierscale.simulate.region import Region
from glacierscale.simulate.surfaces import paint_full, seasonal_snow_line
from glacierscale.simulate.thermal import CLOUD_TOP_K, SNOW_ICE, surface_temperature

COLLECTION = "landsat-c2-l2"
RES = 30.0
ST_SCALE, ST_OFFSET = 0.00341802, 149.0
TIRS_RES_M = 100.0
OVERPASS_LOCAL_H = 10.2  # ~10:00-10:15 local mean solar time
# QA_PIXEL bits (USGS C2): 0 fill, 1 dilated cloud, 3 cloud, 4 cloud shadow, 5 snow, 6 clear, 7 water;
# 8-9 cloud, 10-11 shadow, 12-13 snow/ice, 14-15 cirrus confidence (1 low, 3 high)
QA_LOW = (1 << 8) | (1 << 10) | (1 << 12) | (1 << 14)
QA_BITFIELDS = [
    {"name": n, "offset": o, "length": n_bits, "description": d} for n, o, n_bits, d in (
        ("fill", 0, 1, "Image or fill data"), ("dilated_cloud", 1, 1, "Dilated cloud"),
        ("cloud", 3, 1, "Cloud mask"), ("cloud_shadow", 4, 1, "Cloud shadow mask"), ("snow", 5, 1, "Snow/Ice mask"),
        ("clear", 6, 1, "Cloud and dilated cloud bits are not set"), ("water", 7, 1, "Water mask"),
        ("cloud_confidence", 8, 2, "Cloud confidence levels"),
        ("cloud_shadow_confidence", 10, 2, "Cloud shadow confidence levels"),
        ("snow_confidence", 12, 2, "Snow/Ice confidence levels"), ("cirrus_confidence", 14, 2, "Cirrus confidence levels"))
]


def landsat_grid(region: Region) -> tuple[Affine, tuple[int, int]]:
    """Return the 30 m grid inside the region whose pixel corners are odd multiples of 15 m."""
    left, bottom, right, top = region.bounds
    x0 = np.ceil((left - 15) / RES) * RES + 15
    x1 = np.floor((right - 15) / RES) * RES + 15
    y1 = np.floor((top - 15) / RES) * RES + 15
    y0 = np.ceil((bottom - 15) / RES) * RES + 15
    shape = (round(float(y1 - y0) / RES), round(float(x1 - x0) / RES))
    return Affine(RES, 0, float(x0), 0, -RES, float(y1)), shape


def to_grid(region: Region, values: np.ndarray, transform: Affine, shape: tuple[int, int],
            resampling: Resampling = Resampling.average) -> np.ndarray:
    """Return a region-grid array resampled onto another grid of the same CRS."""
    out = np.full(shape, np.nan, dtype=np.float32)
    reproject(values.astype(np.float32), out, src_transform=region.transform, src_crs=region.crs,
              dst_transform=transform, dst_crs=region.crs, resampling=resampling, src_nodata=np.nan, dst_nodata=np.nan)
    return out


def simulate_scene(region: Region, when: datetime, rng: np.random.Generator, out: Path) -> dict[str, Any]:
    """Write one Landsat C2 L2 scene (lwir11 + qa_pixel COGs) and return its STAC item."""
    spec = region.spec
    doy = when.timetuple().tm_yday
    hour_utc = OVERPASS_LOCAL_H - region.center_lon / 15.0
    sun_elev, sun_az = solar_position(region.center_lat, doy, hour_utc, region.center_lon)
    line, fresh = seasonal_snow_line(doy, region.ela_m, region.center_lat, rng)
    surf = paint_full(region, when.year, line, fresh)
    cos_i = illumination(region.slope, region.aspect, sun_elev, sun_az)
    shadow = cast_shadow(region.terrain.elevation, spec.resolution, sun_elev, sun_az)
    direct = (np.clip(cos_i, 0, None) * ~shadow).astype(np.float32)
    temp = surface_temperature(region, surf, when.year, doy, direct, rng)
    # clouds as for Sentinel-2, tops at ~258 K; their shadows cool the ground by up to 3 K
    cover = scene_cloud_cover(rng, region.cloud_climate)
    cloud, cshadow = clouds(region.shape, spec.resolution, cover, sun_elev, sun_az, rng)
    temp = temp - 3.0 * cshadow
    temp = temp * (1 - cloud) + (CLOUD_TOP_K + rng.normal(0, 3.0)) * cloud
    # the TIRS footprint is ~100 m: blur (Gaussian with FWHM 100 m), then average onto the 30 m grid
    temp = ndimage.gaussian_filter(temp, TIRS_RES_M / 2.355 / spec.resolution, mode="nearest")
    transform, shape = landsat_grid(region)
    valid10 = region.valid if region.valid is not None else np.ones(region.shape, bool)
    valid = to_grid(region, valid10.astype(np.float32), transform, shape) > 0.999
    kelvin = to_grid(region, temp, transform, shape)
    dn = np.clip(np.floor((kelvin - ST_OFFSET) / ST_SCALE), 1, 65535)
    dn = np.where(valid, dn, 0).astype(np.uint16)

    def frac(mask: np.ndarray) -> np.ndarray:
        return to_grid(region, mask.astype(np.float32), transform, shape)

    cloudy, dilated, shaded = frac(cloud > 0.25) > 0.5, frac(cloud > 0.05) > 0.2, frac(cshadow > 0.3) > 0.5
    snowy, water = frac(np.isin(surf, SNOW_ICE)) > 0.5, frac(np.isin(surf, (Surface.WATER, Surface.OCEAN))) > 0.5
    qa = np.full(shape, QA_LOW, dtype=np.uint16)
    qa[snowy] |= (1 << 5) | (3 << 12)
    qa[water] |= 1 << 7
    qa[shaded] |= (1 << 4) | (3 << 10)
    qa[dilated & ~cloudy] |= 1 << 1
    qa[cloudy] |= (1 << 3) | (3 << 8)
    qa[~(cloudy | dilated)] |= 1 << 6
    qa[~valid] = 1

    platform = "landsat-8" if when < datetime(2021, 10, 31) or doy % 2 else "landsat-9"
    path_row = f"{(int(200 - region.center_lon * 0.65) % 233) + 1:03d}{int(60 - region.center_lat * 0.7) % 248 + 1:03d}"
    item_id = f"LC0{platform[-1]}_L2SP_{path_row}_{when:%Y%m%d}_02_T1"
    folder = out / item_id
    stac.write_cog(folder / f"{item_id}_ST_B10.TIF", dn, transform, region.crs, 0)
    stac.write_cog(folder / f"{item_id}_QA_PIXEL.TIF", qa, transform, region.crs, 1)
    eo = [{"name": "TIRS_B10", "common_name": "lwir11", "description": "Long-wave infrared",
           "center_wavelength": 10.9, "full_width_half_max": 0.59}]
    assets = {
        "lwir11": stac.asset(folder / f"{item_id}_ST_B10.TIF", "Surface Temperature Band", shape, transform,
                             ["data", "temperature"],
                             {"nodata": 0, "data_type": "uint16", "spatial_resolution": RES, "unit": "kelvin",
                              "scale": ST_SCALE, "offset": ST_OFFSET}, **{"eo:bands": eo, "gsd": TIRS_RES_M}),
        "qa_pixel": stac.asset(folder / f"{item_id}_QA_PIXEL.TIF", "Pixel Quality Assessment Band", shape, transform,
                               ["cloud", "cloud-shadow", "snow-ice", "water-mask"],
                               {"nodata": 1, "data_type": "uint16", "spatial_resolution": RES, "unit": "bit index"},
                               **{"classification:bitfields": QA_BITFIELDS}),
    }
    geometry, bbox = stac.footprint(region.bounds, region.crs)
    cloud_pct = round(float(100 * np.mean(cloudy[valid])) if valid.any() else 0.0, 2)
    props = {
        "platform": platform, "instruments": ["oli", "tirs"], "gsd": RES, "description": "Landsat Collection 2 Level-2",
        "eo:cloud_cover": cloud_pct, "view:off_nadir": 0, "view:sun_elevation": round(sun_elev, 6),
        "view:sun_azimuth": round(sun_az, 6), **stac.projection(region.epsg), "proj:shape": list(shape),
        "proj:transform": list(transform)[:6], "landsat:cloud_cover_land": cloud_pct, "landsat:wrs_type": "2",
        "landsat:wrs_path": path_row[:3], "landsat:wrs_row": path_row[3:], "landsat:collection_category": "T1",
        "landsat:collection_number": "02", "landsat:correction": "L2SP",
        "landsat:product_generated": f"{when + timedelta(days=10):%Y-%m-%dT%H:%M:%SZ}",
        "sci:doi": "10.5066/P9OGBGM6", "glacierscale:simulated": True, "glacierscale:snow_line_m": round(line, 1),
        "glacierscale:fresh_snow": fresh,
    }
    return stac.item(item_id, COLLECTION, when, geometry, bbox, props, assets,
                     ["projection/v1.1.0", "classification/v1.0.0", "raster/v1.1.0", "scientific/v1.0.0",
                      "view/v1.0.0", "eo/v1.1.0", "landsat/v2.0.0"])
