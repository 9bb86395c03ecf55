"""Read the change archive: per-glacier series, zone mosaics of a region, loss/gain maps, history.

Examples::

    a = open_archive("s3://bucket/alps")          # or a local folder; as_of="2026-01-01" or a snapshot id
    a.table()                                      # pandas, one row per glacier x year
    a.glacier("RGI2000-v7.0-G-11-01450")           # one glacier's series (reads one slice of the table)
    a.region((10.7, 46.7, 10.9, 46.9), [2016, 2020])   # lazy xarray mosaics of the zones the box touches
    a.change_rates("RGI2000-v7.0-G-11-01450")     # change per pair of usable years: rate ± uncertainty, snr
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from glacierscale.archive import tables
from glacierscale.archive.repo import check_layout, open_repository
from glacierscale.classes import GLACIER_CLASSES, NODATA_CLASS
from glacierscale.errors import ArchiveError

BBox = tuple[float, float, float, float]
COLUMNS = ["glacier_id", "year", "area_km2", "area_unc_km2", "debris_km2", "observed_fraction", "quality", "sensors",
           "model_hash", "run_id", "rgi_id", "glims_id", "lon", "lat", "region", "terminus_type",
           "observed_area_km2", "filled_km2", "area_source", "area_unc_boundary_km2", "area_unc_model_km2",
           "change_excluded", "radar_fraction"]


class ChangeArchive:
    """A read-only view of a change archive at one snapshot of ``main`` (the latest, or ``as_of``)."""

    def __init__(self, location: str, as_of: str | None = None, **s3: Any) -> None:
        import zarr

        self.location = location
        self.repo = open_repository(location, create=False, read_only=True, **s3)
        try:
            snapshot = self._resolve(as_of) if as_of else None
            self.session = (self.repo.readonly_session(snapshot_id=snapshot) if snapshot
                            else self.repo.readonly_session(branch="main"))
            self.snapshot = str(self.session.snapshot_id)
        except ArchiveError:
            raise
        except Exception as err:
            raise ArchiveError(f"archive {location} has no snapshot {as_of!r}: {err}") from err
        self.store = self.session.store
        self.root: Any
        try:
            self.root = zarr.open_group(self.store, mode="r", zarr_format=3)
        except zarr.errors.GroupNotFoundError:
            raise ArchiveError(f"archive {location} is empty (no run has been published)") from None
        check_layout(self.root, location)

    def _resolve(self, as_of: str) -> str:
        """Return the snapshot id for a snapshot id or an ISO date/time (the last snapshot of main at or before it)."""
        try:
            when = dt.datetime.fromisoformat(as_of)
        except ValueError:
            return as_of
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        if len(as_of) == 10:  # a date means the end of that day
            when += dt.timedelta(days=1) - dt.timedelta(microseconds=1)
        for snap in self.repo.ancestry(branch="main"):
            # a run's checkpoints reached main's history with its publish but were never main's tip
            if snap.written_at <= when and (snap.metadata or {}).get("kind") != "checkpoint":
                return str(snap.id)
        raise ArchiveError(f"archive {self.location} has no snapshot at or before {as_of}")

    def _group(self, name: str) -> Any:
        if name not in self.root:
            raise ArchiveError(f"archive {self.location} has no {name!r} records yet")
        return self.root[name]

    # --- history -----------------------------------------------------------------------------------------------
    def history(self) -> list[dict[str, Any]]:
        """Return the snapshots of ``main`` up to this view, newest first (id, written_at, message, run_id, kind).

        ``kind`` is ``publish`` for snapshots that were ``main``'s tip and ``checkpoint`` for a run's batches,
        which joined the history when that run was published.
        """
        return [{"id": s.id, "written_at": s.written_at.isoformat(), "message": s.message,
                 "run_id": (s.metadata or {}).get("glacierscale_run", ""), "kind": (s.metadata or {}).get("kind", "")}
                for s in self.repo.ancestry(snapshot_id=self.snapshot)]

    def runs(self) -> pd.DataFrame:
        """Return one row per published run (run_id, published_at, source_snapshot, record)."""
        from glacierscale.archive.glaciers import runs

        return runs(self.root)

    # --- glacier records ---------------------------------------------------------------------------------------
    def years(self) -> list[int]:
        """Return the years with glacier records, ascending."""
        return sorted(int(y) for y in self._group("glaciers")["year"][...]) if "glaciers" in self.root else []

    def _ids(self) -> np.ndarray:
        return tables.text(self._group("glaciers")["glacier_id"][...])

    def _rows(self, index: np.ndarray | slice) -> pd.DataFrame:
        """Return the long table (one row per glacier x year with a record) of glacier rows ``index``."""
        g = self._group("glaciers")
        years = np.asarray(g["year"][...])
        data: dict[str, np.ndarray] = {}
        have = set(g.array_keys())
        shape = (len(index) if isinstance(index, np.ndarray) else len(range(*index.indices(g["quality"].shape[0]))),
                 len(years))
        for n in tables.GLACIER_YEAR:
            if n not in have:  # an archive published before this column existed
                data[n] = np.full(shape, np.nan) if tables.GLACIERS[n][1] == "f8" else np.full(shape, "", dtype=object)
                continue
            v = np.asarray(g[n].oindex[index, :] if isinstance(index, np.ndarray) else g[n][index, :])
            data[n] = (tables.text(v) if v.dtype.kind == "T" else v)
        attrs = {n: np.asarray(g[n].oindex[index] if isinstance(index, np.ndarray) else g[n][index])
                 for n in tables.GLACIER_ATTRS}
        n_glaciers, n_years = data["quality"].shape
        frame = pd.DataFrame({n: v.reshape(-1) for n, v in data.items()})
        frame["year"] = np.tile(years, n_glaciers)
        for n, v in attrs.items():
            frame[n] = np.repeat(tables.text(v) if v.dtype.kind == "T" else v, n_years)
        frame = frame[frame["quality"] != ""]
        return frame[COLUMNS].sort_values(["glacier_id", "year"]).reset_index(drop=True)

    def table(self) -> pd.DataFrame:
        """Return one row per glacier × year: ids, area and its uncertainty, debris, observed fraction, quality, ..."""
        if "glaciers" not in self.root:
            return pd.DataFrame(columns=COLUMNS)
        return self._rows(slice(None))

    def glacier(self, glacier_id: str, from_year: int | None = None, to_year: int | None = None) -> pd.DataFrame:
        """Return one glacier's series (one slice of the glacier table); ArchiveError for an id it lacks."""
        ids = self._ids() if "glaciers" in self.root else np.array([], dtype=object)
        i = int(np.searchsorted(ids, glacier_id))
        if i >= len(ids) or ids[i] != glacier_id:
            known = ", ".join(str(v) for v in ids[:5])
            raise ArchiveError(f"glacier {glacier_id!r} is not in archive {self.location}"
                               + (f" (e.g. {known})" if known else ""))
        return _years(self._rows(slice(i, i + 1)), from_year, to_year).reset_index(drop=True)

    def _index_of(self, glacier_ids: Any) -> np.ndarray:
        """Return the sorted row indices of the archived glaciers among ``glacier_ids`` (unknown ids are skipped)."""
        ids = self._ids()
        want = np.unique(np.asarray(list(glacier_ids), dtype=object).astype(str))
        i = np.searchsorted(ids, want).clip(max=max(len(ids) - 1, 0))
        return np.unique(i[ids[i] == want]) if len(ids) else np.array([], dtype=np.int64)

    def of_glaciers(self, glacier_ids: Any, from_year: int | None = None, to_year: int | None = None) -> pd.DataFrame:
        """Return the rows of the given glaciers (ids the archive lacks are skipped): reads only their slices."""
        if "glaciers" not in self.root:
            return pd.DataFrame(columns=COLUMNS)
        index = self._index_of(glacier_ids)
        if not len(index):
            return pd.DataFrame(columns=COLUMNS)
        return _years(self._rows(index), from_year, to_year).reset_index(drop=True)

    def year_totals(self, glacier_ids: Any | None = None) -> pd.DataFrame:
        """Return per year: glaciers with a record, their area and debris (km², sums), reading two columns only.

        The summary a large run prints instead of one row per glacier (``glacier_ids``: those glaciers only).
        """
        cols = ["year", "glaciers", "area_km2", "debris_km2"]
        if "glaciers" not in self.root:
            return pd.DataFrame(columns=cols)
        g = self._group("glaciers")
        index = self._index_of(glacier_ids) if glacier_ids is not None else slice(None)
        if isinstance(index, np.ndarray) and not len(index):
            return pd.DataFrame(columns=cols)

        def read(name: str) -> np.ndarray:
            return np.asarray(g[name].oindex[index, :] if isinstance(index, np.ndarray) else g[name][index, :])

        area, debris = read("area_km2"), read("debris_km2")
        quality = read("quality")
        has = (tables.text(quality) if quality.dtype.kind == "T" else quality.astype(str)) != ""
        years = np.asarray(g["year"][...])
        rows = [{"year": int(y), "glaciers": int(has[:, k].sum()), "area_km2": float(np.nansum(area[:, k][has[:, k]])),
                 "debris_km2": float(np.nansum(debris[:, k][has[:, k]]))} for k, y in enumerate(years)]
        return pd.DataFrame(rows, columns=cols).sort_values("year").reset_index(drop=True)

    def in_bbox(self, bbox: BBox, from_year: int | None = None, to_year: int | None = None) -> pd.DataFrame:
        """Return the rows of glaciers whose centroid lies in the WGS84 bbox (W, S, E, N; W > E crosses 180°)."""
        if "glaciers" not in self.root:
            return pd.DataFrame(columns=COLUMNS)
        g = self._group("glaciers")
        lon, lat = np.asarray(g["lon"][...]), np.asarray(g["lat"][...])
        w, s, e, n = bbox
        in_lon = (lon >= w) & (lon <= e) if w <= e else (lon >= w) | (lon <= e)
        index = np.flatnonzero(in_lon & (lat >= s) & (lat <= n))
        if not len(index):
            return pd.DataFrame(columns=COLUMNS)
        return _years(self._rows(index), from_year, to_year).reset_index(drop=True)

    def candidates(self, from_year: int | None = None, to_year: int | None = None) -> pd.DataFrame:
        """Return the rows of candidate glaciers: mapped ice outside every inventory outline (``reduce.candidates``)."""
        if "glaciers" not in self.root:
            return pd.DataFrame(columns=COLUMNS)
        from glacierscale.reduce.candidates import PREFIX

        ids = self._ids()
        lo, hi = np.searchsorted(ids, PREFIX), np.searchsorted(ids, PREFIX + "\uffff")  # ids are sorted
        if lo == hi:
            return pd.DataFrame(columns=COLUMNS)
        return _years(self._rows(slice(int(lo), int(hi))), from_year, to_year).reset_index(drop=True)

    def change_rates(self, glacier_id: str | None = None, bbox: BBox | None = None, from_year: int | None = None,
                     to_year: int | None = None, min_observed_fraction: float | None = None) -> pd.DataFrame:
        """Return area changes between consecutive usable years (rate ± uncertainty, signal-to-noise flag).

        Glacier-years flagged in ``change_excluded`` (or, when ``min_observed_fraction`` is given, observed
        below it) are skipped, never read as change; see ``glacierscale.archive.rates``.
        """
        from glacierscale.archive.rates import change_rates

        if glacier_id is not None:
            rows = self.glacier(glacier_id, from_year, to_year)
        elif bbox is not None:
            rows = self.in_bbox(bbox, from_year, to_year)
        else:
            rows = _years(self.table(), from_year, to_year)
        return change_rates(rows, min_observed_fraction)

    # --- tiles and rasters -------------------------------------------------------------------------------------
    def tiles(self) -> pd.DataFrame:
        """Return one row per recorded tile-year: unit_id, year, status, hashes, run_id, nodata_share."""
        from glacierscale.archive.commit import tile_records

        return tile_records(self.root, ("status", "input_hash", "model_hash", "run_id", "nodata_share")).drop(columns="tile")

    def units(self) -> list[str]:
        """Return the ids of every tile the archive holds."""
        return sorted(tables.text(self._group("tiles")["unit_id"][...]).tolist()) if "tiles" in self.root else []

    def zones(self) -> list[int]:
        """Return the EPSG codes of the zone mosaics."""
        return sorted(int(k) for k in self._group("mosaics").group_keys()) if "mosaics" in self.root else []

    def mosaic(self, epsg: int, chunks: Any = None) -> xr.Dataset:
        """Return the lazy mosaic of one zone (uint8, 255 = nodata), years ascending.

        Without ``chunks`` the arrays are lazily indexed (a selection reads only its chunks, no dask graph over
        the whole zone); ``chunks={}`` gives dask arrays with one chunk per tile-year.
        """
        try:
            ds = xr.open_zarr(self.store, group=f"mosaics/{epsg}", consolidated=False, zarr_format=3,
                              decode_coords="all", mask_and_scale=False, chunks=chunks)
        except Exception as err:
            raise ArchiveError(f"archive {self.location} has no mosaic for EPSG:{epsg}: {err}") from err
        return ds.sortby("year")

    def tile(self, unit_id: str) -> xr.Dataset:
        """Return the classes and glacier_probability (year, y, x) of one tile, with its CRS."""
        from glacierscale.archive.commit import parse_unit_id

        if unit_id not in set(self.units()):
            raise ArchiveError(f"tile {unit_id!r} is not in archive {self.location}")
        epsg, res, size, col, row = parse_unit_id(unit_id)
        span = res * size
        ds = self.mosaic(epsg)
        out = ds.sel(x=slice(col * span, (col + 1) * span), y=slice((row + 1) * span, row * span))
        return out.assign_attrs(unit_id=unit_id)

    def region(self, bbox: BBox, years: list[int] | None = None) -> list[xr.Dataset]:
        """Return lazy mosaics (one per zone the WGS84 bbox touches) cut to the bbox; W > E crosses 180°."""
        from pyproj import Transformer
        from shapely.geometry import box

        from glacierscale.inventory.grid import zone_bounds

        w, s, e, n = bbox
        pieces = [box(w, s, e, n)] if w <= e else [box(w, s, 180.0, n), box(-180.0, s, e, n)]
        out = []
        for epsg in self.zones():
            zone = box(*zone_bounds(epsg))
            touching = [p.intersection(zone) for p in pieces if p.intersects(zone)]
            touching = [p for p in touching if not p.is_empty and p.area > 0]
            if not touching:
                continue
            tf = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True)
            bounds = np.array([tf.transform_bounds(p.bounds[0], p.bounds[1], p.bounds[2], p.bounds[3], densify_pts=21)
                               for p in touching])
            minx, miny = bounds[:, 0].min(), bounds[:, 1].min()
            maxx, maxy = bounds[:, 2].max(), bounds[:, 3].max()
            ds = self.mosaic(epsg)
            cut = ds.sel(x=slice(minx, maxx), y=slice(maxy, miny))
            if years is not None:
                cut = cut.sel(year=[y for y in years if y in set(cut["year"].values.tolist())])
            if cut.sizes["x"] and cut.sizes["y"]:
                out.append(cut.assign_attrs(epsg=epsg))
        return out

    def changes(self, bbox: BBox, from_year: int, to_year: int) -> list[xr.DataArray]:
        """Return loss/gain maps per zone: -1 ice lost, +1 ice gained, 0 unchanged, NaN where either year is nodata."""
        maps = []
        for ds in self.region(bbox, [from_year, to_year]):
            if not {from_year, to_year} <= set(ds["year"].values.tolist()):
                continue
            a, b = ds["classes"].sel(year=from_year), ds["classes"].sel(year=to_year)
            ice_a, ice_b = a.isin(list(GLACIER_CLASSES)), b.isin(list(GLACIER_CLASSES))
            change = ice_b.astype(np.float32) - ice_a.astype(np.float32)
            maps.append(change.where((a != NODATA_CLASS) & (b != NODATA_CLASS)).rename("change"))
        return maps


def _years(df: pd.DataFrame, from_year: int | None, to_year: int | None) -> pd.DataFrame:
    if from_year is not None:
        df = df[df["year"] >= from_year]
    if to_year is not None:
        df = df[df["year"] <= to_year]
    return df


def open_archive(location: str, as_of: str | None = None, **s3: Any) -> ChangeArchive:
    """Open a change archive read-only at its latest snapshot, or ``as_of`` a snapshot id or ISO date."""
    return ChangeArchive(location, as_of, **s3)
