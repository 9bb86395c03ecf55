"""The simulated region: grid, terrain, glaciers and their yearly outlines and masks."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
from affine import Affine
from rasterio import features
from shapely.geometry.base import BaseGeometry

from glacierscale.simulate.glaciers import (
    GlacierModel,
    debris_zone_px,
    design_glaciers,
    glacier_outline_px,
    to_world,
)
from glacierscale.simulate.physics import smooth_noise
from glacierscale.simulate.terrain import Terrain, procedural_terrain, slope_aspect

TRUTH_NODATA = 255


def utm_epsg(lon: float, lat: float) -> int:
    """Return the EPSG code of the UTM zone containing (lon, lat)."""
    zone = int((lon + 180) // 6) % 60 + 1
    return (32600 if lat >= 0 else 32700) + zone


@dataclass(frozen=True)
class RegionSpec:
    """What to simulate: where, how big, which years, which seed."""

    center_lon: float = 10.78
    center_lat: float = 46.80
    size_px: int = 768
    resolution: float = 10.0
    years: tuple[int, ...] = (2021, 2022, 2023)
    seed: int = 7
    ela_m: float = 3000.0
    s2_per_year: int = 4
    s1_per_year: int = 2
    n_valleys: int = 4
    name: str = "sim"
    grid_m: float | None = None  # snap the region to this tile grid (e.g. a work-unit span)


@dataclass
class Region:
    """A built region: terrain, grid and per-year glacier geometry and masks."""

    spec: RegionSpec
    epsg: int
    transform: Affine
    terrain: Terrain
    glaciers: list[GlacierModel]
    outlines: dict[int, dict[str, BaseGeometry]]  # year -> glacier id -> world polygon
    debris: dict[int, dict[str, BaseGeometry]]  # year -> glacier id -> debris polygon (may be empty)
    slope: np.ndarray
    aspect: np.ndarray
    texture: np.ndarray
    patchiness: np.ndarray
    masks: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def crs(self) -> str:
        return f"EPSG:{self.epsg}"

    @property
    def shape(self) -> tuple[int, int]:
        return self.terrain.shape

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        h, w = self.shape
        left, top = self.transform.c, self.transform.f
        return (left, top + h * self.transform.e, left + w * self.transform.a, top)

    def truth_classes(self, year: int) -> np.ndarray:
        """Return the truth raster of a year: 0 background, 1 clean ice/snow, 2 debris-covered ice."""
        glacier, debris = self.masks[year]
        out = np.zeros(self.shape, dtype=np.uint8)
        out[glacier] = 1
        out[glacier & debris] = 2
        return out

    def outline_frame(self, year: int) -> gpd.GeoDataFrame:
        """Return the truth outlines of a year with clean and debris areas in km²."""
        rows = []
        for g in self.glaciers:
            geom = self.outlines[year][g.glacier_id]
            deb = self.debris[year][g.glacier_id]
            rows.append({
                "glacier_id": g.glacier_id, "year": year,
                "area_km2": geom.area / 1e6, "debris_km2": deb.area / 1e6,
                "terminus_type": g.terminus_type, "geometry": geom,
            })
        return gpd.GeoDataFrame(rows, geometry="geometry", crs=self.crs)


def build_region(spec: RegionSpec) -> Region:
    """Return the terrain, glaciers and yearly outlines/masks of ``spec`` (deterministic in the seed)."""
    rng = np.random.default_rng(spec.seed)
    epsg = utm_epsg(spec.center_lon, spec.center_lat)
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True).transform(
        spec.center_lon, spec.center_lat)
    half = spec.size_px * spec.resolution / 2
    if spec.grid_m:  # the region fills whole tiles of a work-unit grid
        left = round((x - half) / spec.grid_m) * spec.grid_m
        top = round((y + half) / spec.grid_m) * spec.grid_m
    else:  # 20 m bands must align with 10 m bands
        left = np.floor((x - half) / 20.0) * 20.0
        top = np.ceil((y + half) / 20.0) * 20.0
    transform = Affine(spec.resolution, 0, left, 0, -spec.resolution, top)
    # the massif reaches 600-700 m above the ELA, as accumulation areas do in the Alps
    terrain = procedural_terrain(spec.size_px, spec.resolution, rng, summit_m=spec.ela_m + 650,
                                 base_m=spec.ela_m - 1200, n_valleys=spec.n_valleys)
    glaciers = design_glaciers(terrain, rng, prefix=f"{spec.name.upper()}{spec.seed:03d}")
    slope, aspect = slope_aspect(terrain.elevation, spec.resolution)
    region = Region(
        spec=spec, epsg=epsg, transform=transform, terrain=terrain, glaciers=glaciers,
        outlines={}, debris={}, slope=slope, aspect=aspect,
        texture=smooth_noise(terrain.shape, rng, 2.0), patchiness=smooth_noise(terrain.shape, rng, 6.0),
    )
    y0 = spec.years[0]
    for year in spec.years:
        region.outlines[year], region.debris[year] = {}, {}
        for g in glaciers:
            axis = terrain.valleys[g.valley]
            outline = to_world(glacier_outline_px(g, axis, year - y0), transform)
            zone = debris_zone_px(g, axis)
            deb = outline.intersection(to_world(zone, transform)) if zone is not None else outline.buffer(0).difference(outline)
            region.outlines[year][g.glacier_id] = outline
            region.debris[year][g.glacier_id] = deb
        region.masks[year] = (_rasterize(region.outlines[year].values(), region),
                              _rasterize(region.debris[year].values(), region))
    return region


def _rasterize(geoms: object, region: Region) -> np.ndarray:
    shapes = [(g, 1) for g in geoms if not g.is_empty]  # type: ignore[attr-defined]
    if not shapes:
        return np.zeros(region.shape, dtype=bool)
    return features.rasterize(shapes, out_shape=region.shape, transform=region.transform, fill=0,
                              dtype="uint8").astype(bool)
