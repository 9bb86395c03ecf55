"""Export archive contents: glacier outlines per glacier × year (GeoParquet/GeoPackage), COGs per zone-year.

Calving fronts are exported by :mod:`glacierscale.archive.fronts`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from glacierscale.archive import tables
from glacierscale.errors import ArchiveError, InputError

if TYPE_CHECKING:
    import geopandas as gpd

    from glacierscale.archive.query import BBox, ChangeArchive

OUTLINE_FORMATS = {".parquet": "parquet", ".geoparquet": "parquet", ".gpkg": "GPKG"}
SLIVER_PX = 20  # holes between parts smaller than this (pixels) are seam slivers, filled at export
WINDOW_TILES = 32  # COG windows: blocks of 32 × 32 grid tiles (32,768 px square at 1024-px tiles)


def outlines(archive: ChangeArchive, *, years: tuple[int, int] | None = None, bbox: BBox | None = None,
             glacier_ids: set[str] | None = None) -> gpd.GeoDataFrame:
    """Return one polygon per glacier × year in EPSG:4326 with RGI 7 field names (rgi_id, glims_id, src_date, ...).

    A glacier's polygon is the union of its mapped parts over every tile, stitched in the CRS most of its parts
    are in (slivers along tile and zone seams filled) and reprojected to EPSG:4326: the
    ice of observed pixels, whose area is ``observed_area_km2``; ``area_km2`` adds ``filled_km2``, the estimate
    for what clouds hid, which has no outline. ``src_date`` is the archive year (``YYYY``): the archive keeps a
    season per year, not scene dates.
    """
    import geopandas as gpd
    import shapely

    from glacierscale.archive.glaciers import live_parts

    rows = archive.in_bbox(bbox) if bbox else archive.table()
    if glacier_ids is not None:  # only these glaciers (e.g. the calving ones): only their parts are read
        rows = rows[rows["glacier_id"].isin(glacier_ids)]
    if years:
        rows = rows[(rows["year"] >= years[0]) & (rows["year"] <= years[1])]
    rows = rows[rows["quality"] != "gap"]
    columns = ["rgi_id", "glims_id", "glacier_id", "year", "src_date", "area_km2", "area_unc_km2", "debris_km2",
               "observed_fraction", "quality", "observed_area_km2", "filled_km2", "area_source", "radar_fraction",
               "geometry"]
    if rows.empty:
        return gpd.GeoDataFrame(columns=columns, geometry="geometry", crs="EPSG:4326")
    root = archive.root
    parts = live_parts(root, set(rows["glacier_id"]))
    parts = parts[(parts["gap"] == 0)].merge(rows[["glacier_id", "year"]], on=["glacier_id", "year"])
    epsg = np.asarray(root["tiles"]["epsg"][...])[parts["tile"].to_numpy()]
    res = np.asarray(root["tiles"]["resolution"][...])[parts["tile"].to_numpy()]
    wkbs = np.array(part_wkb(root["parts"], parts["part"].to_numpy()), dtype=object)
    mapped = np.fromiter((len(w) > 0 for w in wkbs), dtype=bool, count=len(wkbs))  # a part with no ice has no polygon
    parts = parts[mapped].assign(epsg=epsg[mapped], geometry=shapely.from_wkb(wkbs[mapped]))
    res = res[mapped]
    # each glacier-year is stitched in the CRS most of its parts are in (parts of other zones reprojected there),
    # with the slivers along tile and zone seams filled, then taken to EPSG:4326
    main = parts.groupby(["glacier_id", "year"])["epsg"].agg(lambda e: int(e.mode().iloc[0])).rename("main")
    parts = parts.join(main, on=["glacier_id", "year"])
    geoms = parts["geometry"].to_numpy(dtype=object)
    for (src, dst), idx in parts.groupby(["epsg", "main"]).indices.items():
        if src != dst:
            geoms[idx] = reproject_geoms(geoms[idx], int(src), int(dst))
    parts = parts.assign(geometry=geoms, res=res)
    merged = (parts.groupby(["glacier_id", "year", "main"])
              .apply(lambda g: _stitch(g["geometry"].to_numpy(dtype=object), float(g["res"].min())),
                     include_groups=False)
              .rename("geometry").reset_index())
    lonlat = merged["geometry"].to_numpy(dtype=object)
    for dst, idx in merged.groupby("main").indices.items():
        lonlat[idx] = [split_antimeridian(g) for g in reproject_geoms(lonlat[idx], int(dst), 4326)]
    merged = merged.assign(geometry=lonlat).drop(columns="main")
    out = rows.merge(merged, on=["glacier_id", "year"], how="inner")
    out["src_date"] = out["year"].astype(str)
    return gpd.GeoDataFrame(out[columns], geometry="geometry", crs="EPSG:4326")


def reproject_geoms(geoms: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Return shapely geometries reprojected from EPSG ``src`` to EPSG ``dst``."""
    import shapely
    from pyproj import Transformer

    tf = Transformer.from_crs(f"EPSG:{src}", f"EPSG:{dst}", always_xy=True)
    return np.asarray(shapely.transform(geoms, lambda xy: np.column_stack(tf.transform(xy[:, 0], xy[:, 1]))))


def split_antimeridian(geom: Any) -> Any:
    """Return a lon/lat geometry that crosses 180° cut there into a MultiPolygon (RFC 7946 §3.1.9).

    Reprojected from a UTM zone, such an outline comes back with longitudes near +180 and −180 in one ring, a
    polygon around the globe; its vertices west of 0° are moved by +360°, the result cut at 180° and the eastern
    part moved back. Geometries spanning less than 180° of longitude are returned as they are (a glacier never
    spans more).
    """
    import shapely
    from shapely.affinity import translate

    if geom is None or geom.is_empty or geom.bounds[2] - geom.bounds[0] <= 180.0:
        return geom
    shifted = shapely.make_valid(shapely.transform(
        geom, lambda xy: np.column_stack([np.where(xy[:, 0] < 0, xy[:, 0] + 360.0, xy[:, 0]), xy[:, 1]])))
    west = shapely.clip_by_rect(shifted, -180.0, -90.0, 180.0, 90.0)
    east = translate(shapely.clip_by_rect(shifted, 180.0, -90.0, 540.0, 90.0), -360.0)
    polys = [p for g in (west, east) for p in getattr(g, "geoms", [g])
             if isinstance(p, shapely.Polygon) and not p.is_empty]
    return shapely.MultiPolygon(polys)


def _stitch(geoms: np.ndarray, resolution: float) -> Any:
    """Return the union of one glacier-year's parts (metric CRS) with the slivers along tile and zone seams filled.

    Neighbouring tiles of two zones have grids rotated against each other, so their staircase edges leave small
    triangles between them. A hole of the union that no part has as its own hole, and smaller than
    ``SLIVER_PX`` pixels, is such a sliver; mapped holes (nunataks) are holes of the part they lie in.
    """
    import shapely

    valid = shapely.make_valid(geoms)
    union = shapely.union_all(valid)
    own = shapely.union_all([shapely.Polygon(r) for g in valid for p in getattr(g, "geoms", [g])
                             if isinstance(p, shapely.Polygon) for r in p.interiors] or [shapely.Polygon()])

    def real(ring: Any) -> bool:
        hole = shapely.Polygon(ring)
        return hole.area >= SLIVER_PX * resolution**2 or hole.intersection(own).area >= hole.area / 2

    polys = [shapely.Polygon(p.exterior, [r for r in p.interiors if real(r)])
             for p in getattr(union, "geoms", [union]) if isinstance(p, shapely.Polygon)]
    return shapely.union_all(polys) if polys else union


def part_wkb(parts: Any, index: np.ndarray) -> list[bytes]:
    """Return the WKB of parts ``index``, reading each needed chunk of the ragged byte array once."""
    starts = np.asarray(parts["wkb_start"].oindex[index]) if len(index) else np.array([], dtype=np.int64)
    sizes = np.asarray(parts["wkb_size"].oindex[index]) if len(index) else np.array([], dtype=np.int64)
    chunk = parts["outline_wkb"].chunks[0]
    total = parts["outline_wkb"].shape[0]
    needed = sorted({c for s, n in zip(starts, sizes, strict=True) for c in range(int(s) // chunk, (int(s + n) - 1) // chunk + 1)
                     if n > 0})
    blocks = {c: parts["outline_wkb"][c * chunk:min((c + 1) * chunk, total)].tobytes() for c in needed}
    out = []
    for s, n in zip(starts.tolist(), sizes.tolist(), strict=True):
        if n <= 0:
            out.append(b"")
            continue
        first, last = s // chunk, (s + n - 1) // chunk
        data = b"".join(blocks[c] for c in range(first, last + 1))
        out.append(data[s - first * chunk: s - first * chunk + n])
    return out


def write_outlines(archive: ChangeArchive, path: str | Path, *, years: tuple[int, int] | None = None,
                   bbox: BBox | None = None) -> int:
    """Write outlines to ``path`` (.parquet GeoParquet or .gpkg GeoPackage); return the number of polygons."""
    path = Path(path)
    fmt = vector_format(path, "--outlines")
    gdf = outlines(archive, years=years, bbox=bbox)
    if gdf.empty:
        raise ArchiveError(f"archive {archive.location} has no mapped glacier outline for these years/bbox")
    return write_vector(gdf, path, fmt, "outlines")


def vector_format(path: Path, flag: str) -> str:
    """Return the writer format of a vector export path (GeoParquet or GeoPackage); InputError names the flag."""
    fmt = OUTLINE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"{flag} {path}: the file must end in .parquet or .gpkg")
    return fmt


def write_vector(gdf: gpd.GeoDataFrame, path: Path, fmt: str, layer: str) -> int:
    """Write ``gdf`` as GeoParquet or as the GeoPackage layer ``layer``; return its row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        gdf.to_parquet(path)
    else:
        gdf.to_file(path, driver="GPKG", layer=layer)
    return len(gdf)


def window_grid(unit_ids: pd.Series, window_tiles: int) -> pd.DataFrame:
    """Return each tile's grid position (epsg, res, size, col, row) and its window (bcol, brow), indexed as given."""
    from glacierscale.archive.commit import parse_unit_id

    grid = pd.DataFrame([parse_unit_id(u) for u in unit_ids], columns=["epsg", "res", "size", "col", "row"],
                        index=unit_ids.index)
    grid["bcol"], grid["brow"] = grid["col"] // window_tiles, grid["row"] // window_tiles
    return grid


def window_bounds(group: pd.DataFrame) -> tuple[float, int, float, float, float, float]:
    """Return (resolution, tile px, minx, miny, maxx, maxy) of the tiles ``group`` holds (one CRS, one window)."""
    res, size = float(group["res"].iloc[0]), int(group["size"].iloc[0])
    span = res * size
    return (res, size, group["col"].min() * span, group["row"].min() * span, (group["col"].max() + 1) * span,
            (group["row"].max() + 1) * span)


def write_cog(path: Path, data: np.ndarray, epsg: int, res: float, minx: float, maxy: float, nodata: int,
              descriptions: tuple[str, ...], tags: dict[str, Any] | None = None) -> None:
    """Write (band, y, x) ``data`` as a deflated COG on the north-up grid at (minx, maxy), one description a band."""
    import rasterio
    from affine import Affine

    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {"driver": "COG", "width": data.shape[2], "height": data.shape[1], "count": data.shape[0],
               "dtype": data.dtype.name, "crs": f"EPSG:{int(epsg)}",
               "transform": Affine(res, 0.0, minx, 0.0, -res, maxy), "nodata": nodata, "compress": "deflate",
               "blocksize": 512}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        for band, text in enumerate(descriptions, start=1):
            dst.set_band_description(band, text)
        if tags:
            dst.update_tags(**tags)


def write_rasters(archive: ChangeArchive, folder: str | Path, *, years: tuple[int, int] | None = None,
                  bbox: BBox | None = None, window_tiles: int = WINDOW_TILES) -> list[Path]:
    """Write COGs per zone × year × window (bands: classes, glacier_probability; 255 = nodata); return the paths.

    A window is a block of ``window_tiles`` × ``window_tiles`` grid tiles; its COG covers the tiles the archive
    holds in it that year (cut to the tiles touching ``bbox``), named ``<epsg>_<year>_<block col>_<block row>.tif``.
    """
    folder = Path(folder)
    recs = archive.tiles()
    recs = recs[recs["status"] == "done"]
    if years:
        recs = recs[(recs["year"] >= years[0]) & (recs["year"] <= years[1])]
    if bbox is not None:
        recs = recs[recs["unit_id"].isin(set(tiles_in(archive, bbox)))]
    recs = pd.concat([recs, window_grid(recs["unit_id"], window_tiles)], axis=1)
    written = []
    mosaics: dict[int, Any] = {}
    for (epsg, year, bcol, brow), group in recs.groupby(["epsg", "year", "bcol", "brow"]):
        res, _, minx, miny, maxx, maxy = window_bounds(group)
        if epsg not in mosaics:
            mosaics[epsg] = archive.mosaic(int(epsg))
        ds = mosaics[epsg].sel(year=int(year), x=slice(minx, maxx), y=slice(maxy, miny))
        data = np.stack([ds["classes"].values, ds["glacier_probability"].values])
        path = folder / f"{int(epsg)}_{int(year)}_{int(bcol)}_{int(brow)}.tif"
        write_cog(path, data, int(epsg), res, minx, maxy, 255, ("classes", "glacier_probability"))
        written.append(path)
    if not written:
        raise ArchiveError(f"archive {archive.location} holds no mapped tile for these years/bbox")
    return written


def tiles_in(archive: ChangeArchive, bbox: BBox) -> list[str]:
    """Return the tiles whose WGS84 bbox intersects ``bbox`` (W > E crosses the antimeridian)."""
    from shapely.geometry import box

    g = archive.root["tiles"]
    ids = tables.text(g["unit_id"][...])
    boxes = np.asarray(g["bbox"][...])
    w, s, e, n = bbox
    pieces = [box(w, s, e, n)] if w <= e else [box(w, s, 180, n), box(-180, s, e, n)]
    out = []
    for uid, (tw, ts, te, tn) in zip(ids, boxes, strict=True):
        tile = [box(tw, ts, te, tn)] if tw <= te else [box(tw, ts, 180, tn), box(-180, ts, te, tn)]
        if any(p.intersects(t) for p in pieces for t in tile):
            out.append(str(uid))
    return out
