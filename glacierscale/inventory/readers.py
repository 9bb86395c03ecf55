"""Read glacier inventories (RGI 7.0/6.0 and older, GLIMS, national) into one standard table.

Accepted inputs: any vector file GDAL reads (shapefile, GeoPackage, GeoJSON, FlatGeobuf), GeoParquet, a zip
holding such files (the RGI 7.0 region zips ``RGI2000-v7.0-G-NN_name.zip``: shapefile + attributes CSV), or a
folder of them (e.g. the 19 RGI region zips). Any CRS, compound ones included.

The standard table keeps every source column and adds ``glacier_id`` (str), ``o1region`` (``"11"``) and
``o2region`` (``"11-01"``), None where the inventory does not say. Invalid outlines (self-intersections) are
repaired with ``shapely.make_valid`` and reported; outlines that are empty or collapse are dropped and reported.
"""

from __future__ import annotations

import logging
import os
import re
import zipfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from glacierscale.errors import ConfigError, InputError

log = logging.getLogger(__name__)

ID_COLUMNS = ("glacier_id", "rgi_id", "RGIId", "RGIID", "glac_id", "SGI")
O1_COLUMNS = ("o1region", "O1Region", "gtng_o1reg", "O1")
O2_COLUMNS = ("o2region", "O2Region", "gtng_o2reg", "O2")
WORKERS = min(8, os.cpu_count() or 1)  # threads for reading files side by side
STANDARD_COLUMNS = ("glacier_id", "o1region", "o2region")
VECTOR_SUFFIXES = (".shp", ".gpkg", ".geojson", ".fgb", ".parquet", ".geoparquet", ".zip")

RGI7_ID = re.compile(r"^RGI2000-v7\.0-[GC]-(\d{2})-\d+$")
RGI_OLD_ID = re.compile(r"^RGI[4-6]0-(\d{2})\.\d+")
_RGI7_PREFIX = re.compile(r"^RGI2000-v7\.0-[GC]-(\d{2})-")
GLIMS_ID = re.compile(r"^G\d{6}E\d{5}[NS]$")
# region code in RGI file names: RGI2000-v7.0-G-11_central_europe.zip, 11_rgi60_CentralEurope.shp
_FILE_REGION = (re.compile(r"-[GC]-(\d{2})_"), re.compile(r"^(\d{2})_rgi\d0_", re.IGNORECASE))


@dataclass(frozen=True)
class Repair:
    """One outline the reader had to change or drop, and why."""

    glacier_id: str
    problem: str  # e.g. "Ring Self-intersection[10.93 46.93]"
    action: str  # "repaired" or "dropped"


def inventory_repairs(inventory: gpd.GeoDataFrame) -> list[Repair]:
    """Return the repairs :func:`read_outlines` made to this inventory (empty if none)."""
    return list(inventory.attrs.get("repairs", []))


def parse_column_map(text: str | Mapping[str, str] | None) -> dict[str, str]:
    """Return {standard name: source column} from ``"glacier_id=SGI,o1region=REG"`` or a mapping."""
    if text is None:
        return {}
    pairs = dict(text) if isinstance(text, Mapping) else {}
    if isinstance(text, str):
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, sep, value = part.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise ConfigError(f"column mapping {part!r} must look like glacier_id=COLUMN")
            pairs[key.strip()] = value.strip()
    unknown = sorted(set(pairs) - set(STANDARD_COLUMNS))
    if unknown:
        raise ConfigError(f"column mapping names unknown field(s) {', '.join(unknown)}; "
                          f"mappable fields are {', '.join(STANDARD_COLUMNS)}")
    return pairs


def read_outlines(path: str | Path, *, columns: Mapping[str, str] | None = None,
                  regions: Sequence[str] = ()) -> gpd.GeoDataFrame:
    """Return the standard table of the inventory at ``path`` (file, zip or folder); InputError names the file.

    ``regions`` (first-order codes) skips RGI region files of other regions in a folder; rows are not filtered.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"inventory {p} does not exist")
    mapping = parse_column_map(columns)
    files = _region_files(p, regions) if p.is_dir() else [p]

    def read(f: Path) -> list[gpd.GeoDataFrame]:
        return _read_zip(f, mapping) if f.suffix.lower() == ".zip" else [_read_one(f, mapping)]

    # GDAL and shapely release the GIL: region files are read side by side
    with ThreadPoolExecutor(max_workers=min(len(files), WORKERS)) as pool:
        parts = [g for chunk in pool.map(read, files) for g in chunk]
    if len(parts) == 1:
        return parts[0]
    crs = {str(g.crs) for g in parts}
    if len(crs) > 1:
        parts = [g.to_crs(4326) for g in parts]
    out = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry=parts[0].geometry.name, crs=parts[0].crs)
    out.attrs = {"source": str(p), "repairs": [r for g in parts for r in inventory_repairs(g)]}
    return out


def _region_files(folder: Path, regions: Sequence[str]) -> list[Path]:
    files = sorted(f for f in folder.rglob("*") if f.is_file() and f.suffix.lower() in VECTOR_SUFFIXES
                   and not f.name.startswith("."))
    if not files:
        raise InputError(f"inventory {folder} is a folder without outline files "
                         f"({', '.join(VECTOR_SUFFIXES)})")
    wanted = {c[:2] for c in regions}
    if not wanted:
        return files
    kept = []
    for f in files:
        code = next((m.group(1) for rx in _FILE_REGION if (m := rx.search(f.name))), None)
        if code is None or code in wanted:
            kept.append(f)
    if not kept:
        raise ConfigError(f"inventory folder {folder} has no file of region(s) {', '.join(sorted(wanted))} "
                          f"(RGI file names carry the region code, e.g. RGI2000-v7.0-G-11_central_europe.zip)")
    return kept


def _read_zip(path: Path, mapping: Mapping[str, str]) -> list[gpd.GeoDataFrame]:
    try:
        with zipfile.ZipFile(path) as zf:
            members = [n for n in zf.namelist() if Path(n).suffix.lower() in (".shp", ".gpkg", ".geojson", ".fgb")
                       and not Path(n).name.startswith(".")]
    except zipfile.BadZipFile:
        raise InputError(f"inventory {path} is not a readable zip file") from None
    if not members:
        raise InputError(f"inventory {path} is a zip without outline files (.shp, .gpkg, .geojson, .fgb)")
    return [_read_one(path, mapping, vsi=f"/vsizip/{path.resolve()}/{m}", label=f"{path}:{m}") for m in members]


def _read_one(path: Path, mapping: Mapping[str, str], *, vsi: str | None = None, label: str | None = None) -> gpd.GeoDataFrame:
    name = label or str(path)
    try:
        if vsi is None and path.suffix.lower() in (".parquet", ".geoparquet"):
            gdf: Any = gpd.read_parquet(path)
        else:
            gdf = gpd.read_file(vsi or path, engine="pyogrio", use_arrow=True)
    except Exception as err:  # pyogrio / pyarrow raise several types for non-vector input
        raise InputError(f"inventory {name} is not a readable vector file: {err}") from None
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
        raise InputError(f"inventory {name} is not a readable vector file: it is a table without a geometry "
                         f"column (columns: {', '.join(map(str, getattr(gdf, 'columns', [])[:12]))})")
    if gdf.empty:
        raise InputError(f"inventory {name} holds no outlines")
    if gdf.crs is None:
        raise InputError(f"inventory {name} has no CRS")
    return standardise(gdf, name, mapping)


def _find(columns: Sequence[str], candidates: Sequence[str]) -> str | None:
    lower = {c.lower(): c for c in columns}
    return next((lower[c.lower()] for c in candidates if c.lower() in lower), None)


def standardise(gdf: gpd.GeoDataFrame, name: str, mapping: Mapping[str, str] | None = None) -> gpd.GeoDataFrame:
    """Return ``gdf`` with glacier_id/o1region/o2region columns and repaired polygon outlines."""
    mapping = dict(mapping or {})
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    for field, src in mapping.items():
        if src not in gdf.columns:
            raise InputError(f"inventory {name} has no column {src!r} (mapped to {field}); its columns are "
                             f"{', '.join(map(str, cols))}")
    id_col = mapping.get("glacier_id") or _find(cols, ID_COLUMNS)
    if id_col is None:
        raise InputError(f"inventory {name} has no glacier id column (one of {', '.join(ID_COLUMNS)}); "
                         f"map one with --columns glacier_id=COLUMN (columns: {', '.join(map(str, cols[:12]))})")
    if gdf[id_col].isna().any():
        raise InputError(f"inventory {name} has {int(gdf[id_col].isna().sum())} outlines without a glacier id "
                         f"in column {id_col!r}")
    ids = gdf[id_col].astype(str)
    if pd.api.types.is_float_dtype(gdf[id_col]) and (gdf[id_col] % 1 == 0).all():
        ids = gdf[id_col].astype(np.int64).astype(str)  # ids read as floats (DBF numbers): 7.0 -> "7"
    out = gdf.drop(columns=[c for c in (id_col, "glacier_id") if c in gdf.columns])
    out.insert(0, "glacier_id", ids.to_numpy())
    o1 = _o1_codes(gdf, mapping, ids)
    out["o1region"] = o1
    out["o2region"] = _o2_codes(gdf, mapping, o1)
    out = _repair(out, name)
    out.attrs = {"source": name, "kind": inventory_kind(out["glacier_id"]), "repairs": out.attrs.get("repairs", [])}
    return out


def inventory_kind(ids: pd.Series) -> str:
    """Return ``rgi7``, ``rgi6`` (or ``rgi5``/``rgi4``), ``glims`` or ``other`` from the glacier id pattern."""
    first = str(ids.iloc[0]) if len(ids) else ""
    if RGI7_ID.match(first):
        return "rgi7"
    if m := re.match(r"^RGI([4-6])0-", first):
        return f"rgi{m.group(1)}"
    return "glims" if GLIMS_ID.match(first) else "other"


def _per_unique(values: pd.Series, func: Callable[[Any], str | None]) -> pd.Series:
    """Apply ``func`` once per distinct value (region columns hold a handful of codes in 10⁵ rows)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.array([func(u) for u in uniques] + [None], dtype=object)
    return pd.Series(mapped[codes], index=values.index, dtype=object)


def _two_digit(value: Any) -> str | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else f"{int(number):02d}"


def _o1_codes(gdf: gpd.GeoDataFrame, mapping: Mapping[str, str], ids: pd.Series) -> pd.Series:
    col = mapping.get("o1region") or _find(list(gdf.columns), O1_COLUMNS)
    if col is not None:
        return _per_unique(gdf[col], _two_digit)

    def from_id(gid: Any) -> str | None:
        m = _RGI7_PREFIX.match(str(gid)) or RGI_OLD_ID.match(str(gid))
        return m.group(1) if m else None

    # ids are unique, but their region prefix is not: map the prefix up to the region code
    prefix = ids.str.slice(0, 18)
    return _per_unique(prefix, from_id)


def _o2_codes(gdf: gpd.GeoDataFrame, mapping: Mapping[str, str], o1: pd.Series) -> pd.Series:
    col = mapping.get("o2region") or _find(list(gdf.columns), O2_COLUMNS)
    if col is None:
        return pd.Series([None] * len(gdf), index=gdf.index, dtype=object)
    pairs = o1.fillna("").astype(str) + "|" + gdf[col].astype(str).str.strip()

    def code(pair: Any) -> str | None:
        first, _, raw = str(pair).partition("|")
        m = re.match(r"^(\d{1,2})-(\d{1,2})$", raw)
        o1_code = _two_digit(m.group(1)) if m else (first or None)
        sub = _two_digit(m.group(2) if m else raw)
        return f"{o1_code}-{sub}" if o1_code and sub else None

    return _per_unique(pairs, code)


def _repair(gdf: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    geoms = gdf.geometry.to_numpy().copy()
    has_z = shapely.has_z(geoms)
    if has_z.any():
        geoms[has_z] = shapely.force_2d(geoms[has_z])
    ids = gdf["glacier_id"].to_numpy()
    repairs: list[Repair] = []
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    types = shapely.get_type_id(geoms)
    polygonal = np.isin(types, (3, 6))  # Polygon, MultiPolygon
    if not (polygonal & ~missing).any():
        kinds = sorted({g.geom_type for g in geoms[~missing]}) or ["no geometry"]
        raise InputError(f"inventory {name} holds {', '.join(kinds)} features, not glacier outlines (polygons)")
    for i in np.flatnonzero(missing):
        repairs.append(Repair(str(ids[i]), "empty geometry", "dropped"))
    for i in np.flatnonzero(~missing & ~polygonal):
        repairs.append(Repair(str(ids[i]), f"{geoms[i].geom_type}, not a polygon", "dropped"))
    keep = ~missing & polygonal
    invalid = keep & ~shapely.is_valid(geoms)
    if invalid.any():
        reasons = shapely.is_valid_reason(geoms[invalid])
        fixed = shapely.make_valid(geoms[invalid], method="structure", keep_collapsed=False)
        for j, (i, fix) in enumerate(zip(np.flatnonzero(invalid), fixed, strict=True)):
            polys = [p for p in shapely.get_parts(fix) if p.geom_type == "Polygon" and p.area > 0]
            if polys:
                geoms[i] = polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)
                repairs.append(Repair(str(ids[i]), str(reasons[j]), "repaired"))
            else:
                keep[i] = False
                repairs.append(Repair(str(ids[i]), f"{reasons[j]} (no area left)", "dropped"))
    if not keep.any():
        raise InputError(f"inventory {name} holds no usable outline: all {len(gdf)} were empty or collapsed")
    out = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    if not keep.all():
        out = out[keep]
    if repairs:
        fixed_n = sum(r.action == "repaired" for r in repairs)
        log.info("inventory %s: repaired %d invalid outlines, dropped %d (%s)", name, fixed_n,
                    len(repairs) - fixed_n, "; ".join(f"{r.glacier_id}: {r.problem}" for r in repairs[:5]))
    out.attrs = {"repairs": repairs}
    return out
