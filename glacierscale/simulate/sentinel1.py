"""Sentinel-1 RTC scenes (gamma0 VV/VH, linear power) and 12-day interferometric coherence.

Backscatter follows surface type and local incidence angle, with layover and radar shadow from the
terrain and Gamma-distributed speckle (ENL 4.4). Coherence is low on moving or melting ice, wet snow and
water, high on stable rock; debris-covered ice moves and melts, so it decorrelates while moraine does not.
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
    COHERENCE_12D,
    COHERENCE_ESTIMATOR_N,
    lookup,
    paint_surfaces,
    snow_line,
)
from glacierscale.simulate.region import Region

COLLECTION = "sentinel-1-rtc"
NODATA = -32768.0
ENL = 4.4
INCIDENCE_DEG = 38.0
LOOK_AZIMUTH_DEG = 280.0  # descending pass, right-looking: the radar looks west-north-west


def local_incidence(slope: np.ndarray, aspect: np.ndarray) -> np.ndarray:
    """Return the local incidence angle in degrees for the pass geometry (negative = layover)."""
    inc = np.deg2rad(INCIDENCE_DEG)
    towards_sensor = np.deg2rad((LOOK_AZIMUTH_DEG + 180.0) % 360.0)
    # slopes facing the sensor tilt towards it and lower the local incidence
    tilt = slope * np.cos(aspect - towards_sensor)
    return np.rad2deg(inc - tilt)


def simulate_scene(region: Region, when: datetime, rng: np.random.Generator, out: Path) -> dict[str, Any]:
    """Write one RTC scene (VV, VH, 12-day coherence) as COGs and return its STAC item."""
    spec = region.spec
    glacier, debris = region.masks[when.year]
    line = snow_line(when.timetuple().tm_yday, spec.ela_m, rng)
    surf = paint_surfaces(region.terrain.elevation, glacier, debris, line, region.patchiness)
    theta = local_incidence(region.slope, region.aspect)
    layover = theta < 0
    radar_shadow = theta > 90
    folder = out / f"S1A_IW_GRDH_1SDV_{when:%Y%m%dT%H%M%S}_rtc"
    assets: dict[str, Any] = {}
    for pol_i, pol in enumerate(("vv", "vh")):
        db = lookup(BACKSCATTER_DB, surf, pol_i) + 1.0 * region.texture
        db += -0.15 * (np.clip(theta, 0, 90) - INCIDENCE_DEG)  # rough land: ~0.15 dB per degree
        db[layover] += 6.0
        db[radar_shadow] = -24.0  # noise floor
        power = 10 ** (db / 10) * rng.gamma(ENL, 1 / ENL, size=region.shape)
        data = power.astype(np.float32)
        href = folder / f"iw-{pol}.rtc.tiff"
        stac.write_cog(href, data, region.transform, region.crs, NODATA)
        assets[pol] = stac.asset(
            href, f"{pol.upper()}: gamma naught, radiometric terrain corrected", data.shape, region.transform,
            ["data"], {"nodata": NODATA, "data_type": "float32", "spatial_resolution": spec.resolution})
    mean = lookup(COHERENCE_12D, surf, 0)
    spread = lookup(COHERENCE_12D, surf, 1)
    true = np.clip(mean + spread * rng.standard_normal(region.shape).astype(np.float32), 0, 1)
    # magnitude estimator bias: fully decorrelated pixels read about sqrt(pi / 4N) (Touzi 1999)
    floor = np.sqrt(np.pi / (4 * COHERENCE_ESTIMATOR_N))
    coh = np.sqrt(true**2 + floor**2 * (1 - true**2))
    coh = ndimage.uniform_filter(coh, 3).astype(np.float32)
    coh[layover | radar_shadow] = NODATA
    href = folder / "coherence-vv-12d.tiff"
    stac.write_cog(href, coh, region.transform, region.crs, NODATA)
    assets["coherence-vv-12d"] = stac.asset(
        href, "VV 12-day interferometric coherence (simulated; not part of the real RTC product)",
        coh.shape, region.transform, ["data"],
        {"nodata": NODATA, "data_type": "float32", "spatial_resolution": spec.resolution})
    geometry, bbox = stac.footprint(region.bounds, region.crs)
    end = when + timedelta(seconds=12)
    props = {
        "platform": "SENTINEL-1A", "constellation": "Sentinel-1", "proj:epsg": region.epsg,
        "start_datetime": when.isoformat() + "Z", "end_datetime": end.isoformat() + "Z",
        "sar:product_type": "GRD", "sar:instrument_mode": "IW", "sar:polarizations": ["VV", "VH"],
        "sar:frequency_band": "C", "sar:center_frequency": 5.405, "sar:looks_equivalent_number": ENL,
        "sar:observation_direction": "right", "sat:orbit_state": "descending",
        "glacierscale:simulated": True,
    }
    return stac.item(folder.name, COLLECTION, when, geometry, bbox, props, assets,
                     ["raster/v1.1.0", "projection/v1.1.0", "sar/v1.0.0", "sat/v1.0.0"])
