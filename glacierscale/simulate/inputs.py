"""Real inputs of the simulator: a DEM raster and glacier outlines, read and checked.

Outlines may come from RGI 6/7, GLIMS, national inventories (SGI) or anything GDAL reads: shapefile,
GeoPackage, GeoJSON, FlatGeobuf, GeoParquet, or a zip holding one of them (the RGI region zips). Any CRS that
PROJ can transform to WGS84, compound ones included. Every problem with a file raises :class:`InputError`
naming the file.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from glacierscale.errors import ConfigError, InputError

VECTOR_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".fgb", ".parquet", ".geoparquet", ".zip")
ID_COLUMNS = ("glacier_id", "rgi_id", "RGIId", "RGIID", "glac_id", "GLIMSId", "glims_id", "SGI")
DATE_COLUMNS = ("date", "src_date", "BgnDate", "BGNDATE", "year", "Year", "YEAR")
# RGI 6 TermType / RGI 7 term_type / GLIMS term_type: 0 land, 1 marine, 2 lake, 5 shelf; 9 not assigned
TERMINUS_CODES = {0: "land", 1: "marine", 2: "lake", 5: "marine"}
TERMINUS_COLUMNS = ("terminus_type", "TermType", "term_type", "TERMTYPE")
ZMIN_COLUMNS = ("zmin_m", "Zmin", "ZMIN", "min_elev", "Elev_min")
ZMAX_COLUMNS = ("zmax_m", "Zmax", "ZMAX", "max_elev", "Elev_max")
ZMED_COLUMNS = ("zmed_m", "Zmed", "ZMED", "Elev_med")
FORM_COLUMNS = ("Form", "FORM", "form")  # RGI 6: 0 glacier, 1 ice cap, 2 perennial snowfield (RGI 5: GlacType[0])
_YEAR_ARG = re.compile(r"^(\d{4})=(.+)$")


@dataclass(frozen=True)
class OutlineSource:
    """Standardised outlines per year (EPSG:4326) and whether they replay real changes year by year."""

    by_year: dict[int, gpd.GeoDataFrame]  # columns glacier_id, terminus_type, zmin, zmax, src_date, geometry
    replay: bool
    files: tuple[Path, ...]

    @property
    def names(self) -> str:
        return ", ".join(str(f) for f in self.files)


@dataclass(frozen=True)
class DemSource:
    """A readable single-band DEM raster and its footprint in WGS84."""

    path: Path
    crs: str
    footprint: shapely.Polygon  # EPSG:4326


def parse_outline_args(values: tuple[str, ...] | list[str]) -> list[tuple[int | None, Path]]:
    """Return (year or None, path) for each ``FILE`` or ``YEAR=FILE`` argument."""
    out: list[tuple[int | None, Path]] = []
    for v in values:
        m = _YEAR_ARG.match(v.strip())
        out.append((int(m.group(1)), Path(m.group(2))) if m else (None, Path(v.strip())))
    if len(out) > 1 and any(y is None for y, _ in out):
        raise ConfigError("--outlines: repeat it only as YEAR=FILE (one file per year), or give one FILE")
    years = [y for y, _ in out]
    if len(set(years)) != len(years):
        raise ConfigError(f"--outlines: a year is given twice ({', '.join(str(y) for y in years)})")
    return out


def _zip_member(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            names = sorted(n for n in zf.namelist() if n.lower().endswith(VECTOR_SUFFIXES[:5]))
    except zipfile.BadZipFile:
        raise InputError(f"outlines {path}: not a readable zip file") from None
    if not names:
        raise InputError(f"outlines {path}: the zip holds no vector file ({', '.join(VECTOR_SUFFIXES[:5])})")
    shp = [n for n in names if n.lower().endswith(".shp")]
    return f"/vsizip/{path.resolve()}/{(shp or names)[0]}"


def read_vector(path: Path) -> gpd.GeoDataFrame:
    """Return the features of a vector file (any GDAL format, GeoParquet, zip); InputError names the file."""
    if not path.exists():
        raise InputError(f"outlines {path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".geoparquet"):
            return gpd.read_parquet(path)
        return gpd.read_file(_zip_member(path) if suffix == ".zip" else path)
    except InputError:
        raise
    except Exception as err:  # pyogrio/GDAL raise several types for unreadable files
        raise InputError(f"outlines {path}: not a readable vector file ({err})") from None


def _first(frame: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    return next((c for c in names if c in frame.columns), None)


def _year_of(value: object) -> int | None:
    """Return the year of a date value (timestamp, ISO string, RGI ``20030799``, int year); None if unknown."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp | np.datetime64):
        return int(pd.Timestamp(value).year)
    text = str(value).strip()
    m = re.match(r"^(\d{4})", text)
    year = int(m.group(1)) if m else None
    return year if year is not None and 1600 <= year <= 2200 else None


def _iso_date(value: object) -> str:
    """Return ``YYYY-MM-DD`` (or ``YYYY-MM``/``YYYY`` where the day or month is unknown) of a date value."""
    text = str(value).strip()
    m = re.match(r"^(\d{4})-?(\d{2})?-?(\d{2})?", text)
    if not m or _year_of(text) is None:
        return ""
    y, mo, d = m.groups()
    known = [p for p in (mo, d) if p and p not in ("99", "00")][: 2 if mo not in (None, "99", "00") else 0]
    return "-".join([y, *known])


def _terminus(value: object) -> str:
    if isinstance(value, str) and value.strip().lower() in ("land", "marine", "lake"):
        return value.strip().lower()
    try:
        return TERMINUS_CODES.get(int(float(str(value))), "land")
    except ValueError:
        return "land"


def polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Return the polygonal part of a repaired geometry (empty if none)."""
    geom = shapely.make_valid(geom)
    if isinstance(geom, shapely.GeometryCollection):
        geom = shapely.union_all([g for g in geom.geoms if isinstance(g, shapely.Polygon | shapely.MultiPolygon)])
    return geom if isinstance(geom, shapely.Polygon | shapely.MultiPolygon) else shapely.Polygon()


def standardise(raw: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    """Return outlines in EPSG:4326 with glacier_id, terminus_type, zmin, zmax, zmed, ice_cap, year, src_date, analysis."""
    if raw.crs is None:
        raise InputError(f"outlines {path}: no CRS (a .prj or CRS definition is needed to place them)")
    raw = raw[raw.geometry.notna() & ~raw.geometry.is_empty]
    if raw.empty:
        raise InputError(f"outlines {path}: holds no glacier outlines (no features with a geometry)")
    try:
        wgs = raw.to_crs("EPSG:4326")
    except Exception as err:
        raise InputError(f"outlines {path}: cannot transform CRS {raw.crs.name!r} to WGS84 ({err})") from None
    if not np.isfinite(wgs.total_bounds).all():
        raise InputError(f"outlines {path}: CRS {raw.crs.name!r} does not transform to WGS84 (infinite coordinates)")
    id_col, date_col = _first(wgs, ID_COLUMNS), _first(wgs, DATE_COLUMNS)
    term_col = _first(wgs, TERMINUS_COLUMNS)
    zmin_col, zmax_col, zmed_col = _first(wgs, ZMIN_COLUMNS), _first(wgs, ZMAX_COLUMNS), _first(wgs, ZMED_COLUMNS)
    form_col = _first(wgs, FORM_COLUMNS)
    out = gpd.GeoDataFrame({
        "glacier_id": (wgs[id_col].astype(str).str.strip() if id_col else [f"G{i + 1:04d}" for i in range(len(wgs))]),
        "terminus_type": [_terminus(v) for v in (wgs[term_col] if term_col else [None] * len(wgs))],
        "zmin": pd.to_numeric(wgs[zmin_col], errors="coerce") if zmin_col else np.nan,
        "zmax": pd.to_numeric(wgs[zmax_col], errors="coerce") if zmax_col else np.nan,
        "zmed": pd.to_numeric(wgs[zmed_col], errors="coerce") if zmed_col else np.nan,
        "ice_cap": (pd.to_numeric(wgs[form_col], errors="coerce") == 1) if form_col else False,
        "year": [_year_of(v) for v in (wgs[date_col] if date_col else [None] * len(wgs))],
        "src_date": [_iso_date(v) for v in wgs[date_col]] if date_col else "",
        "analysis": wgs["anlys_id"].astype(str) if "anlys_id" in wgs.columns else "0",
    }, geometry=[polygonal(g) for g in wgs.geometry], crs="EPSG:4326")
    if "GlacType" in wgs.columns and not term_col:  # RGI 5: second digit of GlacType is the terminus type
        out["terminus_type"] = [_terminus(str(v)[1:2]) for v in wgs["GlacType"]]
    if "GlacType" in wgs.columns and not form_col:  # and its first digit the form
        out["ice_cap"] = [str(v)[:1] == "1" for v in wgs["GlacType"]]
    for col in ("zmin", "zmax", "zmed"):  # GLIMS writes 0 for unknown elevations
        out.loc[out[col] <= 0, col] = np.nan
    out = out[~out.geometry.is_empty]
    if out.empty:
        raise InputError(f"outlines {path}: holds no polygon outlines (only lines, points or invalid shapes)")
    return out.reset_index(drop=True)


def _one_per_glacier(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return one outline per glacier: the latest analysis of the year, multi-part records dissolved."""
    rows = []
    for gid, group in frame.groupby("glacier_id", sort=True):
        latest = group.sort_values(["src_date", "analysis"]).iloc[-1]
        parts = group[(group["src_date"] == latest["src_date"]) & (group["analysis"] == latest["analysis"])]
        rows.append({**latest.drop("geometry").to_dict(), "glacier_id": gid,
                     "geometry": shapely.union_all(list(parts.geometry))})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=frame.crs)


def load_outlines(values: tuple[str, ...] | list[str], years: tuple[int, ...]) -> OutlineSource:
    """Return the outlines per year from ``FILE`` or ``YEAR=FILE`` arguments.

    One file whose date column spans several years is replayed year by year (GLIMS multi-temporal
    downloads); one file of a single date is an inventory that the retreat model shrinks. ``years`` limits
    the replayed years to [min, max]; empty means every year the files hold.
    """
    args = parse_outline_args(values)
    files = tuple(p for _, p in args)
    if args[0][0] is not None:  # YEAR=FILE ...
        by_year = {y: _one_per_glacier(standardise(read_vector(p), p)) for y, p in args if y is not None}
        replay = True
    else:
        frame = standardise(read_vector(files[0]), files[0])
        known = sorted({int(y) for y in frame["year"].dropna()})
        # a replay is a file in which one glacier appears at several dates (GLIMS multi-temporal downloads);
        # an inventory whose glaciers carry different source dates (every RGI 6 region is such a mosaic) is one
        # inventory, not a series
        dated = frame[frame["year"].notna()]
        replay = bool((dated.groupby("glacier_id")["year"].nunique() > 1).any())
        if replay:
            frame = frame[frame["year"].notna()]
            by_year = {y: _one_per_glacier(frame[frame["year"] == y]) for y in known}
        else:
            by_year = {known[0] if known else 0: _one_per_glacier(frame)}
    if replay and years:
        held = sorted(by_year)
        by_year = {y: f for y, f in by_year.items() if min(years) <= y <= max(years)}
        if not by_year:
            raise InputError(f"outlines {', '.join(map(str, files))}: hold the years {', '.join(map(str, held))}, "
                             f"none within {min(years)}–{max(years)}; choose --years that cover them")
    return OutlineSource(by_year=dict(sorted(by_year.items())), replay=replay, files=files)


def open_dem(path: str | Path) -> DemSource:
    """Return the DEM source after checking that it is a georeferenced raster; InputError names the file."""
    import rasterio
    from rasterio.errors import RasterioIOError
    from rasterio.warp import transform_geom

    p = Path(path)
    if not p.exists():
        raise InputError(f"DEM {p}: no such file")
    try:
        with rasterio.open(p) as src:
            crs, bounds, count = src.crs, src.bounds, src.count
    except RasterioIOError as err:
        raise InputError(f"DEM {p}: not a raster rasterio can read (a GeoTIFF is expected; {err})") from None
    if count < 1:
        raise InputError(f"DEM {p}: has no raster band")
    if crs is None:
        raise InputError(f"DEM {p}: has no CRS (georeferencing is needed to place it)")
    try:
        box = shapely.box(*bounds).segmentize(max(bounds.right - bounds.left, bounds.top - bounds.bottom) / 16)
        geom = shapely.geometry.shape(transform_geom(crs, "EPSG:4326", shapely.geometry.mapping(box)))
    except Exception as err:
        raise InputError(f"DEM {p}: cannot transform its CRS to WGS84 ({err})") from None
    return DemSource(path=p, crs=crs.to_string(), footprint=geom)
