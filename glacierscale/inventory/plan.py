"""The run plan: inventory → selected glaciers → tiles → work units (tile × time window) as GeoParquet.

One row per work unit. Columns (see docs/planning.md): ``work_id`` (``{unit_id}_{year}``), ``unit_id``,
``year``, ``window_start``, ``window_end``, ``hemisphere``, ``epsg``, ``crs_kind``, ``col``, ``row``,
``resolution``, ``size_px``, ``overlap_px``, ``margin_m``, ``minx``..``maxy`` (core tile in its CRS),
``n_glaciers``, ``glacier_ids`` (list), ``regions`` (list of first-order codes), ``region`` (the code most of
its glaciers are in), and ``geometry``: the core tile footprint in EPSG:4326, cut at the antimeridian.
The table is built column-wise with pyarrow (1 M work units for the RGI 7.0 world stay within seconds).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import shapely
from pyproj import CRS, Transformer

from glacierscale.errors import ConfigError, InputError
from glacierscale.inventory.grid import (
    DEFAULT_MARGIN_M,
    DEFAULT_OVERLAP_PX,
    DEFAULT_RESOLUTION_M,
    DEFAULT_TILE_PX,
    Memberships,
    assign_tiles,
    crs_kind,
    to_lonlat,
)
from glacierscale.inventory.readers import Repair, inventory_repairs, read_outlines
from glacierscale.inventory.regions import O1_NAMES, Selection, select_glaciers
from glacierscale.inventory.units import WorkUnit, unit_id, units_from_memberships

PLAN_COLUMNS = ("work_id", "unit_id", "year", "window_start", "window_end", "hemisphere", "epsg", "crs_kind", "col",
                "row", "resolution", "size_px", "overlap_px", "margin_m", "minx", "miny", "maxx", "maxy",
                "n_glaciers", "glacier_ids", "regions", "region", "geometry")
NO_REGION = "--"


@dataclass(frozen=True)
class PlanSpec:
    """How to cut the glaciers into work units: grid, margin, overlap, years and season windows (MM-DD)."""

    resolution: float = DEFAULT_RESOLUTION_M
    tile_size: int = DEFAULT_TILE_PX
    margin_m: float = DEFAULT_MARGIN_M
    overlap_px: int = DEFAULT_OVERLAP_PX
    years: tuple[int, ...] = ()
    season: tuple[str, str] = ("07-15", "09-30")
    south_season: tuple[str, str] = ("01-15", "03-31")

    @property
    def span_m(self) -> float:
        """Return the tile side in metres."""
        return self.tile_size * self.resolution


@dataclass
class Plan:
    """A plan: its tiles (one row each), which glaciers each lists, and what planning saw on the way."""

    tiles: pd.DataFrame  # unit_id, epsg, crs_kind, col, row, minx..maxy, n_glaciers, region, hemisphere, footprint
    members: Memberships  # sorted by tile; glacier indexes into ``glaciers``
    glaciers: pd.DataFrame  # selected glaciers: glacier_id, o1region, outline_km2, n_tiles
    source: str
    selection: Selection
    spec: PlanSpec
    n_read: int
    repairs: list[Repair] = field(default_factory=list)

    def units(self) -> list[WorkUnit]:
        """Return the plan's tiles as WorkUnits (the same as ``plan_units`` gives for the selected glaciers)."""
        return units_from_memberships(self.members, self.glaciers["glacier_id"].to_numpy(), resolution=self.spec.resolution,
                                      tile_size=self.spec.tile_size, overlap_px=self.spec.overlap_px)

    def table(self) -> pa.Table:
        """Return the work-unit table (one row per tile × year) as a GeoParquet-ready Arrow table."""
        return _work_unit_table(self)

    def summary(self) -> PlanSummary:
        """Return the per-region and per-CRS summary."""
        return summarize(self)


@dataclass(frozen=True)
class PlanSummary:
    """Units per region and per CRS, glacier counts and areas, totals."""

    by_region: pd.DataFrame  # region, name, glaciers, area_km2, tiles, work_units
    by_crs: pd.DataFrame  # epsg, crs_kind, tiles, work_units, glaciers
    tiles: int
    work_units: int
    glaciers: int
    area_km2: float
    tile_area_km2: float


def make_plan(inventory: str | Path | gpd.GeoDataFrame, spec: PlanSpec, selection: Selection | None = None, *,
              columns: dict[str, str] | None = None) -> Plan:
    """Read (or take) an inventory, select glaciers (all by default), tile them and return the plan."""
    selection = selection or Selection()
    if isinstance(inventory, gpd.GeoDataFrame):
        inv, source = inventory, f"inventory {inventory.attrs.get('source', '(in memory)')}"
    else:
        inv = read_outlines(inventory, columns=columns, regions=selection.regions)
        source = f"inventory {inventory}"
    n_read, repairs = len(inv), inventory_repairs(inv)
    # areas come with the tiling (projected, scale-corrected), so the area criterion is applied after it
    outlines = select_glaciers(to_lonlat(inv, areas=False), replace(selection, min_area_km2=0.0), source=source)
    del inv
    tiling = assign_tiles(outlines.geometry.to_numpy(), resolution=spec.resolution, tile_size=spec.tile_size,
                          margin_m=spec.margin_m)
    o1 = outlines["o1region"].fillna(NO_REGION).astype(str).to_numpy() if "o1region" in outlines \
        else np.full(len(outlines), NO_REGION)
    glaciers = pd.DataFrame({"glacier_id": outlines["glacier_id"].astype(str).to_numpy(), "o1region": o1,
                             "outline_km2": tiling.area_km2})
    members = tiling.members
    if selection.min_area_km2 > 0:
        big = tiling.area_km2 >= selection.min_area_km2
        if not big.any():
            raise ConfigError(f"the selection ({selection.describe()}) leaves no glacier of {source}: none of the "
                              f"{len(outlines)} glaciers otherwise selected is >= {selection.min_area_km2:g} km²")
        keep_index = np.flatnonzero(big)
        renumber = np.full(len(big), -1, dtype=np.int64)
        renumber[keep_index] = np.arange(len(keep_index))
        members = members.subset(big)
        members = Memberships(renumber[members.glacier], members.epsg, members.col, members.row)
        glaciers = glaciers.iloc[keep_index].reset_index(drop=True)
    glaciers["n_tiles"] = np.bincount(members.glacier, minlength=len(glaciers))
    tiles = _tiles(members, glaciers["o1region"].to_numpy(), spec)
    return Plan(tiles, members, glaciers, source, selection, spec, n_read, repairs)


def _tile_starts(m: Memberships) -> np.ndarray:
    """Return the first membership row of every tile (rows are sorted by tile)."""
    return np.flatnonzero(np.r_[True, (np.diff(m.epsg) != 0) | (np.diff(m.col) != 0) | (np.diff(m.row) != 0)])


def _tiles(m: Memberships, o1: np.ndarray, spec: PlanSpec) -> pd.DataFrame:
    starts = _tile_starts(m)
    tile_of = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(m)]))
    epsg, col, row = m.epsg[starts], m.col[starts], m.row[starts]
    t = pd.DataFrame({"epsg": epsg.astype(np.int32), "col": col, "row": row})
    t.insert(0, "unit_id", [unit_id(int(e), spec.resolution, spec.tile_size, int(c), int(r))
                            for e, c, r in zip(epsg.tolist(), col.tolist(), row.tolist(), strict=True)])
    t["crs_kind"] = pd.Series(epsg).map(lambda e: crs_kind(int(e))).to_numpy()
    span = spec.span_m
    t["minx"], t["miny"] = col * span, row * span
    t["maxx"], t["maxy"] = (col + 1) * span, (row + 1) * span
    t["n_glaciers"] = np.diff(np.r_[starts, len(m)]).astype(np.int32)
    counts = pd.DataFrame({"tile": tile_of, "region": o1[m.glacier]}).value_counts().rename("n").reset_index()
    major = counts.sort_values(["tile", "n", "region"], ascending=[True, False, True]).drop_duplicates("tile")
    t["region"] = major.set_index("tile")["region"].reindex(range(len(t))).to_numpy()
    footprint, centre_lat = _footprints(t, span)
    t["hemisphere"] = np.where(centre_lat >= 0, "north", "south")
    t["footprint"] = footprint
    return t


def _footprints(tiles: pd.DataFrame, span: float) -> tuple[np.ndarray, np.ndarray]:
    """Return tile footprints in lon/lat (densified, cut at the antimeridian) and the centre latitudes."""
    geoms = np.empty(len(tiles), dtype=object)
    lat = np.empty(len(tiles), dtype=np.float64)
    for code, idx in tiles.groupby("epsg").indices.items():
        minx, miny = tiles["minx"].to_numpy()[idx], tiles["miny"].to_numpy()[idx]
        boxes = _densified_boxes(minx, miny, span)
        tf = Transformer.from_crs(int(code), 4326, always_xy=True)
        ll = shapely.transform(boxes, lambda xy, tf=tf: np.column_stack(tf.transform(xy[:, 0], xy[:, 1])))
        _, lat[idx] = tf.transform(minx + span / 2, miny + span / 2)
        b = shapely.bounds(ll)
        wide = np.flatnonzero(b[:, 2] - b[:, 0] > 180.0)
        ll[wide] = [_cut_antimeridian(g) for g in ll[wide]]
        geoms[idx] = ll
    return geoms, lat


def _densified_boxes(minx: np.ndarray, miny: np.ndarray, span: float, per_edge: int = 2) -> np.ndarray:
    """Return square polygons with ``per_edge`` segments per side, so they bend correctly when reprojected."""
    f = np.arange(per_edge) / per_edge
    ring_x = np.concatenate([f, np.ones(per_edge), 1 - f, np.zeros(per_edge), [0.0]])
    ring_y = np.concatenate([np.zeros(per_edge), f, np.ones(per_edge), 1 - f, [0.0]])
    coords = np.stack([minx[:, None] + span * ring_x, miny[:, None] + span * ring_y], axis=-1)
    return np.asarray(shapely.polygons(coords))


def _cut_antimeridian(geom: shapely.Geometry) -> shapely.Geometry:
    unwrapped = shapely.transform(geom, lambda xy: np.where(xy[:, :1] < 0, xy + np.array([360.0, 0.0]), xy))
    west = shapely.intersection(unwrapped, shapely.box(0.0, -90.0, 180.0, 90.0))
    east = shapely.transform(shapely.intersection(unwrapped, shapely.box(180.0, -90.0, 360.0, 90.0)),
                             lambda xy: xy - np.array([360.0, 0.0]))
    parts = [p for g in (west, east) for p in shapely.get_parts(g) if p.geom_type == "Polygon" and p.area > 0]
    return shapely.MultiPolygon(parts)


def _tile_table(plan: Plan) -> pa.Table:
    """Return one row per tile: grid, glacier ids (sorted, as in WorkUnit), regions and footprint (WKB)."""
    t, m = plan.tiles, plan.members
    ids = plan.glaciers["glacier_id"].to_numpy()
    rank = np.empty(len(ids), dtype=np.int64)
    rank[np.argsort(ids, kind="stable")] = np.arange(len(ids))
    starts = _tile_starts(m)
    tile_of = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(m)]))
    order = np.lexsort((rank[m.glacier], tile_of))
    offsets = pa.array(np.r_[starts, len(m)].astype(np.int32))
    glacier_ids = pa.ListArray.from_arrays(offsets, pa.array(ids[m.glacier[order]], pa.string()))
    pairs = pd.DataFrame({"tile": tile_of, "region": plan.glaciers["o1region"].to_numpy()[m.glacier]})
    pairs = pairs.drop_duplicates().sort_values(["tile", "region"])
    region_offsets = np.r_[0, np.cumsum(np.bincount(pairs["tile"], minlength=len(t)))].astype(np.int32)
    regions = pa.ListArray.from_arrays(pa.array(region_offsets), pa.array(pairs["region"].to_numpy(), pa.string()))
    columns = {name: t[name].to_numpy() for name in ("unit_id", "hemisphere", "epsg", "crs_kind", "col", "row",
                                                      "minx", "miny", "maxx", "maxy", "n_glaciers", "region")}
    return pa.table({**columns, "glacier_ids": glacier_ids, "regions": regions,
                     "geometry": pa.array(shapely.to_wkb(t["footprint"].to_numpy()), pa.binary())})


def _work_unit_table(plan: Plan) -> pa.Table:
    """Return tile × year rows; the tile columns are shared between the years (no copies)."""
    spec, tiles = plan.spec, _tile_table(plan)
    n = tiles.num_rows
    north = plan.tiles["hemisphere"].to_numpy() == "north"
    constant = {"resolution": pa.array(np.full(n, float(spec.resolution))),
                "size_px": pa.array(np.full(n, spec.tile_size, np.int32)),
                "overlap_px": pa.array(np.full(n, spec.overlap_px, np.int32)),
                "margin_m": pa.array(np.full(n, float(spec.margin_m)))}
    per_year = []
    years: list[int | None] = [*spec.years] or [None]
    for y in years:
        year = pa.array(np.full(n, y if y is not None else 0, np.int32), mask=np.full(n, y is None))
        columns = {**constant, "year": year,
                   "work_id": pc.binary_join_element_wise(tiles["unit_id"], "any" if y is None else str(y), "_"),
                   "window_start": _dates(y, np.where(north, spec.season[0], spec.south_season[0])),
                   "window_end": _dates(y, np.where(north, spec.season[1], spec.south_season[1]))}
        per_year.append(pa.table({c: columns[c] if c in columns else tiles[c] for c in PLAN_COLUMNS}))
    table = pa.concat_tables(per_year)
    b = shapely.total_bounds(plan.tiles["footprint"].to_numpy()) if n else np.zeros(4)
    geo = {"version": "1.0.0", "primary_column": "geometry", "columns": {"geometry": {
        "encoding": "WKB", "geometry_types": ["Polygon", "MultiPolygon"], "crs": CRS.from_epsg(4326).to_json_dict(),
        "bbox": [float(v) for v in b]}}}
    return table.replace_schema_metadata({b"geo": json.dumps(geo).encode()})


def _dates(year: int | None, month_days: np.ndarray) -> pa.Array:
    if year is None:
        return pa.nulls(len(month_days), pa.date32())
    kinds, index = np.unique(month_days, return_inverse=True)  # two season bounds at most
    days = np.array([np.datetime64(f"{year}-{md}", "D") for md in kinds])
    return pa.array(days[index], pa.date32())


def summarize(plan: Plan) -> PlanSummary:
    """Return units per region and per CRS, glacier counts and areas (km², ellipsoidal) of a plan."""
    windows = max(1, len(plan.spec.years))
    g, m, t = plan.glaciers, plan.members, plan.tiles
    by_region = g.groupby("o1region").agg(glaciers=("glacier_id", "nunique"), area_km2=("outline_km2", "sum"))
    tile_of = np.repeat(np.arange(len(t)), t["n_glaciers"].to_numpy())
    pairs = pd.DataFrame({"tile": tile_of, "region": g["o1region"].to_numpy()[m.glacier]}).drop_duplicates()
    by_region["tiles"] = pairs.groupby("region").size().reindex(by_region.index).fillna(0).astype(int)
    by_region["work_units"] = by_region["tiles"] * windows
    by_region.insert(0, "name", [O1_NAMES.get(str(c), "(no RGI region)") for c in by_region.index])
    by_region = by_region.reset_index().rename(columns={"o1region": "region"})
    by_crs = t.groupby(["epsg", "crs_kind"]).agg(tiles=("unit_id", "size"), glaciers=("n_glaciers", "sum"))
    by_crs["work_units"] = by_crs["tiles"] * windows
    by_crs = by_crs.reset_index()[["epsg", "crs_kind", "tiles", "work_units", "glaciers"]]
    return PlanSummary(by_region, by_crs, len(t), len(t) * windows, int(g["glacier_id"].nunique()),
                       float(g["outline_km2"].sum()), len(t) * (plan.spec.span_m / 1000.0) ** 2)


def write_plan(plan: Plan, path: str | Path) -> Path:
    """Write the plan's work-unit table as GeoParquet (zstd) and return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    # tiles repeat once per year: a dictionary large enough for all footprints and id lists stores each once
    pq.write_table(plan.table(), out, compression="zstd", dictionary_pagesize_limit=64 << 20)
    return out


def read_plan(path: str | Path) -> tuple[list[WorkUnit], list[int]]:
    """Return the distinct tiles (as WorkUnits) and the years of a plan written by :func:`write_plan`."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"plan {p} does not exist")
    try:
        df = pd.read_parquet(p, columns=["unit_id", "year", "epsg", "col", "row", "resolution", "size_px",
                                         "overlap_px", "glacier_ids"])
    except Exception as err:
        raise InputError(f"plan {p} is not a glacierscale plan (GeoParquet from `glacierscale plan`): {err}") from None
    tiles = df.drop_duplicates("unit_id")
    units = [WorkUnit(str(r.unit_id), int(r.epsg), int(r.col), int(r.row), float(r.resolution), int(r.size_px),
                      tuple(str(g) for g in r.glacier_ids), int(r.overlap_px))
             for r in tiles.itertuples(index=False)]
    bad = [u.unit_id for u in units if u.unit_id != unit_id(u.epsg, u.resolution, u.size_px, u.col, u.row)]
    if bad:
        raise InputError(f"plan {p} has unit ids that do not match their grid columns: {', '.join(bad[:3])}")
    return units, sorted(int(y) for y in df["year"].dropna().unique())


def default_years(today: dt.date | None = None) -> tuple[int, ...]:
    """Return 2016 (the Sentinel-2 era) to the last complete year."""
    last = (today or dt.date.today()).year - 1
    return tuple(range(2016, last + 1))


def years_label(years: Sequence[int]) -> str:
    """Return ``2016-2024`` for a contiguous run of years, else the list."""
    ys = sorted(years)
    if not ys:
        return "no time window"
    if ys == list(range(ys[0], ys[-1] + 1)) and len(ys) > 2:
        return f"{ys[0]}-{ys[-1]}"
    return ",".join(map(str, ys))
