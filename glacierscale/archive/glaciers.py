"""Per-glacier records: (glacier, year) values summed from the live parts of every tile, and run records.

A glacier that spans several tiles has one part per tile-year; its area for a year is the sum of its parts.
A part is live while its tile-year record points at it (``parts_start``/``parts_count``), so re-doing a
tile-year replaces its old parts. Quality: ``gap`` when every tile of the glacier-year had no usable view,
``partial`` when some had none or the observed fraction is below 0.9, else ``ok``. The area is the best
estimate (observed + filled, ``archive/temporal.py``), with its sources in ``area_source`` (``radar`` where a run
that maps under clouds read part of the outline from SAR + DEM alone; ``radar_fraction`` says how much).
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import pandas as pd

from glacierscale.archive import tables
from glacierscale.archive.commit import tile_records

PARTIAL_BELOW = 0.9  # observed fraction under which a glacier-year is "partial"
MIN_OBSERVED_FRACTION = 0.5  # default of config reduce.min_observed_fraction: below it, no change rate


def live_parts(root: Any, glacier_ids: set[str] | None = None, *, tiles: list[int] | None = None) -> pd.DataFrame:
    """Return the live parts (optionally of some glaciers) with their tile-year's sensors and model hash.

    ``tiles``: only the parts of these tile indices (sorted), and only their rows are read. The estimate
    columns (``tables.PART_ESTIMATES``) are NaN for parts never re-estimated at a publish.
    """
    recs = tile_records(root, ("status", "model_hash", "sensors", "parts_start", "parts_count"), tiles)
    parts = root.get("parts")
    numbers = (*tables.PART_NUMBERS, *tables.PART_ESTIMATES)
    if parts is None or recs.empty:
        return pd.DataFrame(columns=["tile", "year", "glacier_id", *numbers, "gap", "part"])
    counts = recs["parts_count"].to_numpy(dtype=np.int64)
    starts = recs["parts_start"].to_numpy(dtype=np.int64)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    pointed = np.unique(np.repeat(starts, counts) + offsets)  # sorted part indices the records point at
    have = set(parts.array_keys())

    def take(name: str, rows: np.ndarray) -> np.ndarray:
        """The rows of one parts column: only those rows for some tiles, else the column read whole."""
        arr = parts[name]
        return np.asarray(arr.oindex[rows]) if tiles is not None else np.asarray(arr[...])[rows]

    gid = tables.text(take("glacier_id", pointed))
    keep = np.isin(gid, list(glacier_ids)) if glacier_ids is not None else np.ones(len(pointed), bool)
    idx, gid = pointed[keep], gid[keep]
    columns = {c: take(c, idx) if c in have else np.full(len(idx), np.nan) for c in ("tile", "year", "gap", *numbers)}
    frame = pd.DataFrame({"part": idx, "glacier_id": gid, **columns})
    return frame.merge(recs[["tile", "year", "model_hash", "sensors"]], on=["tile", "year"], how="left")


def tiles_listing(root: Any, glacier_ids: set[str]) -> list[int]:
    """Return the (sorted) tile indices whose unit lists one of ``glacier_ids`` (``tiles/glacier_ids``)."""
    if "tiles" not in root or "glacier_ids" not in root["tiles"]:
        return []
    listed = tables.text(root["tiles"]["glacier_ids"][...])
    return [i for i, gids in enumerate(listed) if gids and not glacier_ids.isdisjoint(str(gids).split(","))]


def _sum(s: pd.Series) -> float:
    return float(s.sum(min_count=1))


def summarise(parts: pd.DataFrame, min_observed_fraction: float = MIN_OBSERVED_FRACTION) -> pd.DataFrame:
    """Return one row per (glacier_id, year) with the archived glacier-year values.

    ``area_km2`` is the best estimate: the re-estimated parts (observed ice after the temporal filter plus
    the filled unobserved part, ``archive/temporal.py``) where a publish made them, else the observed ice.
    ``area_unc_km2`` = √(boundary² + model²). Glacier-years observed below ``min_observed_fraction`` (or not
    at all) name the reason in ``change_excluded`` and are left out of change rates.
    """
    p = parts.copy()
    seen = p["gap"] == 0
    for c in ("area_km2", "debris_km2", "unc_km2", "outline_km2", "observed_km2"):
        p[c] = p[c].where(seen)
    est = p["est_area_km2"].notna()
    p["best"] = p["est_area_km2"].where(est, p["area_km2"])
    p["boundary"] = p["est_boundary_km2"].where(est, p["unc_km2"])
    p["var"] = p["model_var_km4"].where(est, 0.0).where(p["best"].notna())
    p["filled"] = p["filled_km2"].where(est, 0.0)
    p["nearby"] = p["filled_nearby_km2"].where(est, 0.0)
    p["seen"] = seen
    p["radar"] = p["radar_km2"].where(seen, 0.0).fillna(0.0)  # NaN: a part archived before the column existed
    p["sensors"] = p["sensors"].where(seen, "")
    p["model_hash"] = p["model_hash"].where(seen, "")

    def joined(values: pd.Series) -> str:
        return ",".join(sorted({s for v in values for s in str(v).split(",") if s}))

    g = p.groupby(["glacier_id", "year"], sort=True)
    out = g.agg(area_km2=("best", _sum), observed_area_km2=("area_km2", _sum), debris_km2=("debris_km2", _sum),
                boundary=("boundary", _sum), var=("var", _sum), filled_km2=("filled", "sum"),
                nearby=("nearby", "sum"), outline=("outline_km2", "sum"), observed=("observed_km2", "sum"),
                radar=("radar", "sum"),
                any_seen=("seen", "any"), all_seen=("seen", "all"),
                sensors=("sensors", joined), model_hash=("model_hash", joined)).reset_index()
    frac = np.where(out["outline"] > 0, out["observed"] / out["outline"].where(out["outline"] > 0, 1.0), np.nan)
    out["observed_fraction"] = np.where(out["any_seen"], frac, 0.0)
    radar = np.where(out["outline"] > 0, out["radar"] / out["outline"].where(out["outline"] > 0, 1.0), np.nan)
    out["radar_fraction"] = np.where(out["any_seen"], radar, 0.0)
    out["quality"] = np.select([~out["any_seen"], ~out["all_seen"] | (out["observed_fraction"] < PARTIAL_BELOW)],
                               ["gap", "partial"], "ok")
    out["area_unc_boundary_km2"] = out["boundary"]
    out["area_unc_model_km2"] = np.sqrt(out["var"])
    out["area_unc_km2"] = np.sqrt(out["boundary"] ** 2 + out["var"])
    has_area = out["area_km2"].notna()
    out["filled_km2"] = out["filled_km2"].where(has_area)
    years_fill = (out["filled_km2"] - out["nearby"]) > 1e-9
    out["area_source"] = [
        "+".join(s for s, on in (("observed", a), ("radar", r), ("years", b), ("nearby", c)) if on) if h else ""
        for a, r, b, c, h in zip(out["any_seen"], out["radar"] > 1e-9, years_fill, out["nearby"] > 1e-9, has_area,
                                 strict=True)]
    out["change_excluded"] = [
        "nothing observed" if not seen_any else
        (f"observed fraction {f:.2f} < {min_observed_fraction:.2f}" if not f >= min_observed_fraction else "")
        for seen_any, f in zip(out["any_seen"], out["observed_fraction"], strict=True)]
    return out.drop(columns=["outline", "observed", "any_seen", "all_seen", "boundary", "var", "nearby", "radar"])


def update_glaciers(root: Any, touched: pd.DataFrame, attrs: pd.DataFrame | None, run_id: str,
                    min_observed_fraction: float = MIN_OBSERVED_FRACTION, mapped: pd.DataFrame | None = None, *,
                    tiles: list[int] | None = None) -> int:
    """Recompute the (glacier, year) records of ``touched`` (glacier_id, year) pairs; return how many changed.

    ``mapped``: the pairs this run mapped (default: all touched); the others were only re-estimated from their
    neighbours and keep the run id they had. ``tiles``: the run's tile indices; the parts read are those of
    these tiles and of every tile whose unit lists one of the glaciers, not the whole archive's.
    """
    if touched.empty:
        return 0
    ids = set(touched["glacier_id"].astype(str))
    scope = None if tiles is None else sorted(set(tiles) | set(tiles_listing(root, ids)))
    summary = summarise(live_parts(root, ids, tiles=scope), min_observed_fraction)
    pairs = touched[["glacier_id", "year"]].drop_duplicates().astype({"glacier_id": str, "year": int})
    values = pairs.merge(summary, on=["glacier_id", "year"], how="left")
    values["quality"] = values["quality"].fillna("")
    for c in ("sensors", "model_hash", "area_source", "change_excluded"):
        values[c] = values[c].fillna("")
    values["run_id"] = np.where(values["quality"] != "", run_id, "")
    group = tables.open_table(root, "glaciers", tables.GLACIERS, create=True)
    all_ids = _insert(group, sorted(ids))
    if attrs is not None and not attrs.empty:
        a = attrs.astype({"glacier_id": str}).drop_duplicates("glacier_id").set_index("glacier_id")
        a = a.loc[a.index.intersection(sorted(ids))]
        if len(a):
            pos = np.searchsorted(all_ids, a.index.to_numpy(dtype=object))
            for n in tables.GLACIER_ATTRS[1:]:
                if n in a:
                    col = a[n]
                    group[n].oindex[pos] = (col.astype(float).to_numpy() if n in ("lon", "lat")
                                            else tables.strings(col.fillna("")))
    _candidate_attrs(group, all_ids, ids)
    years = tables.year_indices(group, sorted(values["year"].unique().tolist()))
    pos = np.searchsorted(all_ids, values["glacier_id"].to_numpy(dtype=object))
    yi = values["year"].map(years).to_numpy()
    if mapped is not None:
        keys = set(zip(mapped["glacier_id"].astype(str), mapped["year"].astype(int), strict=True))
        mine = np.array([(g, int(y)) in keys for g, y in zip(values["glacier_id"], values["year"], strict=True)], bool)
        before = tables.text(group["run_id"].vindex[pos, yi]) if len(pos) else np.array([], dtype=object)
        values["run_id"] = np.where(mine | (before == ""), values["run_id"], before)
    for n in tables.GLACIER_YEAR:
        col = values[n]
        group[n].vindex[pos, yi] = tables.strings(col) if tables.GLACIERS[n][1] == "str" else col.to_numpy(dtype=float)
    return len(values)


def _candidate_attrs(group: Any, all_ids: np.ndarray, ids: set[str]) -> None:
    """Write the location of candidate glaciers (ice outside every outline), read from their ids."""
    from glacierscale.reduce.candidates import candidate_location, is_candidate

    cands = sorted(g for g in ids if is_candidate(g))
    if not cands:
        return
    pos = np.searchsorted(all_ids, np.asarray(cands, dtype=object))
    where = np.array([candidate_location(g) for g in cands], dtype=np.float64)
    group["lon"].oindex[pos] = where[:, 0]
    group["lat"].oindex[pos] = where[:, 1]


def _insert(group: Any, ids: list[str]) -> np.ndarray:
    """Add missing glacier ids keeping the axis sorted; return the sorted ids. Appends when they sort last."""
    have = tables.text(group["glacier_id"][...])
    new = sorted(set(ids) - set(have.tolist()))
    if not new:
        return have
    if len(have) == 0 or new[0] > have[-1]:
        tables.append(group, "glacier", {"glacier_id": tables.strings(new)})
        return np.concatenate([have, np.asarray(new, dtype=object)])
    # an id sorting inside the axis: rewrite the glacier group in order (a new region of lower ids, rare)
    merged = np.asarray(sorted([*have.tolist(), *new]), dtype=object)
    where = np.searchsorted(merged, have)
    arrays = {name: np.asarray(arr[...]) for name, arr in group.arrays()
              if "glacier" in (arr.metadata.dimension_names or ())}
    tables.grow(group, "glacier", len(merged))
    for name, old in arrays.items():
        fill = group[name].fill_value
        old = tables.text(old) if old.dtype.kind == "T" else old
        data = np.full((len(merged), *old.shape[1:]), fill, dtype=old.dtype)
        data[where] = old
        if name == "glacier_id":
            data = merged
        group[name][...] = data
    return merged


def append_run(root: Any, run_id: str, base: str, record: dict[str, Any]) -> None:
    """Append one record to ``runs``."""
    group = tables.open_table(root, "runs", tables.RUNS, create=True)
    tables.append(group, "run", {"run_id": tables.strings([run_id]),
                                 "published_at": tables.strings([time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())]),
                                 "source_snapshot": tables.strings([base]),
                                 "record": tables.strings([json.dumps(record, default=str)])})


def runs(root: Any) -> pd.DataFrame:
    """Return the run records (run_id, published_at, source_snapshot, record as dict)."""
    if "runs" not in root:
        return pd.DataFrame(columns=list(tables.RUNS))
    data = tables.read(root["runs"], list(tables.RUNS))
    frame = pd.DataFrame({k: tables.text(v) for k, v in data.items()})
    frame["record"] = [json.loads(r) if r else {} for r in frame["record"]]
    return frame
