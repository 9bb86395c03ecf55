"""Land surface temperature at a Landsat overpass (~10:00 local time), before the sensor sees it.

Model (numbers and sources in docs/simulator.md, ../shared/PHYSICS.md §4):

- snow-free ground: ``T = T_ref(season) − Γ (z − z_ref) + k_sun (direct − mean direct)`` with Γ = 6.5 K/km
  (standard atmosphere), ``T_ref`` = 293 K at ``z_ref`` = ELA − 500 m in mid-July and 269 K in mid-January,
  and k_sun = 10 K: sun-facing slopes are warmer than shaded ones at mid-morning; vegetation is 3-5 K cooler
  than bare rock at the same height.
- snow, firn and ice: melting surfaces sit at 273.15 K and never above; colder where the air is.
- supraglacial debris of thickness h over ice: ``T = T_ice + (T_ground − T_ice) · h / (h + 0.1 m)``, which
  gives 273-278 K under 2 cm, 278-288 K for 2-10 cm, 285-298 K for 10-50 cm and moraine-like values
  beyond (Foster 2012, Mihalcea 2008): the same debris is cooler on ice than on rock.
- rock glaciers 1.5 K below the surrounding ground (ice core under thick blocks); lakes 276 K; the sea
  276 K; ice mélange at the freezing point of sea water (271.3 K).
- clouds are cold: their tops are ~258 K (a cloud over the Greenland scene in PHYSICS.md §4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from glacierscale.simulate.physics import Surface
from glacierscale.simulate.surfaces import season_doy

if TYPE_CHECKING:
    from glacierscale.simulate.region import Region

LAPSE_K_PER_M = 0.0065
MELT_K = 273.15
SUN_K = 10.0
DEBRIS_H0_M = 0.1
CLOUD_TOP_K = 258.0
SNOW_ICE = (Surface.SEASONAL_SNOW, Surface.GLACIER_SNOW, Surface.CLEAN_ICE, Surface.FRESH_SNOW, Surface.DIRTY_ICE)


def reference_temperature(doy: int, lat: float) -> float:
    """Return the 10:00 surface temperature (K) of sunlit flat rock at ELA − 500 m on a date."""
    d = season_doy(doy, lat)
    return 281.0 + 12.0 * float(np.cos(2 * np.pi * (d - 200) / 365.0))


def surface_temperature(region: Region, surf: np.ndarray, year: int, doy: int, direct: np.ndarray,
                        rng: np.random.Generator) -> np.ndarray:
    """Return the surface temperature (K, float32) of every pixel for one date."""
    z = region.terrain.elevation
    t_ref = reference_temperature(doy, region.center_lat)
    ground = t_ref - LAPSE_K_PER_M * (z - (region.ela_m - 500.0)) + SUN_K * (direct - float(direct.mean()))
    ground = ground + rng.normal(0, 0.4, z.shape)  # surface heterogeneity at 10 m
    t = ground.copy()
    t[surf == Surface.SPARSE_VEG] -= 3.0
    t[surf == Surface.DENSE_VEG] -= 5.0
    t[surf == Surface.ROCK_GLACIER] -= 1.5
    ice_t = np.minimum(ground, MELT_K) - np.abs(rng.normal(0, 0.3, z.shape))
    snow_ice = np.isin(surf, SNOW_ICE)
    t[snow_ice] = ice_t[snow_ice]
    deb = surf == Surface.DEBRIS
    if region.debris_thickness is not None and deb.any():
        h = np.maximum(region.debris_thickness[deb], 0.005)
        t[deb] = ice_t[deb] + (ground[deb] - ice_t[deb]) * h / (h + DEBRIS_H0_M)
    t[surf == Surface.WATER] = np.maximum(276.0 + rng.normal(0, 0.5, int((surf == Surface.WATER).sum())), MELT_K)
    t[surf == Surface.OCEAN] = 276.0
    cover = region.melange.get(year)
    if cover is not None:
        mel = surf == Surface.MELANGE
        t[mel] = cover[mel] * 271.3 + (1 - cover[mel]) * 276.0
    return t.astype(np.float32)
