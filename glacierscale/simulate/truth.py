"""Truth written with every scene set: class rasters per year on each sensor grid, outlines, calving fronts.

Class rasters: 0 background, 1 clean ice/snow on glacier, 2 debris-covered ice, 3 open water off the glaciers
(proglacial lakes, the sea with its ice mélange), 255 no data (outside the DEM's data or the region). Glacier
classes are the direct rasterisation (pixel centres) of the truth outlines; water is the simulator's lake and
sea mask (majority on coarser grids):

- ``truth/truth_classes_{year}.tif``: the 10 m Sentinel-2 grid (also the Sentinel-1 RTC grid; a copy is
  written as ``truth_classes_{year}_s1.tif`` when Sentinel-1 is simulated);
- ``truth/truth_classes_{year}_landsat.tif``: the 30 m Landsat grid;
- ``truth/truth_classes_{year}_dem.tif``: the 1″ Copernicus DEM grid (EPSG:4326).

``truth/truth_outlines.gpkg`` (glacier_id, year, area_km2, debris_km2, terminus_type) and
``truth/truth_calving_fronts.gpkg`` (glacier_id, year, terminus_type, length_m; lines) for lake- and
marine-terminating glaciers.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from pyproj import Transformer
from rasterio import features
from rasterio.warp import Resampling, reproject

from glacierscale.simulate import stac
from glacierscale.simulate.region import TRUTH_NODATA, Region

TRUTH_VERSION = 2  # 2: water is class 3 (1: lakes and sea were background); recorded in simulation.json
INVENTORY_FILE = "inventory.gpkg"
TRUTH_OUTLINES_FILE = "truth/truth_outlines.gpkg"
TRUTH_FRONTS_FILE = "truth/truth_calving_fronts.gpkg"
# GeoPackages record when they were written; pin it so the same seed gives the same bytes
FIXED_GPKG_DATE = "2000-01-01T00:00:00.000Z"


def classes_on_grid(region: Region, year: int, transform: Affine, shape: tuple[int, int], crs: str) -> np.ndarray:
    """Return the truth classes of a year rasterised onto another grid (pixel centres; 255 off the region)."""
    to = Transformer.from_crs(region.crs, crs, always_xy=True)

    def burn(geoms: list[shapely.Geometry]) -> np.ndarray:
        shapes = [(shapely.transform(g, to.transform, interleaved=False), 1) for g in geoms if not g.is_empty]
        if not shapes:
            return np.zeros(shape, dtype=bool)
        return features.rasterize(shapes, out_shape=shape, transform=transform, fill=0, dtype="uint8").astype(bool)

    glacier = burn(list(region.outlines[year].values()))
    debris = burn(list(region.debris[year].values()))
    out = np.where(glacier, np.where(debris, 2, 1), 0).astype(np.uint8)
    water = region.water(year)
    if water.any():
        share = np.zeros(shape, dtype=np.float32)
        reproject(water.astype(np.float32), share, src_transform=region.transform, src_crs=region.crs,
                  dst_transform=transform, dst_crs=crs, resampling=Resampling.average, src_nodata=None, dst_nodata=0)
        out[(share >= 0.5) & ~glacier] = 3
    valid = region.valid if region.valid is not None else np.ones(region.shape, dtype=bool)
    cover = np.zeros(shape, dtype=np.float32)
    reproject(valid.astype(np.float32), cover, src_transform=region.transform, src_crs=region.crs,
              dst_transform=transform, dst_crs=crs, resampling=Resampling.average, src_nodata=None, dst_nodata=0)
    out[cover < 0.999] = TRUTH_NODATA
    return out


def write_truth(region: Region, out: Path, sensors: tuple[str, ...] = ("s2", "s1", "dem")) -> Path:
    """Write truth class rasters per year and grid, the truth outlines and calving fronts; return the outlines path."""
    from glacierscale.simulate.copdem import dem_grid
    from glacierscale.simulate.landsat import landsat_grid

    frames = []
    folder = out / "truth"
    for year in region.years:
        classes = region.truth_classes(year)
        stac.write_cog(folder / f"truth_classes_{year}.tif", classes, region.transform, region.crs, TRUTH_NODATA)
        if "s1" in sensors:
            stac.write_cog(folder / f"truth_classes_{year}_s1.tif", classes, region.transform, region.crs, TRUTH_NODATA)
        if "landsat" in sensors:
            t30, s30 = landsat_grid(region)
            stac.write_cog(folder / f"truth_classes_{year}_landsat.tif",
                           classes_on_grid(region, year, t30, s30, region.crs), t30, region.crs, TRUTH_NODATA)
        if "dem" in sensors:
            tdem, sdem, _ = dem_grid(region)
            stac.write_cog(folder / f"truth_classes_{year}_dem.tif",
                           classes_on_grid(region, year, tdem, sdem, "EPSG:4326"), tdem, "EPSG:4326", TRUTH_NODATA)
        frames.append(region.outline_frame(year))
    outlines = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=region.crs)
    path = out / TRUTH_OUTLINES_FILE
    _write_gpkg(outlines, path)
    # every scene set has the layer, empty where no glacier calves
    rows = [{"glacier_id": gid, "year": year, "terminus_type": _terminus(region, gid), "length_m": line.length,
             "geometry": line} for year in region.years for gid, line in region.fronts.get(year, {}).items()]
    empty = {"glacier_id": pd.Series(dtype=str), "year": pd.Series(dtype=int), "terminus_type": pd.Series(dtype=str),
             "length_m": pd.Series(dtype=float)}
    fronts = gpd.GeoDataFrame(rows or empty, geometry="geometry" if rows else gpd.GeoSeries([], crs=region.crs),
                              crs=region.crs)
    _write_gpkg(fronts, out / TRUTH_FRONTS_FILE, geometry_type="MultiLineString")
    return path


def _terminus(region: Region, gid: str) -> str:
    return next((g.terminus_type for g in region.glaciers if g.glacier_id == gid), "land")


def _write_gpkg(frame: gpd.GeoDataFrame, path: Path, geometry_type: str | None = None) -> None:
    """Write a GeoPackage whose bytes depend only on its content (fixed timestamp)."""
    import pyogrio

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_GPKG_DATE})
    try:
        kwargs = {"geometry_type": geometry_type} if geometry_type else {}
        frame.to_file(path, driver="GPKG", **kwargs)
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})


def write_inventory(region: Region, out: Path) -> Path:
    """Write the inventory (the first year's outlines in WGS84, RGI-like columns) and return its path."""
    first = region.outline_frame(region.years[0]).to_crs("EPSG:4326")
    inv = first[["glacier_id", "area_km2", "terminus_type", "geometry"]].copy()
    flags = {g.glacier_id: g.debris_covered for g in region.glaciers}
    inv["debris_cover"] = [flags[g] for g in inv["glacier_id"]]
    dates = {g.glacier_id: getattr(g, "src_date", "") for g in region.glaciers}
    inv["src_date"] = [dates[g] or f"{region.years[0]}-08-15" for g in inv["glacier_id"]]
    path = out / INVENTORY_FILE
    _write_gpkg(inv, path)
    return path
