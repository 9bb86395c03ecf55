"""Give a region's glaciers their physical attributes and build the landscape the sensors see.

Called once the yearly outlines exist (procedural, replayed or retreated): debris zones and thickness,
per-year debris polygons and masks, lakes, sea and ice mélange in front of calving glaciers, calving fronts,
rock types and rock glaciers. The rules are in :mod:`glacierscale.simulate.landscape`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import shapely
from scipy import ndimage

from glacierscale.simulate import landscape as ls

if TYPE_CHECKING:
    from glacierscale.simulate.region import GlacierInfo, Region

SEA_LEVEL_M = 0.5


def rasterize(geoms: list, region: Region) -> np.ndarray:
    """Return a boolean mask of the pixel centres covered by ``geoms`` on the region grid."""
    from rasterio import features

    shapes = [(g, 1) for g in geoms if not g.is_empty]
    if not shapes:
        return np.zeros(region.shape, dtype=bool)
    return features.rasterize(shapes, out_shape=region.shape, transform=region.transform, fill=0,
                              dtype="uint8").astype(bool)


def classic_debris_thickness(region: Region, rng: np.random.Generator) -> np.ndarray:
    """Return debris thickness over the first year's debris zones (classic regions, for the thermal band)."""
    _, debris = region.masks[region.years[0]]
    labels, n = ndimage.label(debris)
    out = np.zeros(region.shape, dtype=np.float32)
    for k in range(1, n + 1):
        zone = labels == k
        out += ls.debris_thickness(zone, region.terrain.elevation, rng)
    return out


def finish(region: Region, infos: list[GlacierInfo], rng: np.random.Generator) -> None:
    """Assign debris, water, fronts, rock types and rock glaciers to a full-physics region (in place)."""
    spec, z = region.spec, region.terrain.elevation
    res = spec.resolution
    y0 = region.years[0]
    ids = [g.glacier_id for g in infos]
    first = ls.id_raster(region.outlines[y0], ids, region.shape, region.transform)
    glacier_any = first > 0
    thickness = np.zeros(region.shape, dtype=np.float32)
    debris_any = np.zeros(region.shape, dtype=bool)
    zones: dict[str, shapely.Geometry] = {}
    lake_zone = np.zeros(region.shape, dtype=bool)
    marine_zone = np.zeros(region.shape, dtype=bool)
    glaciers = []
    for i, info in enumerate(infos, start=1):
        mask0 = first == i
        ela = info.ela_m if np.isfinite(info.ela_m) else ls.glacier_ela(z[mask0])
        zone = ls.debris_zone(mask0, z, region.slope, ela_m=ela, share=spec.debris_share,
                              min_area_km2=spec.debris_min_area_km2, max_slope_deg=spec.debris_max_slope_deg,
                              pixel_km2=res * res / 1e6)
        if zone is not None and spec.debris_probability < 1.0 and rng.random() >= spec.debris_probability:
            zone = None  # an eligible tongue that stays clean (no draw at 1.0: older regions are unchanged)
        if zone is not None:
            zones[info.glacier_id] = ls.cut_polygon(zone, mask0, region.transform)
            thickness += ls.debris_thickness(zone, z, rng)
            debris_any |= zone
        if info.terminus_type == "lake":
            lake_zone |= ls.lake_zone(mask0, z, res)
        elif info.terminus_type == "marine":
            marine_zone |= mask0
        glaciers.append(replace(info, debris_covered=zone is not None, ela_m=ela))
    region.glaciers = glaciers
    region.debris_thickness = thickness
    # the ground is rough below the DEM's resolution; clean ice and snow are smoother, water is flat
    from glacierscale.simulate.terrain import Terrain, slope_aspect

    # debris-covered ice is hummocky (mounds, ice cliffs, pond hollows): rougher than the moraine around
    factor = np.where(glacier_any & ~debris_any, 0.3, np.where(debris_any, 1.8, 1.0))
    factor = factor * ~(lake_zone | (z <= SEA_LEVEL_M))  # the sea (0 m in DEMs) stays at sea level
    z = z + ls.roughness(region.shape, res, rng) * factor.astype(np.float32)
    region.terrain = Terrain(z, region.terrain.valleys, region.terrain.resolution)
    region.slope, region.aspect = slope_aspect(z, res)
    valid = region.valid if region.valid is not None else np.ones(region.shape, bool)
    static_sea = valid & (z <= SEA_LEVEL_M) & ~glacier_any if marine_zone.any() else None
    for year in region.years:
        region.debris[year] = {g: (region.outlines[year][g].intersection(zones[g]) if g in zones else shapely.Polygon())
                               for g in ids}
        glacier = rasterize(list(region.outlines[year].values()), region)
        region.masks[year] = (glacier, rasterize(list(region.debris[year].values()), region) & glacier)
        water = np.zeros(region.shape, dtype=bool)
        if lake_zone.any():
            region.lakes[year] = lake_zone & ~glacier
            water |= region.lakes[year]
        if static_sea is not None:
            sea = static_sea | (marine_zone & ~glacier & valid)
            region.sea[year] = sea
            water |= sea
        region.fronts[year] = {}
        for g in glaciers:
            if g.terminus_type != "land" and water.any():
                front = ls.calving_front(region.outlines[year][g.glacier_id], water, region.transform)
                if not front.is_empty:
                    region.fronts[year][g.glacier_id] = front
        if year in region.sea:
            front_px = rasterize([f.buffer(res) for f in region.fronts[year].values()], region)
            region.melange[year] = ls.melange_cover(region.sea[year], front_px, res, rng)
    region.lithology = ls.lithology(region.shape, res, rng)
    region.rock_glaciers = ls.rock_glaciers(z, region.slope, region.aspect, region.ela_m,
                                            glacier_any | lake_zone | marine_zone, res, rng)
