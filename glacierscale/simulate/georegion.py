"""A region from real inputs: a DEM (any CRS) and/or real glacier outlines, on a 10 m UTM grid.

- DEM + outlines: the DEM is resampled (cubic) onto the grid; outlines are the first year (an inventory
  that the retreat model shrinks) or every year (a multi-date file or ``YEAR=FILE`` replay).
- outlines only: terrain is generated to fit them (:func:`glacierscale.simulate.fitted.fit_terrain`).
- DEM only: glaciers are grown on it for the ELA (:func:`glacierscale.simulate.fitted.grow_glaciers`).

The window is ``spec.bbox`` or the outlines' extent plus 1 km (the DEM's extent without outlines), at most
``spec.max_size_km`` a side around its centre.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import shapely
from affine import Affine
from pyproj import Transformer
from rasterio.warp import Resampling, reproject

from glacierscale.errors import InputError
from glacierscale.simulate import attributes, fitted
from glacierscale.simulate import landscape as ls
from glacierscale.simulate.inputs import DemSource, OutlineSource, load_outlines, open_dem, polygonal
from glacierscale.simulate.physics import smooth_noise
from glacierscale.simulate.region import GlacierInfo, Region, RegionSpec, grid_epsg, square_bbox
from glacierscale.simulate.terrain import Terrain, slope_aspect

log = logging.getLogger(__name__)
MARGIN_M = 1000.0
DEFAULT_YEARS = (2021, 2022, 2023)
RETREAT_PCT_PER_YEAR = (0.6, 1.6)  # share of the first area lost per year, from the terminus up


def _extent(bounds: tuple[float, float, float, float]) -> str:
    w, s, e, n = bounds
    return f"{w:.3f}–{e:.3f} E, {s:.3f}–{n:.3f} N"


def _window(spec: RegionSpec, source: OutlineSource | None, dem: DemSource | None) -> shapely.Polygon:
    """Return the WGS84 area to simulate and check that the inputs overlap it and each other."""
    union = shapely.union_all([f.union_all() for f in source.by_year.values()]) if source else None
    if dem is not None and union is not None and not dem.footprint.intersects(union):
        raise InputError(f"DEM {dem.path} and outlines {source.names} do not overlap: the DEM covers "  # type: ignore[union-attr]
                         f"{_extent(dem.footprint.bounds)}, the outlines {_extent(union.bounds)}")
    if spec.bbox is not None or spec.window_m:
        window = shapely.box(*(spec.bbox or square_bbox(spec.center_lon, spec.center_lat, float(spec.window_m or 0))))
        if dem is not None and not dem.footprint.intersects(window):
            raise InputError(f"DEM {dem.path} does not cover the window {_extent(window.bounds)} "
                             f"(it covers {_extent(dem.footprint.bounds)})")
        if union is not None and not union.intersects(window):
            raise InputError(f"outlines {source.names} lie outside the window {_extent(window.bounds)} "  # type: ignore[union-attr]
                             f"(they cover {_extent(union.bounds)})")
        return window
    if union is not None:
        return shapely.box(*union.bounds)
    assert dem is not None
    return dem.footprint


def _grid(spec: RegionSpec, window: shapely.Polygon, dem: DemSource | None, pad: bool) -> tuple[int, Affine, tuple[int, int]]:
    """Return EPSG, transform and shape of the 10 m grid over the window (snapped to 20 m or ``grid_m``)."""
    lon, lat = (spec.center_lon, spec.center_lat) if spec.window_m else (window.centroid.x, window.centroid.y)
    epsg = grid_epsg(lon, lat)
    to_utm = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
    area = shapely.transform(window.segmentize(0.01), to_utm.transform, interleaved=False)
    if pad:
        area = area.buffer(MARGIN_M, join_style="mitre")
    if dem is not None:
        footprint = shapely.transform(dem.footprint.segmentize(0.01), to_utm.transform, interleaved=False)
        area = area.intersection(footprint) if area.intersects(footprint) else area
    left, bottom, right, top = area.bounds
    if spec.window_m:  # an exact square in the grid CRS
        x, y = to_utm.transform(spec.center_lon, spec.center_lat)
        left, right, bottom, top = x - spec.window_m / 2, x + spec.window_m / 2, y - spec.window_m / 2, y + spec.window_m / 2
    cx, cy, half = (left + right) / 2, (bottom + top) / 2, spec.max_size_km * 500.0
    if right - left > 2 * half or top - bottom > 2 * half:
        log.warning("window %.1f × %.1f km cut to %.0f km around its centre", (right - left) / 1e3, (top - bottom) / 1e3,
                    spec.max_size_km)
        left, right = max(left, cx - half), min(right, cx + half)
        bottom, top = max(bottom, cy - half), min(top, cy + half)
    step = spec.grid_m or 20.0
    left, top = np.floor(left / step) * step, np.ceil(top / step) * step
    right, bottom = np.ceil(right / step) * step, np.floor(bottom / step) * step
    if spec.window_m:
        side = np.ceil(spec.window_m / step) * step
        right, bottom = left + side, top - side
    shape = (round(float(top - bottom) / spec.resolution), round(float(right - left) / spec.resolution))
    return epsg, Affine(spec.resolution, 0, float(left), 0, -spec.resolution, float(top)), shape


def _read_dem(dem: DemSource, epsg: int, transform: Affine, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Return (elevation with gaps filled by the nearest value, valid mask) resampled onto the grid."""
    import rasterio
    from scipy import ndimage

    out = np.full(shape, np.nan, dtype=np.float32)
    with rasterio.open(dem.path) as src:
        reproject(rasterio.band(src, 1), out, dst_transform=transform, dst_crs=f"EPSG:{epsg}",
                  resampling=Resampling.cubic, src_nodata=src.nodata, dst_nodata=np.nan)
    valid = np.isfinite(out) & (out > -500)
    if valid.mean() < 0.01:
        raise InputError(f"DEM {dem.path}: has no data over the simulated window")
    _, (ir, ic) = ndimage.distance_transform_edt(~valid, return_indices=True)
    return out[ir, ic].astype(np.float32), valid


def _to_grid(source: OutlineSource, year: int, epsg: int, box: shapely.Polygon) -> dict[str, shapely.Geometry]:
    """Return {glacier id: outline} of one year in the grid CRS, clipped to the region."""
    frame = source.by_year[year].to_crs(epsg)
    out = {}
    for gid, geom in zip(frame["glacier_id"], frame.geometry, strict=True):
        clipped = shapely.make_valid(geom).intersection(box)
        if not clipped.is_empty and clipped.area > 0:
            out[str(gid)] = clipped
    return out


@dataclass
class _FirstOutlines:
    """The first year's glaciers in the grid CRS and what the inventory says about them."""

    outlines: dict[str, shapely.Geometry] = field(default_factory=dict)
    terminus: dict[str, str] = field(default_factory=dict)
    src_date: dict[str, str] = field(default_factory=dict)
    zmed: dict[str, float] = field(default_factory=dict)
    zrange: dict[str, tuple[float, float]] = field(default_factory=dict)
    ice_cap: dict[str, bool] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return sorted(self.outlines)


def _from_inventory(source: OutlineSource, year: int, epsg: int, box: shapely.Polygon) -> _FirstOutlines:
    first = _FirstOutlines(outlines=_to_grid(source, year, epsg, box))
    if not first.outlines:
        raise InputError(f"outlines {source.names}: none of them lies inside the simulated window")
    frame = source.by_year[year]
    for g in first.ids:
        rows = frame[frame["glacier_id"] == g]
        first.terminus[g] = str(rows["terminus_type"].iloc[0])
        first.src_date[g] = str(rows["src_date"].iloc[0])
        first.zmed[g] = float(rows["zmed"].iloc[0])
        first.zrange[g] = (float(rows["zmin"].min()), float(rows["zmax"].max()))
        first.ice_cap[g] = bool(rows["ice_cap"].iloc[0])
    return first


def _grown(spec: RegionSpec, z: np.ndarray, slope: np.ndarray, valid: np.ndarray, ela: float,
           transform: Affine) -> _FirstOutlines:
    labels = fitted.grow_glaciers(z, slope, valid, ela, spec.resolution)
    ids = [f"{spec.name.upper()}{spec.seed:03d}-{k:02d}" for k in range(1, int(labels.max()) + 1)]
    return _FirstOutlines(outlines={g: ls.polygonize(labels == k, transform) for k, g in enumerate(ids, start=1)})


def build_geo_region(spec: RegionSpec) -> Region:
    """Return a full-physics region over a real DEM and/or real outlines (deterministic in the seed)."""
    rng = np.random.default_rng(spec.seed)
    source = load_outlines(spec.outlines, spec.years) if spec.outlines else None
    dem = open_dem(spec.dem) if spec.dem else None
    window = _window(spec, source, dem)
    epsg, transform, shape = _grid(spec, window, dem, pad=spec.bbox is None and not spec.window_m and source is not None)
    box = shapely.box(transform.c, transform.f + shape[0] * transform.e, transform.c + shape[1] * transform.a, transform.f)
    replay = source is not None and source.replay
    years = tuple(sorted(source.by_year)) if source is not None and replay else (tuple(spec.years) or DEFAULT_YEARS)
    first = _from_inventory(source, min(source.by_year), epsg, box) if source is not None else _FirstOutlines()
    if dem is not None:
        elevation, valid = _read_dem(dem, epsg, transform, shape)
    else:
        id_ras = ls.id_raster(first.outlines, first.ids, shape, transform)
        elevation = fitted.fit_terrain(id_ras, [first.zrange[g] for g in first.ids], spec.ela_m, spec.resolution, rng,
                                       headwalls=[spec.headwalls and not first.ice_cap[g] for g in first.ids])
        valid = np.ones(shape, dtype=bool)
    slope, aspect = slope_aspect(elevation, spec.resolution)
    if source is None:  # glaciers grown on the DEM for the ELA
        ela = spec.ela_m if not spec.ela_from_inputs else float(np.quantile(elevation[valid], 0.7))
        first = _grown(spec, elevation, slope, valid, ela, transform)
    else:
        ela = _region_ela(spec, elevation, valid, first.outlines, first.zmed, transform)
    region = Region(
        spec=spec, epsg=epsg, transform=transform, terrain=Terrain(elevation, [], spec.resolution),
        glaciers=[], outlines={}, debris={}, slope=slope, aspect=aspect,
        texture=smooth_noise(shape, rng, 2.0), patchiness=smooth_noise(shape, rng, 6.0),
        ela_m=ela, center_lon=float(window.centroid.x), center_lat=float(window.centroid.y), years=years, valid=valid,
        physics="full",
    )
    ids = first.ids
    if source is not None and replay:
        per_year = {year: _to_grid(source, year, epsg, box) for year in years}
        ids = sorted({g for mine in per_year.values() for g in mine})
        region.outlines = {year: {g: mine.get(g, shapely.Polygon()) for g in ids} for year, mine in per_year.items()}
    else:
        _retreat(region, first.outlines, ids, rng)
    infos = [GlacierInfo(glacier_id=g, terminus_type=first.terminus.get(g, "land"), src_date=first.src_date.get(g, ""),
                         ela_m=first.zmed.get(g, float("nan"))) for g in ids]
    attributes.finish(region, infos, rng)
    return region


def _region_ela(spec: RegionSpec, z: np.ndarray, valid: np.ndarray, outlines: dict[str, shapely.Geometry],
                zmed: dict[str, float], transform: Affine) -> float:
    """Return the region's ELA: the area-weighted inventory Zmed of its glaciers, else their median elevation."""
    if not spec.ela_from_inputs:
        return spec.ela_m
    ids = sorted(outlines)
    known = [g for g in ids if np.isfinite(zmed[g])]
    if known and len(known) == len(ids):  # whole-glacier medians: right even where the window cuts a glacier
        areas = np.array([outlines[g].area for g in known])
        return float(np.sum(areas * np.array([zmed[g] for g in known])) / areas.sum())
    on_ice = (ls.id_raster(outlines, ids, z.shape, transform) > 0) & valid
    return float(np.median(z[on_ice])) if on_ice.any() else spec.ela_m


def _retreat(region: Region, outlines0: dict[str, shapely.Geometry], ids: list[str], rng: np.random.Generator) -> None:
    """Fill the yearly outlines: the first year as given, then each glacier shrinks from its terminus up."""
    z = region.terrain.elevation
    first = ls.id_raster(outlines0, ids, region.shape, region.transform)
    rates = rng.uniform(*RETREAT_PCT_PER_YEAR, size=len(ids)) / 100.0
    y0 = region.years[0]
    for year in region.years:
        region.outlines[year] = {}
        for i, g in enumerate(ids):
            mask0 = first == i + 1
            lost = 1.0 - (1.0 - rates[i]) ** (year - y0)
            cut = ls.retreat_cut(mask0, z, lost)
            geom = outlines0[g] if not cut.any() else outlines0[g].difference(ls.cut_polygon(cut, mask0, region.transform))
            region.outlines[year][g] = polygonal(geom)
