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
    """Write the estimate columns of the live parts of ``tiles`` (all years); return their (glacier_id, year)."""
    from glacierscale.archive.export import part_wkb
    from glacierscale.archive.glaciers import live_parts
    from glacierscale.inventory.units import WorkUnit
    from glacierscale.reduce.areas import zone_mask

    parts_group = tables.open_table(root, "parts", {**tables.PARTS, **tables.PART_ESTIMATES}, create=True)
    recs = tile_records(root, ("status",))
    recs = recs[recs["tile"].isin(tiles)]
    if recs.empty:
        return pd.DataFrame(columns=["glacier_id", "year"])
    parts = live_parts(root)
    parts = parts[parts["tile"].isin(tiles)]
    tiles_group = root["tiles"]
    touched = []
    for tile, recs_t in recs.groupby("tile"):
        unit_id = str(recs_t["unit_id"].iloc[0])
        epsg, res, size, col, row = parse_unit_id(unit_id)
        gids = str(tiles_group["glacier_ids"][int(tile)])
        unit = WorkUnit(unit_id, epsg, col, row, res, size, tuple(gids.split(",")) if gids else ())
        recs_t = recs_t.sort_values("year")
        years = [int(y) for y in recs_t["year"]]
        mine = parts[parts["tile"] == tile]
        if mine.empty:
            continue
        ids = sorted(set(mine["glacier_id"].astype(str)))
        index = {g: i for i, g in enumerate(ids)}
        group = root["mosaics"][str(epsg)] if "mosaics" in root and str(epsg) in root["mosaics"] else None
        zone_years = {int(v): i for i, v in enumerate(group["year"][...])} if group is not None else {}
        classes = np.full((len(years), size, size), 255, np.uint8)
        prob = np.full((len(years), size, size), 255, np.uint8)
        labels = np.zeros((len(years), size, size), np.int32)
        for i, (y, status) in enumerate(zip(years, recs_t["status"], strict=True)):
            if status == "done" and group is not None and y in zone_years:
                classes[i], prob[i] = mosaics.read_tile(group, zone_years[y], col, row)
            py = mine[(mine["year"] == y) & (mine["gap"] == 0)]
            if len(py):
                labels[i] = _rasterize(part_wkb(root["parts"], py["part"].to_numpy()),
                                       [index[str(g)] + 1 for g in py["glacier_id"]], unit)
        series = tile_series(years, classes, prob, labels, res, options)
        per_year = glacier_years(series, classes, len(ids), res, zone_mask(unit), options)
        idx: list[int] = []
        cols: dict[str, list[float]] = {c: [] for c in (*ESTIMATES, "est_boundary_km2")}
        for part, gid, y in zip(mine["part"], mine["glacier_id"].astype(str), mine["year"], strict=True):
            est = per_year[years.index(int(y))].get(index[gid])
            known = est is not None or bool((classes[years.index(int(y))] != 255).any())
            idx.append(int(part))
            for name, field in ESTIMATES.items():
                value = float(getattr(est, field)) if est is not None else 0.0
                cols[name].append(value if known else np.nan)
            boundary = est.perimeter_km * res / 2000.0 if est is not None else 0.0  # perimeter × ½ pixel
            cols["est_boundary_km2"].append(boundary if known else np.nan)
        order = np.argsort(idx)
        for name, values in cols.items():
            parts_group[name].oindex[np.asarray(idx)[order]] = np.asarray(values, dtype=np.float64)[order]
        touched.append(mine[["glacier_id", "year"]])
    if not touched:
        return pd.DataFrame(columns=["glacier_id", "year"])
    return pd.concat(touched).astype({"glacier_id": str, "year": int}).drop_duplicates()

