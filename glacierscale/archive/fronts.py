"""Calving fronts from the archive: per lake- or marine-terminating glacier × year, the ice/water line, its position
along flow (box method) and the retreat between years, computed when asked for (``glacierscale export --fronts``).

Which glaciers: those whose inventory terminus type is ``marine``, ``lake`` or ``shelf`` (RGI ``TermType`` 1, 2,
3). Which ice: the pixels of the glacier's own mapped outline that year (its attributed part of the mosaic, so a
neighbour sharing the lake is not its front). Which water: the model's water class (3) in the archived mosaic;
the front is the boundary with the largest water body the ice touches (``glacierscale.reduce.fronts``). A year
whose front is hidden (nodata along the ice margin, or no water mapped beside the ice) has an empty line and no
position; its retreat is not computed, never read as zero.

Archives mapped by a checkpoint without the water class hold no water: the export then says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from glacierscale.classes import NODATA_CLASS, WATER, is_glacier
from glacierscale.errors import ArchiveError

if TYPE_CHECKING:
    import geopandas as gpd

    from glacierscale.archive.query import BBox, ChangeArchive

CALVING = ("marine", "lake", "shelf")
FRONT_ZONE_PX = 25  # the box method's zone: within 25 px (500 m at 20 m) of water mapped in any year
MARGIN_DEG = 0.01  # the window read around a glacier's outlines (~1 km): room for the water in front of it
COLUMNS = ["glacier_id", "rgi_id", "year", "terminus_type", "length_m", "position_m", "retreat_m", "retreat_unc_m",
           "front_nodata_share", "geometry"]


def fronts(archive: ChangeArchive, *, years: tuple[int, int] | None = None, bbox: BBox | None = None,
           rows: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """Return one front line per calving glacier × mapped year (EPSG:4326) with length, position and retreat (m).

    ``position_m`` is the box-method position (ice area in the box over the zone the terminus moves through,
    divided by the mean front length; larger = farther advanced), ``retreat_m`` the position change since the
    glacier's previous year with a front (positive = retreat) and ``retreat_unc_m`` its 1σ uncertainty
    (√2 × ½ pixel). ``front_nodata_share`` is the share of the ice margin's neighbours that are nodata.
    ``rows``: the glacier table already read for ``bbox`` (read here when not given).
    """
    import geopandas as gpd

    from glacierscale.archive.export import outlines

    if rows is None:
        rows = archive.in_bbox(bbox) if bbox else archive.table()
    calving = _calving(rows).drop_duplicates("glacier_id").set_index("glacier_id")
    if calving.empty:
        return gpd.GeoDataFrame(columns=COLUMNS, geometry="geometry", crs="EPSG:4326")
    shapes = outlines(archive, years=years, bbox=bbox, glacier_ids=set(calving.index))
    out: list[pd.DataFrame] = []
    for gid, series in shapes.groupby("glacier_id"):
        frame = _glacier_fronts(archive, series.sort_values("year"))
        if frame is not None:
            out.append(frame.assign(glacier_id=gid, rgi_id=calving.loc[gid, "rgi_id"],
                                    terminus_type=calving.loc[gid, "terminus_type"]))
    if not out:
        return gpd.GeoDataFrame(columns=COLUMNS, geometry="geometry", crs="EPSG:4326")
    return gpd.GeoDataFrame(pd.concat(out, ignore_index=True)[COLUMNS], geometry="geometry", crs="EPSG:4326")


def _glacier_fronts(archive: ChangeArchive, series: gpd.GeoDataFrame) -> pd.DataFrame | None:
    """Return the fronts of one glacier's yearly outlines (EPSG:4326) from the archived class mosaics."""
    from affine import Affine
    from rasterio.features import rasterize

    from glacierscale.archive.export import reproject_geoms
    from glacierscale.reduce.fronts import box_positions, front_line, retreat

    w, s, e, n = (float(v) for v in series.total_bounds)
    pad_lon = MARGIN_DEG / max(np.cos(np.radians((s + n) / 2)), 0.05)
    windows = archive.region((w - pad_lon, s - MARGIN_DEG, e + pad_lon, n + MARGIN_DEG), [int(y) for y in series["year"]])
    if not windows:
        return None
    ds = max(windows, key=lambda d: int(d.sizes["x"]) * int(d.sizes["y"]))  # the zone holding most of the window
    years = [int(y) for y in ds["year"].values]
    series = series[series["year"].isin(years)]
    if series.empty:
        return None
    x, y = np.asarray(ds["x"].values), np.asarray(ds["y"].values)
    res = float(abs(x[1] - x[0])) if len(x) > 1 else float(abs(y[1] - y[0]))
    transform = Affine(res, 0, float(x[0]) - res / 2, 0, -res, float(y.max()) + res / 2)
    classes = np.asarray(ds["classes"].sel(year=list(series["year"])).values)
    if y[0] < y[-1]:
        classes = classes[:, ::-1]
    shape = classes.shape[1:]
    own = series.to_crs(int(ds.attrs["epsg"]))
    ice = np.stack([rasterize([(geom, 1)], out_shape=shape, transform=transform, dtype="uint8").astype(bool)
                    & is_glacier(classes[i]) for i, geom in enumerate(own.geometry)])
    water = classes == WATER
    found = [front_line(ice[i], water[i], transform) for i in range(len(own))]
    # the box method on the terminus zone only: pixels observed in every year with a front (a cloud gap elsewhere
    # on the glacier is not a change of its front) within FRONT_ZONE_PX of water mapped in any year (the basin a
    # retreating front vacates fills with water, so the zone follows the front wherever it went)
    from scipy import ndimage

    has = np.array([f.length_m > 0 for f in found])
    seen = has if has.any() else np.ones(len(found), bool)  # years whose front is hidden have no position anyway
    zone = (classes[seen] != NODATA_CLASS).all(axis=0) & ndimage.binary_dilation(water.any(axis=0),
                                                                                  iterations=FRONT_ZONE_PX)
    positions = box_positions(ice & zone[None], found, res)
    positions = np.where(has, positions, np.nan)
    _, unc = retreat(positions, res)
    # retreat since the previous year that had a front (a hidden front is skipped, never read as zero)
    back = np.full(len(found), np.nan)
    last = None
    for i in range(len(found)):
        if has[i]:
            if last is not None:
                back[i] = positions[last] - positions[i]
            last = i
    margin = [_margin_nodata(ice[i], classes[i]) for i in range(len(found))]
    lonlat = reproject_geoms(np.array([f.line for f in found], dtype=object), int(ds.attrs["epsg"]), 4326)
    return pd.DataFrame({"year": own["year"].to_numpy(), "length_m": [f.length_m for f in found],
                         "position_m": positions, "retreat_m": back,
                         "retreat_unc_m": np.where(np.isfinite(back), unc, np.nan),
                         "front_nodata_share": margin, "geometry": lonlat})


def _margin_nodata(ice: np.ndarray, classes: np.ndarray) -> float:
    """Return the share of the pixels next to the ice that are nodata (a front hidden by clouds)."""
    from scipy import ndimage

    ring = ndimage.binary_dilation(ice) & ~ice
    return float((classes[ring] == NODATA_CLASS).mean()) if ring.any() else float("nan")


def write_fronts(archive: ChangeArchive, path: str | Path, *, years: tuple[int, int] | None = None,
                 bbox: BBox | None = None) -> int:
    """Write the calving fronts to FILE.parquet (GeoParquet) or FILE.gpkg; return the number of lines."""
    from glacierscale.archive.export import vector_format, write_vector

    path = Path(path)
    fmt = vector_format(path, "--fronts")
    rows = archive.in_bbox(bbox) if bbox else archive.table()
    if _calving(rows).empty:
        raise ArchiveError(f"archive {archive.location} holds no lake- or marine-terminating glacier (inventory "
                           "terminus type marine, lake or shelf): no calving front to export")
    gdf = fronts(archive, years=years, bbox=bbox, rows=rows)
    if gdf.empty or not (gdf["length_m"] > 0).any():
        raise ArchiveError(f"archive {archive.location}: no mapped water touches its calving glaciers, so no front "
                           "could be traced (archives mapped by a checkpoint without the water class hold no water)")
    return write_vector(gdf, path, fmt, "fronts")


def _calving(rows: pd.DataFrame) -> pd.DataFrame:
    """Return the rows of lake-, marine- or shelf-terminating glaciers."""
    return rows[rows["terminus_type"].astype(str).str.lower().isin(CALVING)]
