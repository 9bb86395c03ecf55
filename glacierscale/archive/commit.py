"""Write (unit, year) products into an open archive session: mosaic chunks, tile records, glacier parts.

``write_products`` is what a checkpoint does with staged products and what a publish onto a moved ``main``
does with the run branch's own records (``products_from``): the same code path either way. The keys are known
before any raster is read, so each zone's axes grow once per batch and only one product is in memory at a time.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from glacierscale.archive import mosaics, tables
from glacierscale.archive.repo import LAYOUT_VERSION
from glacierscale.archive.staging import GlacierPart, TileRecord, UnitProduct
from glacierscale.errors import ArchiveError

Key = tuple[str, int]
WRITE_GROUP = 32  # products whose chunks are written together (concurrently)


def parse_unit_id(unit_id: str) -> tuple[int, float, int, int, int]:
    """Return (epsg, resolution, size_px, col, row) from a stable tile id ``{epsg}_{res}m_{size}_{col}_{row}``."""
    try:
        epsg, res, size, col, row = unit_id.split("_")
        return int(epsg), float(res.removesuffix("m")), int(size), int(col), int(row)
    except ValueError:
        raise ArchiveError(f"unit id {unit_id!r} is not a tile id of the form EPSG_RESm_SIZE_COL_ROW") from None


def open_root(store: Any) -> Any:
    """Return the writable root group, stamped with the layout version."""
    import zarr

    root = zarr.open_group(store, mode="a", zarr_format=3)
    if root.attrs.get("glacierscale_layout") != LAYOUT_VERSION:
        root.attrs["glacierscale_layout"] = LAYOUT_VERSION
    return root


def tile_records(root: Any, names: tuple[str, ...] = ("status", "input_hash", "model_hash", "run_id"),
                 tiles: list[int] | np.ndarray | None = None) -> pd.DataFrame:
    """Return one row per recorded (tile, year): tile index, unit_id, year and the named tile-year fields.

    ``tiles``: read only the rows of these tile indices (sorted, unique; every year), not the whole table.
    """
    group = tables.open_table(root, "tiles", tables.TILES, create=False) if "tiles" in root else None
    cols = ["tile", "unit_id", "year", *names]
    if group is None or tables.size(group, "tile") == 0 or tables.size(group, "year") == 0 or (
            tiles is not None and len(tiles) == 0):
        return pd.DataFrame({c: [] for c in cols})
    rows = None if tiles is None else np.asarray(tiles, dtype=np.int64)

    def read(name: str) -> np.ndarray:
        arr = group[name]
        return np.asarray(arr[...] if rows is None else arr.oindex[(rows, *([slice(None)] * (arr.ndim - 1)))])

    status = read("status")
    ti, yi = np.nonzero(status != "")
    data: dict[str, Any] = {"tile": ti if rows is None else rows[ti], "unit_id": tables.text(read("unit_id"))[ti],
                            "year": np.asarray(group["year"][...])[yi]}
    for n in names:
        values = status if n == "status" else read(n)
        data[n] = (tables.text(values) if values.dtype.kind == "T" else values)[ti, yi]
    return pd.DataFrame(data)[cols]


def tile_index(root: Any) -> dict[str, int]:
    """Return unit_id → position on the ``tiles`` axis (read whole: once per run, then kept up to date)."""
    if "tiles" not in root or "unit_id" not in root["tiles"]:
        return {}
    return {str(u): i for i, u in enumerate(tables.text(root["tiles"]["unit_id"][...]))}


def records_at(root: Any, keys: list[Key], index: dict[str, int]) -> dict[Key, TileRecord]:
    """Return the tile records the archive holds for ``keys`` (and only those rows are read), by ``index``."""
    if "tiles" not in root or not keys:
        return {}
    group = root["tiles"]
    years = {int(y): i for i, y in enumerate(np.asarray(group["year"][...]))}
    found = [k for k in keys if k[0] in index and k[1] in years]
    if not found:
        return {}
    ti = np.array([index[k[0]] for k in found])
    yi = np.array([years[k[1]] for k in found])
    values = {n: tables.text(group[n].vindex[ti, yi]) for n in ("status", "input_hash", "model_hash", "run_id")}
    return {k: TileRecord(k[0], k[1], *(str(values[n][i]) for n in ("status", "input_hash", "model_hash", "run_id")))
            for i, k in enumerate(found) if values["status"][i] != ""}


def write_products(root: Any, keys: list[Key], load: Callable[[Key], UnitProduct], run_id: str,
                   index: dict[str, int] | None = None) -> int:
    """Write the products of ``keys`` (loaded one at a time) into ``root``; return how many were written.

    ``index``: unit_id → tile position of this archive state (``tile_index``), kept by the caller across
    batches so that a batch reads none of the archive's other records; the tiles appended here are added to it.
    """
    if not keys:
        return 0
    tiles = tables.open_table(root, "tiles", tables.TILES, create=True)
    parts = tables.open_table(root, "parts", tables.PARTS, create=True)
    known = tile_index(root) if index is None else index
    if len(known) != tables.size(tiles, "tile"):
        raise ArchiveError(f"tile index of {len(known)} tiles does not match the archive's {tables.size(tiles, 'tile')}")
    grids = {k: parse_unit_id(k[0]) for k in keys}
    new_units = sorted({k[0] for k in keys if k[0] not in known})
    added = {u: len(known) + i for i, u in enumerate(new_units)}

    def position(u: str) -> int:
        return known[u] if u in known else added[u]

    tile_years = tables.year_indices(tiles, [y for _, y in keys])
    zones: dict[int, Any] = {}
    zone_years: dict[int, dict[int, int]] = {}
    for epsg in sorted({g[0] for g in grids.values()}):
        mine = [k for k in keys if grids[k][0] == epsg]
        _, res, size, _, _ = grids[mine[0]]
        zones[epsg] = mosaics.open_mosaic(root, epsg, res, size)
        mosaics.cover(zones[epsg], [(grids[k][3], grids[k][4]) for k in mine])
        zone_years[epsg] = tables.year_indices(zones[epsg], [y for _, y in mine])
    attrs: dict[str, dict[str, Any]] = {}
    records: dict[str, list[Any]] = {n: [] for n in tables.TILE_RECORD}
    part_rows: list[dict[str, Any]] = []
    first_part = tables.size(parts, "part")
    writers = {epsg: mosaics.TileWriter(group) for epsg, group in zones.items()}
    pending: dict[int, list[Any]] = {epsg: [] for epsg in zones}

    def flush() -> None:
        for epsg, tiles in pending.items():
            writers[epsg].write(tiles)
            tiles.clear()

    for n_loaded, key in enumerate(keys, 1):
        p = load(key)
        unit = p.unit
        epsg, res, size, col, row = grids[key]
        if (unit.epsg, unit.col, unit.row, unit.size_px) != (epsg, col, row, size):
            raise ArchiveError(f"staged product of {key[0]} is for another tile ({unit.unit_id})")
        done = p.status == "done"
        pending[epsg].append((zone_years[epsg][p.year], col, row, p.classes if done else None,
                              p.probability if done else None))
        if n_loaded % WRITE_GROUP == 0:
            flush()  # at most WRITE_GROUP products' rasters are in memory
        if unit.unit_id in new_units and unit.unit_id not in attrs:
            attrs[unit.unit_id] = _tile_attrs(unit)
        rows = _part_rows(p, position(unit.unit_id))
        start = first_part + len(part_rows)
        part_rows.extend(rows)
        for n, v in (("status", p.status), ("input_hash", p.input_hash), ("model_hash", p.model_hash),
                     ("run_id", run_id), ("nodata_share", p.nodata_share), ("unattributed_km2", p.unattributed_km2),
                     ("sensors", ",".join(p.sensors)), ("scenes", json.dumps(p.scenes)), ("reason", p.reason),
                     ("parts_start", start), ("parts_count", len(rows))):
            records[n].append(v)
    flush()
    if new_units:
        missing = [u for u in new_units if u not in attrs]
        if missing:
            raise ArchiveError(f"tiles {missing[:3]} were never loaded")
        cols = {n: [attrs[u][n] for u in new_units] for n in attrs[new_units[0]]}
        tables.append(tiles, "tile", {n: tables.strings(v) if n in ("unit_id", "glacier_ids") else np.asarray(v)
                                      for n, v in cols.items()})
        if index is not None:
            index.update(added)
    ti = np.array([position(k[0]) for k in keys])
    yi = np.array([tile_years[k[1]] for k in keys])
    for n, values in records.items():
        kind = tables.TILES[n][1]
        tiles[n].vindex[ti, yi] = tables.strings(values) if kind == "str" else np.asarray(values, dtype=kind)
    if part_rows:
        frame = pd.DataFrame(part_rows)
        wkbs = frame.pop("outline_wkb").tolist()
        sizes = np.array([len(w) for w in wkbs], dtype=np.int64)
        first_byte = tables.size(parts, "byte")
        frame["wkb_start"] = first_byte + np.cumsum(sizes) - sizes
        frame["wkb_size"] = sizes
        if sizes.sum():
            tables.grow(parts, "byte", first_byte + int(sizes.sum()))
            parts["outline_wkb"][first_byte:first_byte + int(sizes.sum())] = np.frombuffer(b"".join(wkbs), np.uint8)
        tables.append(parts, "part", {n: (tables.strings(frame[n]) if kind == "str" else frame[n].to_numpy(dtype=kind))
                                      for n, (dims, kind) in tables.PARTS.items() if dims == ("part",)})
    return len(keys)


@functools.cache
def _to_lonlat(epsg: int) -> Any:
    from pyproj import Transformer

    return Transformer.from_crs(f"EPSG:{epsg}", "EPSG:4326", always_xy=True)


def _tile_attrs(unit: Any) -> dict[str, Any]:
    bbox = _to_lonlat(unit.epsg).transform_bounds(*unit.bounds, densify_pts=21)  # as WorkUnit.bbox_wgs84
    return {"unit_id": unit.unit_id, "epsg": unit.epsg, "col": unit.col, "row": unit.row,
            "resolution": unit.resolution, "size_px": unit.size_px, "glacier_ids": ",".join(unit.glacier_ids),
            "bbox": np.asarray(bbox, dtype=np.float64)}


def _part_rows(p: UnitProduct, tile: int) -> list[dict[str, Any]]:
    """Return the parts of a product; a gap lists every glacier of the tile as unobserved (gap = 1)."""
    pixel_km = p.unit.resolution / 1000.0
    rows = [{"tile": tile, "year": p.year, "glacier_id": g.glacier_id, "area_km2": g.area_km2,
             "debris_km2": g.debris_km2, "outline_km2": g.outline_km2, "observed_km2": g.observed_km2,
             "perimeter_km": g.perimeter_km, "soft_area_km2": g.soft_area_km2,
             "unc_km2": g.perimeter_km * pixel_km / 2.0, "radar_km2": g.radar_km2, "gap": 0,
             "outline_wkb": g.outline_wkb}
            for g in (p.parts if p.status == "done" else ())]
    if p.status == "gap":
        rows = [{"tile": tile, "year": p.year, "glacier_id": gid, "area_km2": np.nan, "debris_km2": np.nan,
                 "outline_km2": np.nan, "observed_km2": 0.0, "perimeter_km": 0.0, "soft_area_km2": np.nan,
                 "unc_km2": np.nan, "radar_km2": 0.0, "gap": 1, "outline_wkb": b""} for gid in p.unit.glacier_ids]
    return rows


def loader_from(root: Any) -> Callable[[Key], UnitProduct]:
    """Return a loader of (unit, year) products as an archive (e.g. a run branch) holds them."""
    from glacierscale.inventory.units import WorkUnit

    tiles, parts = root["tiles"], root["parts"]
    have = set(parts.array_keys())
    index = {str(u): i for i, u in enumerate(tiles["unit_id"][...])}
    years = {int(y): i for i, y in enumerate(tiles["year"][...])}
    zone_years: dict[int, dict[int, int]] = {}

    def load(key: Key) -> UnitProduct:
        t, y = index[key[0]], years[key[1]]
        epsg, res, size, col, row = parse_unit_id(key[0])
        gids = str(tiles["glacier_ids"][t])
        unit = WorkUnit(key[0], epsg, col, row, res, size, tuple(gids.split(",")) if gids else ())
        rec = {n: tiles[n][t, y] for n in tables.TILE_RECORD}
        start, count = int(rec["parts_start"]), int(rec["parts_count"])
        sel = slice(start, start + count)
        cols = {n: parts[n][sel] for n in ("glacier_id", "area_km2", "debris_km2", "outline_km2", "observed_km2",
                                           "perimeter_km", "soft_area_km2", "gap", "wkb_start", "wkb_size")}
        # an archive written before radar_km2 existed has no such column: nothing was mapped from SAR alone
        radar = parts["radar_km2"][sel] if "radar_km2" in have else np.zeros(count)
        wkb = b""
        if count and cols["wkb_size"].sum():
            lo = int(cols["wkb_start"][0])
            wkb = parts["outline_wkb"][lo:int(cols["wkb_start"][-1] + cols["wkb_size"][-1])].tobytes()
        plist = tuple(GlacierPart(str(cols["glacier_id"][i]), float(cols["area_km2"][i]), float(cols["debris_km2"][i]),
                                  float(cols["outline_km2"][i]), float(cols["observed_km2"][i]),
                                  perimeter_km=float(cols["perimeter_km"][i]),
                                  soft_area_km2=float(cols["soft_area_km2"][i]), radar_km2=float(radar[i]),
                                  outline_wkb=wkb[int(cols["wkb_start"][i]) - lo:
                                                  int(cols["wkb_start"][i] + cols["wkb_size"][i]) - lo] if wkb else b"")
                      for i in range(count) if not cols["gap"][i])
        status = str(rec["status"])
        classes = probability = None
        if status == "done":
            group = root["mosaics"][str(epsg)]
            if epsg not in zone_years:
                zone_years[epsg] = {int(v): i for i, v in enumerate(group["year"][...])}
            classes, probability = mosaics.read_tile(group, zone_years[epsg][key[1]], col, row)
        sensors = str(rec["sensors"])
        return UnitProduct(unit, key[1], status, str(rec["input_hash"]), str(rec["model_hash"]),  # type: ignore[arg-type]
                           classes, probability, plist, float(rec["unattributed_km2"]), float(rec["nodata_share"]),
                           tuple(sensors.split(",")) if sensors else (), json.loads(str(rec["scenes"]) or "{}"),
                           str(rec["reason"]))

    return load
