"""Surface physics shared by the sensors: surface classes, spectra, backscatter, coherence, illumination.

Values come from ../shared/PHYSICS.md (its sources are cited there); the tables below keep the typical value
and a spread that the simulator draws from. Debris and rock share one spectrum on purpose: that is why
debris-covered ice is hard to map optically, and why coherence and thermal data help.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum

import numpy as np
from scipy import ndimage


class Surface(IntEnum):
    """Surface classes the simulator paints; truth classes are derived from glacier outlines instead."""

    ROCK = 0
    SPARSE_VEG = 1
    DENSE_VEG = 2
    SEASONAL_SNOW = 3  # snow on ground outside glaciers
    GLACIER_SNOW = 4  # snow and firn on glaciers above the snow line
    CLEAN_ICE = 5
    DEBRIS = 6
    WATER = 7  # turbid proglacial lake
    # full physics only (the classic scenes never paint these)
    FRESH_SNOW = 8  # days after a summer snowfall
    DIRTY_ICE = 9  # fine debris and wet ice on the lower tongue (still clean-ice class in the truth)
    OCEAN = 10
    MELANGE = 11  # ice mélange / sea ice in front of calving fronts
    ROCK_GLACIER = 12  # ice-cored debris lobe: background in the truth, rock spectrum, intermediate coherence


S2_BANDS = ("B02", "B03", "B04", "B08", "B11", "B12")

# Classic physics (what the first checkpoints were trained on and `demo` maps, kept byte for byte): typical
# surface reflectance per class for B02, B03, B04, B08, B11, B12 (PHYSICS.md section 1). Its glacier snow
# (0.62) and ice are darker than real late-summer glacier surfaces; full physics uses REFLECTANCE below.
CLASSIC_REFLECTANCE: dict[Surface, tuple[float, ...]] = {
    Surface.ROCK: (0.13, 0.15, 0.17, 0.21, 0.25, 0.21),
    Surface.SPARSE_VEG: (0.06, 0.09, 0.09, 0.24, 0.26, 0.18),
    Surface.DENSE_VEG: (0.03, 0.06, 0.03, 0.35, 0.18, 0.08),
    Surface.SEASONAL_SNOW: (0.70, 0.70, 0.68, 0.55, 0.015, 0.01),
    Surface.GLACIER_SNOW: (0.62, 0.62, 0.60, 0.47, 0.025, 0.018),  # old snow / firn mix
    Surface.CLEAN_ICE: (0.40, 0.38, 0.33, 0.17, 0.02, 0.015),
    Surface.DEBRIS: (0.12, 0.14, 0.16, 0.19, 0.21, 0.18),  # same lithology as the moraine around it
    Surface.WATER: (0.10, 0.14, 0.12, 0.06, 0.008, 0.005),
    Surface.FRESH_SNOW: (0.95, 0.94, 0.92, 0.85, 0.08, 0.06),
    Surface.DIRTY_ICE: (0.18, 0.18, 0.17, 0.13, 0.04, 0.03),
    Surface.OCEAN: (0.05, 0.04, 0.02, 0.01, 0.005, 0.003),
    Surface.MELANGE: (0.55, 0.55, 0.50, 0.40, 0.04, 0.03),  # mixed with OCEAN by the mélange cover
    Surface.ROCK_GLACIER: (0.13, 0.15, 0.17, 0.21, 0.25, 0.21),
}
# Full physics: surface reflectance per class for B02, B03, B04, B08, B11, B12, calibrated to 11,729 real
# hand-labelled Sentinel-2 SR spectra (../shared/data/real/aberle-glacier-spectra, June-August 2021, four
# glaciers; `benchmarks/spectra_check.py`): real glacier snow in summer is 0.81/0.83/0.83/0.69/0.019/0.016
# (class medians), ice 0.35/0.36/0.34/0.24/0.014/0.013, rock 0.12/0.15/0.16/0.17/0.22/0.22, water
# 0.11/0.17/0.11/0.03/0.011/0.011. Snow on and off the glacier is equally bright, as it is in nature, so
# brightness alone never tells an accumulation area from seasonal snow. Firn (PHYSICS.md: 0.55) is mixed
# into glacier snow per pixel by :func:`glacierscale.simulate.surfaces.ground_reflectance`.
REFLECTANCE: dict[Surface, tuple[float, ...]] = {
    Surface.ROCK: (0.13, 0.15, 0.17, 0.19, 0.24, 0.22),
    Surface.SPARSE_VEG: (0.06, 0.09, 0.09, 0.24, 0.26, 0.18),
    Surface.DENSE_VEG: (0.03, 0.06, 0.03, 0.35, 0.18, 0.08),
    Surface.SEASONAL_SNOW: (0.86, 0.88, 0.88, 0.75, 0.020, 0.017),
    Surface.GLACIER_SNOW: (0.88, 0.90, 0.89, 0.76, 0.020, 0.017),  # late-summer snow on the accumulation area
    Surface.CLEAN_ICE: (0.37, 0.38, 0.36, 0.26, 0.015, 0.014),
    Surface.DEBRIS: (0.12, 0.14, 0.16, 0.19, 0.21, 0.18),  # same lithology as the moraine around it
    Surface.WATER: (0.125, 0.18, 0.12, 0.035, 0.011, 0.010),
    Surface.FRESH_SNOW: (0.95, 0.94, 0.92, 0.85, 0.08, 0.06),
    Surface.DIRTY_ICE: (0.24, 0.24, 0.23, 0.17, 0.03, 0.025),  # real ice p5-p25 (0.17-0.26 in B02)
    Surface.OCEAN: (0.05, 0.04, 0.02, 0.01, 0.005, 0.003),
    Surface.MELANGE: (0.55, 0.55, 0.50, 0.40, 0.04, 0.03),  # mixed with OCEAN by the mélange cover
    Surface.ROCK_GLACIER: (0.13, 0.15, 0.17, 0.19, 0.24, 0.22),
}
FIRN_REFLECTANCE = (0.55, 0.55, 0.52, 0.40, 0.03, 0.02)  # PHYSICS.md section 1
# Share of diffuse (sky + terrain-reflected) light per band: blue-rich, and in snow-filled cirques the
# surrounding snow reflects much light into cast shadow. Calibrated so that snow in cast shadow matches the
# real "shadowed snow" spectra (medians 0.47/0.41/0.33/0.23 in B02-B08, i.e. 0.4-0.6 of sunlit snow; SWIR
# 0.010, lifted by light reflected from SWIR-bright rock walls).
DIFFUSE_SHARE = np.array([0.55, 0.48, 0.40, 0.33, 0.45, 0.45], dtype=np.float32)

# Full physics: rock, moraine, supraglacial debris and rock glaciers all take the spectrum of the local rock,
# a mix of three rock types (PHYSICS.md section 1: granites/gneiss; darker phyllite/schist; carbonates that
# reach 0.33-0.65 in the SWIR). Debris is the rock of its valley, so no band tells it from moraine.
LITHOLOGY_REFLECTANCE = np.array([
    (0.13, 0.15, 0.17, 0.19, 0.24, 0.22),  # granite, gneiss (typical bare rock / moraine; real rock B08 0.17)
    (0.09, 0.10, 0.11, 0.14, 0.17, 0.15),  # phyllite, biotite-chlorite schist
    (0.20, 0.23, 0.26, 0.30, 0.42, 0.34),  # limestone, dolomite, shale
], dtype=np.float32)
ROCKLIKE = (0, 6, 12)  # ROCK, DEBRIS, ROCK_GLACIER
CLOUD_REFLECTANCE = (0.75, 0.75, 0.75, 0.72, 0.35, 0.30)

# gamma0 in dB (VV, VH), melt season, 30-45 deg local incidence (PHYSICS.md section 2).
BACKSCATTER_DB: dict[Surface, tuple[float, float]] = {
    Surface.ROCK: (-8.0, -16.0),
    Surface.SPARSE_VEG: (-9.5, -17.0),
    Surface.DENSE_VEG: (-7.5, -13.0),
    Surface.SEASONAL_SNOW: (-19.0, -26.0),  # wet snow absorbs
    Surface.GLACIER_SNOW: (-18.0, -25.0),
    Surface.CLEAN_ICE: (-14.0, -22.0),
    Surface.DEBRIS: (-8.5, -16.0),  # indistinguishable from moraine by intensity
    Surface.WATER: (-24.0, -28.0),
    Surface.FRESH_SNOW: (-19.0, -26.0),
    Surface.DIRTY_ICE: (-14.0, -22.0),
    Surface.OCEAN: (-22.0, -28.0),  # calm; wind adds up to 12 dB per scene
    Surface.MELANGE: (-7.0, -15.0),
    Surface.ROCK_GLACIER: (-8.0, -16.0),
}
# Outside the melt season snow is dry: C-band sees the ground through it; refrozen firn is bright.
BACKSCATTER_FROZEN_DB: dict[Surface, tuple[float, float]] = {
    Surface.SEASONAL_SNOW: (-9.0, -18.0),
    Surface.FRESH_SNOW: (-9.0, -18.0),
    Surface.GLACIER_SNOW: (-4.0, -12.0),
    Surface.CLEAN_ICE: (-11.0, -20.0),
    Surface.DIRTY_ICE: (-11.0, -20.0),
}
# dB per degree of local incidence away from the reference: smooth targets fall off faster (PHYSICS.md section 2)
INCIDENCE_SLOPE_DB: dict[Surface, tuple[float]] = {s: (-0.15,) for s in Surface} | {
    Surface.WATER: (-0.3,), Surface.OCEAN: (-0.3,), Surface.SEASONAL_SNOW: (-0.25,),
    Surface.GLACIER_SNOW: (-0.25,), Surface.FRESH_SNOW: (-0.25,), Surface.CLEAN_ICE: (-0.2,),
}

# 12-day VV coherence: (mean, spread) (PHYSICS.md section 3).
COHERENCE_12D: dict[Surface, tuple[float, float]] = {
    Surface.ROCK: (0.68, 0.10),
    Surface.SPARSE_VEG: (0.45, 0.10),
    Surface.DENSE_VEG: (0.20, 0.07),
    Surface.SEASONAL_SNOW: (0.12, 0.06),
    Surface.GLACIER_SNOW: (0.10, 0.05),
    Surface.CLEAN_ICE: (0.10, 0.05),
    Surface.DEBRIS: (0.18, 0.07),  # melt, lowering and flow decorrelate it; flanking moraine stays coherent
    Surface.WATER: (0.0, 0.0),
    Surface.FRESH_SNOW: (0.08, 0.05),
    Surface.DIRTY_ICE: (0.10, 0.05),
    Surface.OCEAN: (0.0, 0.0),
    Surface.MELANGE: (0.0, 0.0),
    Surface.ROCK_GLACIER: (0.35, 0.10),  # cm-m per year of creep: between moraine and glacier
}
COHERENCE_FROZEN_12D: dict[Surface, tuple[float, float]] = {
    Surface.SEASONAL_SNOW: (0.50, 0.15),  # dry stable snowpack
    Surface.GLACIER_SNOW: (0.25, 0.10),  # flow still decorrelates
    Surface.CLEAN_ICE: (0.15, 0.07),
    Surface.DIRTY_ICE: (0.15, 0.07),
}
COHERENCE_ESTIMATOR_N = 20  # samples in the estimation window: decorrelated pixels read ~0.20


def smooth_noise(shape: tuple[int, int], rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Return spatially correlated Gaussian noise with unit standard deviation."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    std = field.std()
    return field / std if std > 0 else field


def illumination(slope: np.ndarray, aspect: np.ndarray, sun_elev_deg: float, sun_az_deg: float) -> np.ndarray:
    """Return cos of the local solar incidence angle (negative on self-shadowed slopes)."""
    zen = np.deg2rad(90.0 - sun_elev_deg)
    az = np.deg2rad(sun_az_deg)
    return np.cos(zen) * np.cos(slope) + np.sin(zen) * np.sin(slope) * np.cos(az - aspect)


def cast_shadow(elevation: np.ndarray, resolution: float, sun_elev_deg: float, sun_az_deg: float) -> np.ndarray:
    """Return True where terrain towards the sun blocks it (cast shadow), by marching along the sun azimuth."""
    ny, nx = elevation.shape
    az = np.deg2rad(sun_az_deg)
    dcol, drow = np.sin(az), -np.cos(az)
    tan_e = np.tan(np.deg2rad(sun_elev_deg))
    shadow = np.zeros(elevation.shape, dtype=bool)
    max_steps = int(min(max(ny, nx), 3000.0 / resolution / max(tan_e, 0.05)))
    step = max(1, max_steps // 80)
    for s in range(step, max_steps + 1, step):
        dr, dc = round(drow * s), round(dcol * s)
        if abs(dr) >= ny or abs(dc) >= nx:
            break
        # compare each pixel with the terrain s pixels towards the sun (edges see open sky)
        dst = shadow[max(-dr, 0):ny - max(dr, 0), max(-dc, 0):nx - max(dc, 0)]
        near = elevation[max(-dr, 0):ny - max(dr, 0), max(-dc, 0):nx - max(dc, 0)]
        far = elevation[max(dr, 0):ny + min(dr, 0), max(dc, 0):nx + min(dc, 0)]
        dst |= far - near > s * resolution * tan_e
    return shadow


def solar_position(lat_deg: float, doy: int, hour_utc: float, lon_deg: float) -> tuple[float, float]:
    """Return (sun elevation, sun azimuth) in degrees for a date and time (NOAA low-precision formulas)."""
    gamma = 2 * np.pi / 365.0 * (doy - 1 + (hour_utc - 12) / 24)
    decl = (0.006918 - 0.399912 * np.cos(gamma) + 0.070257 * np.sin(gamma) - 0.006758 * np.cos(2 * gamma)
            + 0.000907 * np.sin(2 * gamma) - 0.002697 * np.cos(3 * gamma) + 0.00148 * np.sin(3 * gamma))
    solar_time = hour_utc + lon_deg / 15.0
    ha = np.deg2rad(15.0 * (solar_time - 12.0))
    lat = np.deg2rad(lat_deg)
    cos_zen = np.sin(lat) * np.sin(decl) + np.cos(lat) * np.cos(decl) * np.cos(ha)
    zen = np.arccos(np.clip(cos_zen, -1, 1))
    az = np.arctan2(np.sin(ha), np.cos(ha) * np.sin(lat) - np.tan(decl) * np.cos(lat)) + np.pi
    return float(90.0 - np.rad2deg(zen)), float(np.rad2deg(az) % 360.0)


def snow_line(doy: int, ela_m: float, rng: np.random.Generator) -> float:
    """Return the transient snow-line altitude for a day of year (NH): it climbs ~8 m/day to the ELA.

    About one date in eight follows a summer snowfall that pushes the line down by 300-600 m.
    """
    end_of_season = 265  # late September
    line = ela_m - 8.0 * max(end_of_season - doy, 0) + rng.normal(0, 60)
    if rng.random() < 0.125:
        line -= rng.uniform(300, 600)
    return float(line)


def paint_surfaces(
    elevation: np.ndarray,
    glacier: np.ndarray,
    debris: np.ndarray,
    snowline_m: float,
    patchiness: np.ndarray,
    *,
    treeline_m: float = 2100.0,
    grass_line_m: float = 2500.0,
) -> np.ndarray:
    """Return the Surface class of every pixel for one date.

    ``glacier`` and ``debris`` are boolean masks of the outlines; ``patchiness`` is smooth noise (unit std)
    that makes snow and vegetation limits ragged, as wind drift and aspect make them in nature.
    """
    s = np.full(elevation.shape, Surface.ROCK, dtype=np.uint8)
    s[elevation + 80 * patchiness < grass_line_m] = Surface.SPARSE_VEG
    s[elevation + 80 * patchiness < treeline_m] = Surface.DENSE_VEG
    s[elevation + 120 * patchiness > snowline_m + 150] = Surface.SEASONAL_SNOW
    on_ice = glacier & ~debris
    s[on_ice] = Surface.CLEAN_ICE
    s[on_ice & (elevation + 40 * patchiness > snowline_m)] = Surface.GLACIER_SNOW
    s[glacier & debris] = Surface.DEBRIS
    s[glacier & debris & (elevation + 40 * patchiness > snowline_m + 200)] = Surface.GLACIER_SNOW
    return s


def lookup(table: Mapping[Surface, tuple[float, ...]], surfaces: np.ndarray, index: int) -> np.ndarray:
    """Return per-pixel values of column ``index`` of a per-surface table."""
    lut = np.zeros(max(int(k) for k in table) + 1, dtype=np.float32)
    for k, v in table.items():
        lut[int(k)] = v[index]
    return lut[surfaces]
