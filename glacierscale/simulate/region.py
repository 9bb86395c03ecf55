"""The simulated region: grid, terrain, glaciers and their yearly outlines and masks.

A region is procedural (terrain and valley glaciers grown from the seed) or built from real inputs (a DEM
and/or glacier outlines, :mod:`glacierscale.simulate.georegion`). ``physics="classic"`` reproduces the
scenes the shipped checkpoint was trained on byte for byte; ``physics="full"`` adds lithology, rock
glaciers, proglacial lakes, seasonal snow on any date and the glacier attributes of real inventories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import geopandas as gpd
import numpy as np
from affine import Affine
from rasterio import features
from shapely.geometry.base import BaseGeometry

from glacierscale.simulate.cloudclimate import CLOUD_CLIMATES, CloudClimate, cloud_climate
from glacierscale.simulate.glaciers import (
    debris_zone_px,
    design_glaciers,
    glacier_outline_px,
    ice_surface,
    to_world,
)
from glacierscale.simulate.physics import smooth_noise
from glacierscale.simulate.revisit import REVISITS
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
    # --- added with the real-terrain simulator; the defaults keep the procedural scenes unchanged ---
    physics: str = "classic"  # "classic" (what the shipped checkpoint saw) or "full"; real inputs use "full"
    dem: str | None = None  # real DEM raster (any CRS)
    outlines: tuple[str, ...] = ()  # "FILE" (inventory or multi-date file) or "YEAR=FILE" per year
    bbox: tuple[float, float, float, float] | None = None  # WGS84 window over real inputs; None fits them
    window_m: float | None = None  # real inputs: a square of this side around center_lon/center_lat instead
    dates: tuple[str, ...] = ()  # "MM-DD" acquisition dates used every year by every sensor
    landsat_per_year: int = 2
    s2_naming: str = "earth-search"  # or "planetary-computer" (B02 ... SCL asset keys)
    debris_share: float = 0.3  # share of an eligible tongue's ablation area under debris, from the terminus up
    debris_min_area_km2: float = 1.0  # debris only on glaciers at least this large ...
    debris_max_slope_deg: float = 15.0  # ... whose ablation zone is at most this steep (median slope)
    debris_probability: float = 1.0  # ... and of those, this share (drawn per glacier): in nature large, flat
    # tongues are debris-covered in some ranges (Karakoram, Everest) and clean in others (Rockies, Alps), so a
    # model must not learn "the low end of every big valley glacier is debris" (docs/simulator.md)
    ela_from_inputs: bool = True  # real inputs: ELA = area-median glacier elevation (DEM only: its 70th
    # percentile) instead of ela_m
    max_size_km: float = 30.0  # a window fitted to real inputs is cut to this size around its centre
    revisit: str = "fixed"  # "fixed": s2/s1/landsat_per_year scenes a year; "real": what the satellites in orbit
    # that season deliver (simulate/revisit.py: e.g. no Sentinel before 2015, Sentinel-1A alone 2022-2024)
    cloud_climate: str = "mountain"  # per-scene cloud fraction of the optical and thermal scenes (full physics):
    # "mountain" (mean 0.45, the historical draw), "maritime" (0.62), "continental" (0.21) or "auto" (from the
    # centre's lat/lon; simulate/cloudclimate.py)
    forefield_m: float = 0.0  # full physics: bare, unvegetated ground (moraines, outwash) this far around each
    # glacier's first outline, where vegetation has not returned since the Little Ice Age; 0 = none
    marine: bool = False  # full physics, procedural: the lowest glacier calves into a fjord (simulate/fjord.py);
    # the terrain and the ELA are lowered until its terminus stands at the sea
    headwalls: bool = False  # terrain fitted to outlines: glacier heads climb a headwall (simulate/fitted.py)

    @property
    def real(self) -> bool:
        """Whether the region comes from a real DEM or real outlines."""
        return bool(self.dem or self.outlines)


class GlacierRecord(Protocol):
    """What the writers need to know about a glacier (procedural :class:`GlacierModel` or a real one)."""

    @property
    def glacier_id(self) -> str: ...

    @property
    def terminus_type(self) -> str: ...

    @property
    def debris_covered(self) -> bool: ...


@dataclass(frozen=True)
class GlacierInfo:
    """A glacier of a real inventory (or grown on a real DEM) and its physical attributes."""

    glacier_id: str
    terminus_type: str = "land"  # land, lake or marine
    debris_covered: bool = False
    ela_m: float = float("nan")  # area-median elevation of the first outline
    src_date: str = ""


@dataclass
class Region:
    """A built region: terrain, grid and per-year glacier geometry and masks."""

    spec: RegionSpec
    epsg: int
    transform: Affine
    terrain: Terrain
    glaciers: Sequence[GlacierRecord]
    outlines: dict[int, dict[str, BaseGeometry]]  # year -> glacier id -> world polygon
    debris: dict[int, dict[str, BaseGeometry]]  # year -> glacier id -> debris polygon (may be empty)
    slope: np.ndarray
    aspect: np.ndarray
    texture: np.ndarray
    patchiness: np.ndarray
    masks: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    ela_m: float = 3000.0
    center_lon: float = 10.78
    center_lat: float = 46.80
    years: tuple[int, ...] = ()
    valid: np.ndarray | None = None  # False where the DEM has no data (all True when None)
    physics: str = "classic"
    lakes: dict[int, np.ndarray] = field(default_factory=dict)  # year -> proglacial lake mask
    sea: dict[int, np.ndarray] = field(default_factory=dict)  # year -> sea (incl. the basin marine ice vacated)
    melange: dict[int, np.ndarray] = field(default_factory=dict)  # year -> 0..1 ice-mélange cover of the sea
    fronts: dict[int, dict[str, BaseGeometry]] = field(default_factory=dict)  # calving fronts (lines)
    debris_thickness: np.ndarray | None = None  # m, > 0 on the debris zone
    lithology: np.ndarray | None = None  # (3, y, x) weights of the rock types (full physics)
    rock_glaciers: np.ndarray | None = None  # active rock glaciers (full physics; background class)
    bare_ground: np.ndarray | None = None  # the unvegetated forefield (spec.forefield_m; simulate/surfaces.py)

    @property
    def crs(self) -> str:
        return f"EPSG:{self.epsg}"

    @property
    def cloud_climate(self) -> CloudClimate:
        """Return the cloud climate of the optical and thermal scenes ("auto" resolved at the region's centre)."""
        return cloud_climate(self.spec.cloud_climate, self.center_lon, self.center_lat)

    @property
    def shape(self) -> tuple[int, int]:
        return self.terrain.shape

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        h, w = self.shape
        left, top = self.transform.c, self.transform.f
        return (left, top + h * self.transform.e, left + w * self.transform.a, top)

    def water(self, year: int) -> np.ndarray:
        """Return the open water of a year off the glaciers: proglacial lakes and the sea (ice mélange included)."""
        out = np.zeros(self.shape, dtype=bool)
        for layer in (self.lakes, self.sea):
            if year in layer:
                out |= layer[year]
        return out & ~self.masks[year][0]

    def truth_classes(self, year: int) -> np.ndarray:
        """Return the truth raster of a year: 0 background, 1 clean ice/snow, 2 debris-covered ice, 3 water
        (lakes, sea, mélange), 255 no data."""
        glacier, debris = self.masks[year]
        out = np.zeros(self.shape, dtype=np.uint8)
        out[self.water(year)] = 3
        out[glacier] = 1
        out[glacier & debris] = 2
        if self.valid is not None:
            out[~self.valid] = TRUTH_NODATA
        return out

    def outline_frame(self, year: int) -> gpd.GeoDataFrame:
        """Return the truth outlines of a year with clean and debris areas in km² (glaciers gone are left out)."""
        rows = []
        for g in self.glaciers:
            geom = self.outlines[year][g.glacier_id]
            if geom.is_empty:
                continue
            deb = self.debris[year][g.glacier_id]
            rows.append({
                "glacier_id": g.glacier_id, "year": year,
                "area_km2": geom.area / 1e6, "debris_km2": deb.area / 1e6,
                "terminus_type": g.terminus_type, "geometry": geom,
            })
        return gpd.GeoDataFrame(rows, geometry="geometry", crs=self.crs)


def square_bbox(lon: float, lat: float, size_m: float) -> tuple[float, float, float, float]:
    """Return the WGS84 bounds (W, S, E, N) of a ``size_m`` square centred on (lon, lat) in its grid CRS."""
    from pyproj import Transformer

    epsg = grid_epsg(lon, lat)
    fwd = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    back = Transformer.from_crs(f"EPSG:{epsg}", "EPSG:4326", always_xy=True)
    x, y = fwd.transform(lon, lat)
    # inset by a metre so the UTM square of the window is exactly size_m after snapping to 20 m
    xs, ys = back.transform([x - size_m / 2 + 1, x + size_m / 2 - 1], [y - size_m / 2 + 1, y + size_m / 2 - 1])
    return (min(xs), min(ys), max(xs), max(ys))


def grid_epsg(lon: float, lat: float) -> int:
    """Return the EPSG code of the region grid: UTM, or polar stereographic beyond 84° N / 80° S."""
    if lat > 84:
        return 3413
    if lat < -80:
        return 3031
    return utm_epsg(lon, lat)


# why a classic procedural region cannot take a debris probability below 1 (the simulator, its CLI and training
# configs refuse it with this reason, each naming its own option)
CLASSIC_DEBRIS = "a classic region gives its longest glacier a debris-covered tongue whatever the probability"


def ignores_debris_probability(physics: str, debris_probability: float, real: bool) -> bool:
    """Return whether a region of ``physics`` would silently ignore ``debris_probability`` (classic, procedural)."""
    return physics == "classic" and debris_probability < 1.0 and not real


def build_region(spec: RegionSpec) -> Region:
    """Return the terrain, glaciers and yearly outlines/masks of ``spec`` (deterministic in the seed)."""
    if spec.physics not in ("classic", "full"):
        raise ValueError(f"RegionSpec.physics must be 'classic' or 'full', got {spec.physics!r}")
    if spec.revisit not in REVISITS:
        from glacierscale.errors import ConfigError

        raise ConfigError(f"RegionSpec.revisit must be {' or '.join(map(repr, REVISITS))}, got {spec.revisit!r}")
    if spec.cloud_climate not in CLOUD_CLIMATES:
        from glacierscale.errors import ConfigError

        raise ConfigError(f"RegionSpec.cloud_climate must be one of {', '.join(map(repr, CLOUD_CLIMATES))}, "
                          f"got {spec.cloud_climate!r}")
    if spec.cloud_climate != "mountain" and spec.physics == "classic" and not spec.real:
        from glacierscale.errors import ConfigError

        raise ConfigError(f"RegionSpec.cloud_climate {spec.cloud_climate!r} needs physics='full': classic physics "
                          "keeps the clouds the shipped checkpoint was trained on")
    if spec.marine and (spec.physics != "full" or spec.real):
        from glacierscale.errors import ConfigError

        raise ConfigError("RegionSpec.marine needs physics='full' and a procedural region (a real region's "
                          "terminus types come from its outlines)")
    if ignores_debris_probability(spec.physics, spec.debris_probability, spec.real):
        from glacierscale.errors import ConfigError

        raise ConfigError(f"RegionSpec.debris_probability {spec.debris_probability:g} needs physics='full': "
                          f"{CLASSIC_DEBRIS}")
    if spec.real:
        from glacierscale.simulate.georegion import build_geo_region

        return build_geo_region(spec)
    full = spec.physics == "full"
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
    # (full physics: a gentler massif, so that ~3 km glaciers have the 10-15° tongues of real ones)
    summit, base = (spec.ela_m + 500, spec.ela_m - 800) if full else (spec.ela_m + 650, spec.ela_m - 1200)
    # (full physics: metre-scale roughness is added later, the same on rock, moraine and debris)
    terrain = procedural_terrain(spec.size_px, spec.resolution, rng, summit_m=summit, base_m=base,
                                 n_valleys=spec.n_valleys, fine_relief_m=0.0 if full else 25.0)
    glaciers = design_glaciers(terrain, rng, prefix=f"{spec.name.upper()}{spec.seed:03d}", n_debris=0 if full else 1)
    if full:  # ice fills the valleys: smooth, concave glacier surfaces with flat tongues
        terrain = Terrain(ice_surface(terrain.elevation, glaciers, terrain.valleys), terrain.valleys, terrain.resolution)
    marine, ela = -1, spec.ela_m
    if spec.marine:
        from glacierscale.simulate.fjord import sink_to_sea

        terrain, marine, lowered = sink_to_sea(terrain, glaciers)
        ela -= lowered
    slope, aspect = slope_aspect(terrain.elevation, spec.resolution)
    years = tuple(spec.years) or (2021, 2022, 2023)
    region = Region(
        spec=spec, epsg=epsg, transform=transform, terrain=terrain, glaciers=glaciers,
        outlines={}, debris={}, slope=slope, aspect=aspect,
        texture=smooth_noise(terrain.shape, rng, 2.0), patchiness=smooth_noise(terrain.shape, rng, 6.0),
        ela_m=ela, center_lon=spec.center_lon, center_lat=spec.center_lat, years=years, physics=spec.physics,
    )
    y0 = years[0]
    for year in years:
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
    # everything below draws from its own generator, so the classic scenes stay byte for byte what they were
    extra = np.random.default_rng([spec.seed, 1])
    if full:
        from glacierscale.simulate.attributes import finish

        # the glacier with the second-largest first outline ends in a proglacial lake (unless it calves into the sea)
        areas = sorted(((region.outlines[y0][g.glacier_id].area, k) for k, g in enumerate(glaciers) if k != marine),
                       reverse=True)
        lake = areas[1][1] if len(areas) >= 3 - (marine >= 0) else -1
        kinds = {lake: "lake", marine: "marine"}
        finish(region, [GlacierInfo(g.glacier_id, kinds.get(k, "land")) for k, g in enumerate(glaciers)], extra)
    else:
        from glacierscale.simulate.attributes import classic_debris_thickness

        region.debris_thickness = classic_debris_thickness(region, extra)
    return region


def _rasterize(geoms: object, region: Region) -> np.ndarray:
    shapes = [(g, 1) for g in geoms if not g.is_empty]  # type: ignore[attr-defined]
    if not shapes:
        return np.zeros(region.shape, dtype=bool)
    return features.rasterize(shapes, out_shape=region.shape, transform=region.transform, fill=0,
                              dtype="uint8").astype(bool)
