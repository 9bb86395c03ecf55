"""Sentinel-2 L2A scenes: reflectance by surface, topographic illumination, cast shadows, clouds, SCL.

Classic physics draws exactly what the shipped checkpoint was trained on. Full physics (real inputs, or
``RegionSpec(physics="full")``) adds rock types shared by rock, moraine and debris, seasonal and fresh snow
on any date, dirty ice, lakes, sea and ice mélange, and clouds from the region's cloud climate (default: the
40-70 % cover typical over mountains; :mod:`glacierscale.simulate.cloudclimate`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from glacierscale.simulate import stac
from glacierscale.simulate.atmosphere import clouds, scene_cloud_cover
from glacierscale.simulate.physics import (
    CLASSIC_REFLECTANCE,
    CLOUD_REFLECTANCE,
    DIFFUSE_SHARE,
    S2_BANDS,
    Surface,
    cast_shadow,
    illumination,
    lookup,
    paint_surfaces,
    smooth_noise,
    snow_line,
    solar_position,
)
from glacierscale.simulate.region import Region
from glacierscale.simulate.surfaces import ground_reflectance, paint_full, seasonal_snow_line

COLLECTION = "sentinel-2-l2a"
# cloud-shadow transmission per band (diffuse skylight is blue-rich; PHYSICS.md section 1)
SHADOW_TRANSMISSION = np.array([0.28, 0.22, 0.18, 0.12, 0.08, 0.08], dtype=np.float32)
LAT_BANDS = "CDEFGHJKLMNPQRSTUVWXX"


def _scl(surf: np.ndarray, refl: np.ndarray, cloud: np.ndarray, cshadow: np.ndarray, dark: np.ndarray) -> np.ndarray:
    """Return the L2A scene classification (10 m, downsampled by the caller)."""
    green, swir = refl[1], refl[4]
    ndsi = (green - swir) / np.maximum(green + swir, 1e-6)
    scl = np.full(surf.shape, 5, dtype=np.uint8)  # not vegetated
    scl[np.isin(surf, (Surface.SPARSE_VEG, Surface.DENSE_VEG))] = 4
    scl[np.isin(surf, (Surface.WATER, Surface.OCEAN))] = 6
    scl[(ndsi > 0.4) & (green > 0.2)] = 11
    scl[dark] = 2
    scl[cshadow > 0.3] = 3
    scl[cloud > 0.25] = 8
    scl[cloud > 0.6] = 9
    return scl


def tile_code(region: Region) -> str:
    """Return an MGRS-like tile code: UTM zone, latitude band and two letters from the region name."""
    zone = region.epsg % 100
    band = LAT_BANDS[int(np.clip((region.center_lat + 80) // 8, 0, len(LAT_BANDS) - 1))]
    return f"{zone}{band}{region.spec.name.upper()[:2]}"


@dataclass(frozen=True)
class Rendering:
    """One date's 10 m surface reflectance and what made it (surfaces, shadows, clouds, the sun)."""

    refl: np.ndarray  # (6, y, x) B02 B03 B04 B08 B11 B12
    surf: np.ndarray  # Surface class per pixel
    shadow: np.ndarray  # cast terrain shadow
    cos_i: np.ndarray  # cosine of the local solar incidence
    cloud: np.ndarray
    cshadow: np.ndarray
    snow_line: float
    fresh: bool
    sun: tuple[float, float]  # elevation, azimuth in degrees


def render(region: Region, when: datetime, rng: np.random.Generator) -> Rendering:
    """Return the surface reflectance of one Sentinel-2 date at 10 m, before quantisation."""
    spec = region.spec
    full = region.physics == "full"
    year = when.year
    doy = when.timetuple().tm_yday
    hour_utc = 10.5 - region.center_lon / 15.0  # 10:30 local solar time descending node
    sun_elev, sun_az = solar_position(region.center_lat, doy, hour_utc, region.center_lon)
    glacier, debris = region.masks[year]
    fresh = False
    if full:
        line, fresh = seasonal_snow_line(doy, region.ela_m, region.center_lat, rng)
        surf = paint_full(region, year, line, fresh)
    else:
        line = snow_line(doy, spec.ela_m, rng)
        surf = paint_surfaces(region.terrain.elevation, glacier, debris, line, region.patchiness)

    cos_i = illumination(region.slope, region.aspect, sun_elev, sun_az)
    shadow = cast_shadow(region.terrain.elevation, spec.resolution, sun_elev, sun_az)
    direct = np.clip(cos_i, 0, None) / np.sin(np.deg2rad(sun_elev)) * ~shadow
    skyview = (1 + np.cos(region.slope)) / 2

    if full:  # the region's cloud climate: 40-70 % typical over mountain glaciers (PHYSICS.md section 6)
        cover = scene_cloud_cover(rng, region.cloud_climate)
        cloud, cshadow = clouds(region.shape, spec.resolution, cover, sun_elev, sun_az, rng)
    else:  # classic: cloud optical thickness over 0-60 % of the scene, mostly small fractions
        cover = float(np.clip(rng.beta(1.1, 3.0) * 0.8, 0, 0.6))
        field = smooth_noise(region.shape, rng, 18.0)
        thr = np.quantile(field, 1 - cover) if cover > 0.005 else np.inf
        cloud = np.clip((field - thr) / 0.6, 0, 1).astype(np.float32) ** 0.7
        height_px = 2000.0 / np.tan(np.deg2rad(sun_elev)) / spec.resolution
        az = np.deg2rad(sun_az)
        cshadow = ndimage.shift(cloud, (-np.cos(az) * -height_px, np.sin(az) * -height_px), order=0, cval=0.0)
        cshadow = np.clip(cshadow - cloud, 0, 1)

    refl = np.empty((len(S2_BANDS), *region.shape), dtype=np.float32)
    for b in range(len(S2_BANDS)):
        # full physics: a blue-rich diffuse share calibrated on real shadowed snow; classic: 15 % in every band
        d = float(DIFFUSE_SHARE[b]) if full else 0.15
        light = np.clip((1 - d) * direct + d * skyview, 0, 2.5).astype(np.float32)
        ground = ground_reflectance(region, surf, b, year) if full else lookup(CLASSIC_REFLECTANCE, surf, b)
        base = ground * (1 + 0.10 * region.texture)
        r = base * light
        r *= 1 - (1 - SHADOW_TRANSMISSION[b]) * cshadow
        r = r * (1 - cloud) + CLOUD_REFLECTANCE[b] * cloud
        refl[b] = r + rng.normal(0, 0.004, region.shape).astype(np.float32)
    return Rendering(refl, surf, shadow, cos_i, cloud, cshadow, line, fresh, (sun_elev, sun_az))


def simulate_scene(region: Region, when: datetime, rng: np.random.Generator, out: Path) -> dict[str, Any]:
    """Write one Sentinel-2 L2A scene (six bands + SCL as COGs) and return its STAC item."""
    spec = region.spec
    full = region.physics == "full"
    ren = render(region, when, rng)
    refl, surf, shadow, cos_i, cloud, cshadow = ren.refl, ren.surf, ren.shadow, ren.cos_i, ren.cloud, ren.cshadow
    line, fresh = ren.snow_line, ren.fresh
    sun_elev, sun_az = ren.sun
    dark = (shadow | (cos_i < 0.08)) & (cloud < 0.25)
    scl = _scl(surf, refl, cloud, cshadow, dark)[::2, ::2]
    valid = region.valid
    if valid is not None:
        scl[~valid[::2, ::2]] = 0

    offset = -0.1 if when >= stac.S2_L2A_OFFSET_FROM else 0.0
    baseline = "05.10" if offset else "02.14"
    sat = "S2A" if rng.random() < 0.5 else "S2B"
    pc = spec.s2_naming == "planetary-computer"
    item_id = f"{sat}_{tile_code(region)}_{when:%Y%m%d}_0_L2A"
    folder = out / item_id
    assets: dict[str, Any] = {}
    t10 = region.transform
    t20 = t10 @ t10.scale(2)
    for b, band in enumerate(S2_BANDS):
        arr = refl[b]
        res = stac.S2_ASSETS[band][2]
        transform = t10
        if res == 20:
            arr = arr.reshape(arr.shape[0] // 2, 2, arr.shape[1] // 2, 2).mean(axis=(1, 3))
            transform = t20
        dn = np.clip(np.round((arr - offset) * 10000), 1, 65534).astype(np.uint16)
        if valid is not None:
            dn[~(valid if res == 10 else valid[::2, ::2])] = 0
        href = folder / f"{band}.tif"
        stac.write_cog(href, dn, transform, region.crs, 0)
        key, a = stac.s2_asset_pc(band, href, dn.shape, transform) if pc else stac.s2_asset(band, href, dn.shape,
                                                                                              transform, offset)
        assets[key] = a
    stac.write_cog(folder / "SCL.tif", scl, t20, region.crs, 0)
    assets["SCL" if pc else "scl"] = stac.scl_asset(folder / "SCL.tif", scl.shape, t20, spec.s2_naming)

    geometry, bbox = stac.footprint(region.bounds, region.crs)
    cloud_pct = float(100 * np.mean(cloud > 0.25))
    props: dict[str, Any] = {
        "platform": "sentinel-2a" if sat == "S2A" else "sentinel-2b", "constellation": "sentinel-2",
        "instruments": ["msi"], "eo:cloud_cover": round(cloud_pct, 4), **stac.projection(region.epsg),
        "view:sun_azimuth": round(sun_az, 4), "view:sun_elevation": round(sun_elev, 4),
        "s2:processing_baseline": baseline, "s2:product_type": "S2MSI2A",
        "s2:snow_ice_percentage": round(float(100 * np.mean(scl == 11)), 4),
        "earthsearch:boa_offset_applied": bool(offset),
        "glacierscale:simulated": True, "glacierscale:snow_line_m": round(line, 1),
    }
    if full:
        props["glacierscale:fresh_snow"] = fresh
    extensions = ["eo/v1.1.0", "raster/v1.1.0", "projection/v1.1.0", "view/v1.0.0", "sentinel-2/v1.0.0"]
    if pc:  # Planetary Computer items: "Sentinel-2A", "Sentinel 2", sat:* orbit, no raster:bands
        props.update({"platform": f"Sentinel-2{sat[-1]}", "constellation": "Sentinel 2",
                      "sat:orbit_state": "descending", "sat:relative_orbit": 1 + int(region.center_lon * 10) % 143})
        props.pop("earthsearch:boa_offset_applied")
        extensions = ["eo/v1.0.0", "sat/v1.0.0", "projection/v1.1.0", "view/v1.0.0"]
    return stac.item(item_id, COLLECTION, when, geometry, bbox, props, assets, extensions)
