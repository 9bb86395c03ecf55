"""Full physics: what covers every pixel on a date, and the optical spectrum of the ground.

Seasonal snow lies above a date-dependent snow line on glacier and ground alike; the line climbs ~8 m a
day to the ELA at the end of the ablation season, drops ~15 m a day in autumn, and one date in eight
follows a summer snowfall that puts fresh snow 300-600 m lower (PHYSICS.md §5-6). Southern-hemisphere
seasons are shifted by half a year. Rock, moraine, debris and rock glaciers share the spectrum of the
local rock type (:data:`LITHOLOGY_REFLECTANCE`), so only their surroundings, their temperature and their
motion (coherence) tell debris-covered ice from moraine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from glacierscale.simulate.physics import (
    FIRN_REFLECTANCE,
    LITHOLOGY_REFLECTANCE,
    REFLECTANCE,
    ROCKLIKE,
    Surface,
    lookup,
)

if TYPE_CHECKING:
    from glacierscale.simulate.region import Region

END_OF_SEASON_DOY = 265  # late September (NH): the snow line is highest, close to the ELA
MELT_SEASON_DOY = (121, 280)  # May to early October: snow is wet in C-band
SNOW_FREE_SLOPE_DEG = 55.0  # steeper rock walls shed snow


def season_doy(doy: int, lat: float) -> int:
    """Return the day of year in northern-hemisphere season terms (southern dates shifted by 182 days)."""
    return doy if lat >= 0 else (doy + 182 - 1) % 365 + 1


def melting(doy: int, lat: float) -> bool:
    """Return whether snow and ice surfaces are wet (melt season) on this date."""
    d = season_doy(doy, lat)
    return MELT_SEASON_DOY[0] <= d <= MELT_SEASON_DOY[1]


def seasonal_snow_line(doy: int, ela_m: float, lat: float, rng: np.random.Generator) -> tuple[float, bool]:
    """Return (snow-line altitude in m, fresh snow?) for a date: climbs to the ELA, falls again in autumn."""
    d = season_doy(doy, lat)
    # climbs ~8 m a day to the end of the ablation season, then autumn snowfalls bring it down ~15 m a day
    line = ela_m - 8.0 * (END_OF_SEASON_DOY - d) if d <= END_OF_SEASON_DOY else ela_m - 15.0 * (d - END_OF_SEASON_DOY)
    line = max(line, ela_m - 2200.0) + rng.normal(0, 60)
    fresh = bool(rng.random() < 0.125)
    if fresh:
        line -= rng.uniform(300, 600)
    return float(line), fresh


def forefield(region: Region) -> np.ndarray | None:
    """Return the bare ground within ``spec.forefield_m`` of the glaciers' first outlines (None when 0).

    Glaciers reached their Little Ice Age maxima around 1850 and lost 35 % of their area by the 1970s and
    almost 50 % by 2000 (European Alps: Zemp et al. 2006, GRL 33); the ground they left (terminal and lateral
    moraines, outwash) is still mostly unvegetated, rock-coloured and gentle, in front of and beside every
    tongue, at the elevations where debris-covered tongues end. Without it, bare rock at tongue level would
    almost always be debris.
    """
    dist = region.spec.forefield_m
    if dist <= 0 or not region.masks:
        return None
    if region.bare_ground is None:
        from scipy import ndimage

        first = region.masks[min(region.masks)][0]
        px = abs(region.transform.a)
        reach = dist * (1.0 + 0.25 * np.clip(region.patchiness, -1.0, 1.0))  # 0.75-1.25 × the distance
        region.bare_ground = (ndimage.distance_transform_edt(~first) * px <= reach) & ~first
    return region.bare_ground


def paint_full(region: Region, year: int, snowline_m: float, fresh: bool) -> np.ndarray:
    """Return the Surface class of every pixel for one date (full physics)."""
    z, p = region.terrain.elevation, region.patchiness
    glacier, debris = region.masks[year]
    ela = region.ela_m
    s = np.full(z.shape, Surface.ROCK, dtype=np.uint8)
    # treeline and grass line follow the climate, i.e. the ELA (Alps: 2100 and 2500 m for an ELA of 3000 m)
    s[z + 80 * p < ela - 500] = Surface.SPARSE_VEG
    s[z + 80 * p < ela - 900] = Surface.DENSE_VEG
    bare = forefield(region)
    if bare is not None:  # moraines and outwash the glacier left since the Little Ice Age: no vegetation yet
        s[bare] = Surface.ROCK
    if region.rock_glaciers is not None:
        s[region.rock_glaciers] = Surface.ROCK_GLACIER
    snow_kind = Surface.FRESH_SNOW if fresh else Surface.SEASONAL_SNOW
    holds_snow = np.degrees(region.slope) < SNOW_FREE_SLOPE_DEG
    s[(z + 120 * p > snowline_m) & holds_snow] = snow_kind
    on_ice = glacier & ~debris
    s[on_ice] = Surface.CLEAN_ICE
    s[on_ice & (z + 60 * p < ela - 450)] = Surface.DIRTY_ICE  # the lowest part of the tongue
    s[glacier & debris] = Surface.DEBRIS
    s[glacier & (z + 40 * p > snowline_m)] = Surface.FRESH_SNOW if fresh else Surface.GLACIER_SNOW
    lake = region.lakes.get(year)
    if lake is not None:
        s[lake & ~glacier] = Surface.WATER
    sea = region.sea.get(year)
    if sea is not None:
        s[sea & ~glacier] = Surface.OCEAN
        s[sea & ~glacier & (region.melange[year] > 0.05)] = Surface.MELANGE
    return s


def ground_reflectance(region: Region, surf: np.ndarray, band: int, year: int) -> np.ndarray:
    """Return the surface reflectance of one band before illumination (full physics)."""
    base = lookup(REFLECTANCE, surf, band)
    if region.lithology is not None:
        rock = np.tensordot(LITHOLOGY_REFLECTANCE[:, band], region.lithology, axes=1)
        base = np.where(np.isin(surf, ROCKLIKE), rock, base)
    snow = surf == Surface.GLACIER_SNOW
    if snow.any():  # late summer: patches of firn show through the snow of the accumulation area (~10 %)
        firn = np.clip(0.10 + 0.10 * region.patchiness[snow], 0.0, 0.35)
        base[snow] = (1 - firn) * base[snow] + firn * FIRN_REFLECTANCE[band]
    if year in region.melange:
        mel = surf == Surface.MELANGE
        cover = region.melange[year][mel]
        base[mel] = cover * REFLECTANCE[Surface.MELANGE][band] + (1 - cover) * REFLECTANCE[Surface.OCEAN][band]
    return base.astype(np.float32)
