"""Sentinel-1 RTC scenes (gamma0 VV/VH, linear power), layover/shadow mask and 12-day coherence.

Backscatter follows surface type and local incidence angle, with layover and radar shadow from the
terrain and Gamma-distributed speckle (ENL 4.4). Coherence is low on moving or melting ice, wet snow and
water, high on stable rock; debris-covered ice moves and melts, so it decorrelates while moraine does not.
Full physics adds ascending passes (acquired in the evening), dry snow outside the melt season (C-band sees
the ground through it; refrozen firn is bright), a steeper incidence fall-off on smooth targets, wind on
the sea and the coherence of rock glaciers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from glacierscale.simulate import stac
from glacierscale.simulate.physics import (
    BACKSCATTER_DB,
    BACKSCATTER_FROZEN_DB,
    COHERENCE_12D,
    COHERENCE_ESTIMATOR_N,
    COHERENCE_FROZEN_12D,
    INCIDENCE_SLOPE_DB,
    Surface,
    lookup,
    paint_surfaces,
    snow_line,
)
from glacierscale.simulate.region import Region
from glacierscale.simulate.surfaces import melting, paint_full, seasonal_snow_line

COLLECTION = "sentinel-1-rtc"
NODATA = -32768.0
ENL = 4.4
INCIDENCE_DEG = 38.0
LOOK_AZIMUTH_DEG = 280.0  # descending pass, right-looking: the radar looks west-north-west
LOOK_AZIMUTH_ASC_DEG = 80.0  # ascending pass: heading ~350°, looking east
# layover/shadow codes of the global coherence data set (Kellndorfer 2022): 1 none, 5 layover, 17 shadow
LS_NONE, LS_LAYOVER, LS_SHADOW = 1, 5, 17


def local_incidence(slope: np.ndarray, aspect: np.ndarray, look_azimuth_deg: float = LOOK_AZIMUTH_DEG) -> np.ndarray:
    """Return the local incidence angle in degrees for the pass geometry (negative = layover)."""
    inc = np.deg2rad(INCIDENCE_DEG)
    towards_sensor = np.deg2rad((look_azimuth_deg + 180.0) % 360.0)
    # slopes facing the sensor tilt towards it and lower the local incidence
    tilt = slope * np.cos(aspect - towards_sensor)
    return np.rad2deg(inc - tilt)


def _table(full: bool, frozen: bool, base: dict, cold: dict) -> dict:
    return {**base, **cold} if full and frozen else base


def simulate_scene(region: Region, when: datetime, rng: np.random.Generator, out: Path) -> dict[str, Any]:
    """Write one RTC scene (VV, VH, layover/shadow, 12-day coherence) as COGs and return its STAC item."""
    spec = region.spec
    full = region.physics == "full"
    ascending = full and when.hour >= 12
    doy = when.timetuple().tm_yday
    glacier, debris = region.masks[when.year]
    fresh = False
    if full:
        line, fresh = seasonal_snow_line(doy, region.ela_m, region.center_lat, rng)
        surf = paint_full(region, when.year, line, fresh)
    else:
        line = snow_line(doy, spec.ela_m, rng)
        surf = paint_surfaces(region.terrain.elevation, glacier, debris, line, region.patchiness)
    frozen = not melting(doy, region.center_lat)
    theta = local_incidence(region.slope, region.aspect, LOOK_AZIMUTH_ASC_DEG if ascending else LOOK_AZIMUTH_DEG)
    layover = theta < 0
    radar_shadow = theta > 90
    invalid = layover | radar_shadow
    if region.valid is not None:
        invalid = invalid | ~region.valid
    folder = out / f"S1A_IW_GRDH_1SDV_{when:%Y%m%dT%H%M%S}_rtc"
    assets: dict[str, Any] = {}
    backscatter = _table(full, frozen, BACKSCATTER_DB, BACKSCATTER_FROZEN_DB)
    wind_db = float(rng.uniform(0, 12)) if full else 0.0  # wind roughens the sea (PHYSICS.md section 2)
    for pol_i, pol in enumerate(("vv", "vh")):
        db = lookup(backscatter, surf, pol_i) + 1.0 * region.texture
        falloff = lookup(INCIDENCE_SLOPE_DB, surf, 0) if full else -0.15  # rough land: ~0.15 dB per degree
        db += falloff * (np.clip(theta, 0, 90) - INCIDENCE_DEG)
        if full:
            db[surf == Surface.OCEAN] += wind_db
        db[layover] += 6.0
        db[radar_shadow] = -24.0  # noise floor
        power = 10 ** (db / 10) * rng.gamma(ENL, 1 / ENL, size=region.shape)
        data = power.astype(np.float32)
        if region.valid is not None:
            data[~region.valid] = NODATA
        href = folder / f"iw-{pol}.rtc.tiff"
        stac.write_cog(href, data, region.transform, region.crs, NODATA)
        assets[pol] = stac.asset(
            href, f"{pol.upper()}: gamma naught, radiometric terrain corrected", data.shape, region.transform,
            ["data"], {"nodata": NODATA, "data_type": "float32", "spatial_resolution": spec.resolution})
    coherence = _table(full, frozen, COHERENCE_12D, COHERENCE_FROZEN_12D)
    mean = lookup(coherence, surf, 0)
    spread = lookup(coherence, surf, 1)
    true = np.clip(mean + spread * rng.standard_normal(region.shape).astype(np.float32), 0, 1)
    # magnitude estimator bias: fully decorrelated pixels read about sqrt(pi / 4N) (Touzi 1999)
    floor = np.sqrt(np.pi / (4 * COHERENCE_ESTIMATOR_N))
    coh = np.sqrt(true**2 + floor**2 * (1 - true**2))
    coh = ndimage.uniform_filter(coh, 3).astype(np.float32)
    coh[invalid] = NODATA
    href = folder / "coherence-vv-12d.tiff"
    stac.write_cog(href, coh, region.transform, region.crs, NODATA)
    assets["coherence-vv-12d"] = stac.asset(
        href, "VV 12-day interferometric coherence (simulated; not part of the real RTC product)",
        coh.shape, region.transform, ["data"],
        {"nodata": NODATA, "data_type": "float32", "spatial_resolution": spec.resolution})
    ls = np.full(region.shape, LS_NONE, dtype=np.uint8)
    ls[layover], ls[radar_shadow] = LS_LAYOVER, LS_SHADOW
    if region.valid is not None:
        ls[~region.valid] = 0
    href = folder / "layover-shadow.tiff"
    stac.write_cog(href, ls, region.transform, region.crs, 0)
    assets["layover-shadow"] = stac.asset(
        href, "Layover/shadow mask: 1 none, 5 layover, 17 shadow (codes of Kellndorfer 2022; simulated)",
        ls.shape, region.transform, ["data", "layover-shadow"],
        {"nodata": 0, "data_type": "uint8", "spatial_resolution": spec.resolution})
    geometry, bbox = stac.footprint(region.bounds, region.crs)
    end = when + timedelta(seconds=12)
    props = {
        "platform": "SENTINEL-1A", "constellation": "Sentinel-1", **stac.projection(region.epsg),
        "start_datetime": when.isoformat() + "Z", "end_datetime": end.isoformat() + "Z",
        "sar:product_type": "GRD", "sar:instrument_mode": "IW", "sar:polarizations": ["VV", "VH"],
        "sar:frequency_band": "C", "sar:center_frequency": 5.405, "sar:looks_equivalent_number": ENL,
        "sar:looks_range": 5, "sar:looks_azimuth": 1, "sar:resolution_range": 20, "sar:resolution_azimuth": 22,
        "sar:pixel_spacing_range": 10, "sar:pixel_spacing_azimuth": 10, "sar:observation_direction": "right",
        "sat:orbit_state": "ascending" if ascending else "descending",
        "sat:relative_orbit": 15 if ascending else 117, "sat:platform_international_designator": "2014-016A",
        "glacierscale:simulated": True, "glacierscale:snow_line_m": round(line, 1),
    }
    if full:
        props["glacierscale:fresh_snow"] = fresh
    return stac.item(folder.name, COLLECTION, when, geometry, bbox, props, assets,
                     ["raster/v1.1.0", "projection/v1.1.0", "sar/v1.0.0", "sat/v1.0.0"])
