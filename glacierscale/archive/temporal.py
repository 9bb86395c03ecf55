"""At publish: re-estimate the glacier parts of every tile a run touched from the tile's whole series.

A run stages one (unit, year) at a time, but filling a cloud gap from the neighbouring years and the temporal
filter need every year of the tile (``glacierscale.reduce.temporal``). So when a run publishes, each tile it
wrote is read back from the archive, all years (the run's and those ``main`` already holds), with its live parts'
glacier polygons; the estimates go into the parts' estimate columns (``tables.PART_ESTIMATES``) and the
glacier-year records are summed from them. Cost: one tile's series in memory at a time (years × size² × ~20
bytes: 190 MB for 9 years of 1024² tiles) and, per tile, two chunk reads per year plus the polygons.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from glacierscale.archive import mosaics, tables
from glacierscale.archive.commit import parse_unit_id, tile_records
from glacierscale.reduce.temporal import TemporalOptions, glacier_years, tile_series

# part column ← GlacierYear field
WKB_BATCH = 256  # tiles whose polygons are read together
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


def reestimate(root: Any, tiles: list[int], options: TemporalOptions) -> pd.DataFrame:
    """Write the estimate columns of the live parts of ``tiles`` (all years); return their (glacier_id, year).

    Tiles are processed one at a time (their polygons read in batches of ``WKB_BATCH`` tiles); the estimates are
    written once per column at the end, so each chunk of the parts table is rewritten once.
    """
    from glacierscale.archive.export import part_wkb
    from glacierscale.archive.glaciers import live_parts

    parts_group = tables.open_table(root, "parts", {**tables.PARTS, **tables.PART_ESTIMATES}, create=True)
    recs = tile_records(root, ("status",))
    recs = recs[recs["tile"].isin(tiles)]
    parts = live_parts(root)
    parts = parts[parts["tile"].isin(tiles)]
    if recs.empty or parts.empty:
        return pd.DataFrame(columns=["glacier_id", "year"])
    glacier_ids = tables.text(root["tiles"]["glacier_ids"][...])
    zone_years: dict[int, dict[int, int]] = {}
    by_tile = dict(list(parts.groupby("tile")))
    order = sorted(by_tile)
    idx: list[np.ndarray] = []
    cols: dict[str, list[np.ndarray]] = {c: [] for c in (*ESTIMATES, "est_boundary_km2")}
    for b in range(0, len(order), WKB_BATCH):
        batch = order[b:b + WKB_BATCH]
        seen = pd.concat([by_tile[t] for t in batch])
        seen = seen[seen["gap"] == 0]
        wkb = dict(zip(seen["part"].tolist(), part_wkb(root["parts"], seen["part"].to_numpy()), strict=True))
        for tile in batch:
            recs_t = recs[recs["tile"] == tile].sort_values("year")
            got = _tile(root, str(recs_t["unit_id"].iloc[0]), str(glacier_ids[int(tile)]), recs_t, by_tile[tile], wkb,
                        zone_years, options)
            idx.append(got[0])
            for name, column in got[1].items():
                cols[name].append(column)
    where = np.concatenate(idx)
    sort = np.argsort(where)
    for name, pieces in cols.items():
        parts_group[name].oindex[where[sort]] = np.concatenate(pieces)[sort]
    return parts[["glacier_id", "year"]].astype({"glacier_id": str, "year": int}).drop_duplicates()


def _tile(root: Any, unit_id: str, gids: str, recs: pd.DataFrame, mine: pd.DataFrame, wkb: dict[int, bytes],
          zone_years: dict[int, dict[int, int]], options: TemporalOptions) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Return (part indices, estimate columns) of one tile's live parts, from its series of every year."""
    from glacierscale.inventory.units import WorkUnit
    from glacierscale.reduce.areas import zone_mask

    epsg, res, size, col, row = parse_unit_id(unit_id)
    unit = WorkUnit(unit_id, epsg, col, row, res, size, tuple(gids.split(",")) if gids else ())
    years = [int(y) for y in recs["year"]]
    ids = sorted(set(mine["glacier_id"].astype(str)))
    index = {g: i for i, g in enumerate(ids)}
    group = root["mosaics"][str(epsg)] if "mosaics" in root and str(epsg) in root["mosaics"] else None
    if group is not None and epsg not in zone_years:
        zone_years[epsg] = {int(v): i for i, v in enumerate(group["year"][...])}
    classes = np.full((len(years), size, size), 255, np.uint8)
    prob = np.full((len(years), size, size), 255, np.uint8)
    labels = np.zeros((len(years), size, size), np.int32)
    for i, (y, status) in enumerate(zip(years, recs["status"], strict=True)):
        if status == "done" and group is not None and y in zone_years[epsg]:
            classes[i], prob[i] = mosaics.read_tile(group, zone_years[epsg][y], col, row)
        py = mine[(mine["year"] == y) & (mine["gap"] == 0)]
        if len(py):
            labels[i] = _rasterize([wkb[int(p)] for p in py["part"]], [index[str(g)] + 1 for g in py["glacier_id"]],
                                   unit)
    series = tile_series(years, classes, prob, labels, res, options)
    per_year = glacier_years(series, classes, len(ids), res, zone_mask(unit), options)
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
