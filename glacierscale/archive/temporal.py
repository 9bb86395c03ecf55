"""At publish: re-estimate the glacier parts of every tile a run touched from the tile's whole series.

A run stages one (unit, year) at a time, but filling a cloud gap from the neighbouring years and the temporal
filter need every year of the tile (``glacierscale.reduce.temporal``). So when a run publishes, each tile it
wrote is read back from the archive, all years (the run's and those ``main`` already holds), with its live parts'
glacier polygons; the estimates go into the parts' estimate columns (``tables.PART_ESTIMATES``) and the
glacier-year records are summed from them. Cost: one tile's series in memory at a time (years × size² × ~20
bytes: 190 MB for 9 years of 1024² tiles) and, per tile, two chunk reads per year plus the polygons.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from glacierscale.archive import mosaics, tables
from glacierscale.archive.commit import parse_unit_id, tile_records
from glacierscale.reduce.temporal import TemporalOptions, glacier_years, tile_series

# part column ← GlacierYear field
WKB_BATCH = 256  # tiles whose polygons are read together
PREFETCH = 4  # tiles whose rasters are being read while one is computed
CHUNK_TILES = 1024  # tiles re-estimated (records, parts, polygons read; estimates written) together
ESTIMATES = {"est_area_km2": "area_km2", "filled_km2": "filled_km2", "filled_nearby_km2": "filled_nearby_km2",
             "filtered_km2": "filtered_km2", "est_perimeter_km": "perimeter_km", "model_var_km4": "model_var_km4"}


def options_from(config: dict[str, Any] | None) -> TemporalOptions:
    """Return the temporal options of a run config (its ``reduce`` section; defaults where absent)."""
    section = dict((config or {}).get("reduce") or {})
    fields = {"filter": "temporal_filter", "strong": "strong_evidence", "reach_m": "max_attribution_m",
              "correlation_px": "error_correlation_px"}
    kwargs = {k: section[v] for k, v in fields.items() if section.get(v) is not None}
    return TemporalOptions(**kwargs)


def min_observed_fraction(config: dict[str, Any] | None) -> float:
    """Return the config's ``reduce.min_observed_fraction`` (the default where absent)."""
    from glacierscale.archive.glaciers import MIN_OBSERVED_FRACTION

    value = ((config or {}).get("reduce") or {}).get("min_observed_fraction")
    return MIN_OBSERVED_FRACTION if value is None else float(value)


def touched_tiles(root: Any, keys: list[tuple[str, int]]) -> list[int]:
    """Return the tile indices of the (unit_id, year) items ``keys``."""
    ids = {k[0] for k in keys}
    units = tables.text(root["tiles"]["unit_id"][...]) if "tiles" in root else np.array([], dtype=object)
    return [i for i, u in enumerate(units) if u in ids]


def _rasterize(wkbs: list[bytes], labels: list[int], unit: Any) -> np.ndarray:
    import shapely
    from rasterio import features

    from glacierscale.reduce.areas import unit_transform

    shapes = [(g, v) for g, v in zip(shapely.from_wkb([w or None for w in wkbs]), labels, strict=True)
              if g is not None and not g.is_empty]
    side = (unit.size_px, unit.size_px)
    if not shapes:
        return np.zeros(side, np.int32)
    return features.rasterize(shapes, out_shape=side, transform=unit_transform(unit), fill=0, dtype="int32")


@dataclass
class _Zone:
    """A zone mosaic's grid, raster arrays and year index, opened once per publish."""

    grid: mosaics.ZoneGrid | None
    arrays: tuple[Any, Any] | None
    years: dict[int, int]

    @classmethod
    def open(cls, root: Any, epsg: int) -> _Zone:
        group = root["mosaics"][str(epsg)] if "mosaics" in root and str(epsg) in root["mosaics"] else None
        if group is None:
            return cls(None, None, {})
        return cls(mosaics.grid_of(group), (group["classes"], group["glacier_probability"]),
                   {int(v): i for i, v in enumerate(group["year"][...])})


def reestimate(root: Any, tiles: list[int], options: TemporalOptions, *, chunk_tiles: int = CHUNK_TILES
               ) -> pd.DataFrame:
    """Write the estimate columns of the live parts of ``tiles`` (all years); return their (glacier_id, year).

    Tiles are processed ``chunk_tiles`` at a time: a chunk's tile records, parts and polygons are read (only
    their rows), its tiles computed one at a time, its estimates written, then it is dropped, so memory is
    bounded by the chunk, not by the run. A tile's estimates depend on that tile alone: any chunking gives the
    same values.
    """
    parts_group = tables.open_table(root, "parts", {**tables.PARTS, **tables.PART_ESTIMATES}, create=True)
    order = sorted({int(t) for t in tiles})
    zones: dict[int, _Zone] = {}
    pairs: list[pd.DataFrame] = []
    step = max(1, chunk_tiles)
    for c in range(0, len(order), step):
        got = _reestimate_chunk(root, parts_group, order[c:c + step], zones, options)
        if got is not None:
            pairs.append(got)
    if not pairs:
        return pd.DataFrame(columns=["glacier_id", "year"])
    return pd.concat(pairs, ignore_index=True).drop_duplicates()


def _reestimate_chunk(root: Any, parts_group: Any, chunk: list[int], zones: dict[int, _Zone],
                      options: TemporalOptions) -> pd.DataFrame | None:
    """Re-estimate the tiles ``chunk`` (sorted) and write their parts' estimates; return their (glacier_id, year)."""
    import rasterio

    from glacierscale.archive.export import part_wkb
    from glacierscale.archive.glaciers import live_parts

    recs = tile_records(root, ("status",), chunk)
    parts = live_parts(root, tiles=chunk)
    if recs.empty or parts.empty:
        return None
    glacier_ids = dict(zip(chunk, tables.text(root["tiles"]["glacier_ids"].oindex[np.asarray(chunk)]), strict=True))
    by_tile = dict(list(parts.groupby("tile")))
    recs_by_tile = {t: r.sort_values("year") for t, r in recs.groupby("tile")}
    order = sorted(by_tile)
    idx: list[np.ndarray] = []
    cols: dict[str, list[np.ndarray]] = {c: [] for c in (*ESTIMATES, "est_boundary_km2")}
    for b in range(0, len(order), WKB_BATCH):
        batch = order[b:b + WKB_BATCH]
        seen = pd.concat([by_tile[t] for t in batch])
        seen = seen[seen["gap"] == 0]
        wkb = dict(zip(seen["part"].tolist(), part_wkb(root["parts"], seen["part"].to_numpy()), strict=True))
        for tile in batch:
            epsg = parse_unit_id(str(recs_by_tile[tile]["unit_id"].iloc[0]))[0]
            if epsg not in zones:
                zones[epsg] = _Zone.open(root, epsg)

        def read(tile: int) -> tuple[np.ndarray, np.ndarray]:
            recs_t = recs_by_tile[tile]
            return _read(str(recs_t["unit_id"].iloc[0]), recs_t, zones)

        # the chunk reads of the next tiles overlap the computation of this one (zarr waits, the GIL is free);
        # one GDAL environment for the batch (rasterio opens one per call otherwise)
        with ThreadPoolExecutor(PREFETCH) as pool, rasterio.Env():
            pending = {t: pool.submit(read, t) for t in batch[:PREFETCH]}
            for k, tile in enumerate(batch):
                if k + PREFETCH < len(batch):
                    pending[batch[k + PREFETCH]] = pool.submit(read, batch[k + PREFETCH])
                classes, prob = pending.pop(tile).result()
                recs_t = recs_by_tile[tile]
                got = _tile(str(recs_t["unit_id"].iloc[0]), str(glacier_ids[int(tile)]), recs_t, by_tile[tile], wkb,
                            classes, prob, options)
                idx.append(got[0])
                for name, column in got[1].items():
                    cols[name].append(column)
    where = np.concatenate(idx)
    sort = np.argsort(where)
    for name, pieces in cols.items():
        parts_group[name].oindex[where[sort]] = np.concatenate(pieces)[sort]
    return parts[["glacier_id", "year"]].astype({"glacier_id": str, "year": int}).drop_duplicates()


def _read(unit_id: str, recs: pd.DataFrame, zones: dict[int, _Zone]) -> tuple[np.ndarray, np.ndarray]:
    """Return the (years, y, x) classes and probability of one tile, its years as in ``recs`` (gaps all 255)."""
    epsg, _, size, col, row = parse_unit_id(unit_id)
    years = [int(y) for y in recs["year"]]
    zone = zones[epsg]
    classes = np.full((len(years), size, size), 255, np.uint8)
    prob = np.full((len(years), size, size), 255, np.uint8)
    done = [i for i, (y, status) in enumerate(zip(years, recs["status"], strict=True))
            if status == "done" and zone.arrays is not None and y in zone.years]
    if done and zone.arrays is not None and zone.grid is not None:
        ys, xs = zone.grid.pixel_window(col, row)
        at = [zone.years[years[i]] for i in done]
        classes[done] = zone.arrays[0].oindex[at, ys, xs]  # every year of the tile in one read per raster
        prob[done] = zone.arrays[1].oindex[at, ys, xs]
    return classes, prob


def _tile(unit_id: str, gids: str, recs: pd.DataFrame, mine: pd.DataFrame, wkb: dict[int, bytes],
          classes: np.ndarray, prob: np.ndarray, options: TemporalOptions) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Return (part indices, estimate columns) of one tile's live parts, from its series of every year."""
    from glacierscale.inventory.units import WorkUnit
    from glacierscale.reduce.areas import pixel_areas_km2, zone_mask

    epsg, res, size, col, row = parse_unit_id(unit_id)
    unit = WorkUnit(unit_id, epsg, col, row, res, size, tuple(gids.split(",")) if gids else ())
    years = [int(y) for y in recs["year"]]
    ids = sorted(set(mine["glacier_id"].astype(str)))
    index = {g: i for i, g in enumerate(ids)}
    labels = np.zeros((len(years), size, size), np.int32)
    by_year = dict(list(mine[mine["gap"] == 0].groupby("year")))
    for i, y in enumerate(years):
        py = by_year.get(y, mine.iloc[:0])
        if len(py):
            labels[i] = _rasterize([wkb[int(p)] for p in py["part"]], [index[str(g)] + 1 for g in py["glacier_id"]],
                                   unit)
    series = tile_series(years, classes, prob, labels, res, options)
    per_year = glacier_years(series, classes, len(ids), res, zone_mask(unit), options, pixel_areas_km2(unit))
    seen_year = [bool((classes[i] != 255).any()) for i in range(len(years))]
    out: dict[str, list[float]] = {c: [] for c in (*ESTIMATES, "est_boundary_km2")}
    for gid, y in zip(mine["glacier_id"].astype(str), mine["year"], strict=True):
        i = years.index(int(y))
        est = per_year[i].get(index[gid])
        known = est is not None or seen_year[i]
        for name, field in ESTIMATES.items():
            value = float(getattr(est, field)) if est is not None else 0.0
            out[name].append(value if known else np.nan)
        boundary = est.perimeter_km * res / 2000.0 if est is not None else 0.0  # perimeter × ½ pixel
        out["est_boundary_km2"].append(boundary if known else np.nan)
    return mine["part"].to_numpy(dtype=np.int64), {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}
