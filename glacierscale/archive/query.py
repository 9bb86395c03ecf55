"""Read the change archive: per-glacier area series, class rasters of a region, loss/gain maps."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from glacierscale.archive.repo import open_repository
from glacierscale.errors import ArchiveError


class ChangeArchive:
    """A read-only view of a change archive at one snapshot (the latest, or ``as_of``)."""

    def __init__(self, location: str, as_of: str | None = None, **s3: Any) -> None:
        self.location = location
        self.repo = open_repository(location, create=False, **s3)
        try:
            self.session = (self.repo.readonly_session(snapshot_id=as_of) if as_of
                            else self.repo.readonly_session(branch="main"))
        except Exception as err:
            raise ArchiveError(f"archive {location} has no snapshot {as_of!r}: {err}") from err
        self.store = self.session.store

    def _group(self, group: str) -> xr.Dataset:
        try:
            return xr.open_zarr(self.store, group=group, consolidated=False, zarr_format=3, decode_coords="all")
        except Exception as err:
            raise ArchiveError(f"archive {self.location} has no group {group!r}: {err}") from err

    def history(self) -> list[dict[str, Any]]:
        """Return the commits of ``main``, newest first (id, time, message)."""
        return [{"id": s.id, "written_at": s.written_at.isoformat(), "message": s.message}
                for s in self.repo.ancestry(branch="main")]

    def areas(self) -> xr.Dataset:
        return self._group("areas").load()

    def years(self) -> list[int]:
        return [int(y) for y in self.areas()["year"].values]

    def table(self) -> pd.DataFrame:
        """Return one row per glacier × year: glacier_id, year, area_km2, debris_km2, lon, lat."""
        a = self.areas()
        df = a[["area_km2", "debris_km2"]].to_dataframe().reset_index()
        df = df.rename(columns={"glacier": "glacier_id"})
        df = df.merge(a[["lon", "lat"]].to_dataframe().reset_index().rename(columns={"glacier": "glacier_id"}),
                      on="glacier_id")
        return df.dropna(subset=["area_km2"]).sort_values(["glacier_id", "year"]).reset_index(drop=True)

    def glacier(self, glacier_id: str, from_year: int | None = None, to_year: int | None = None) -> pd.DataFrame:
        """Return the area series of one glacier; ArchiveError for an id the archive does not hold."""
        df = self.table()
        if glacier_id not in set(df["glacier_id"]):
            known = ", ".join(sorted(set(df["glacier_id"]))[:5])
            raise ArchiveError(f"glacier {glacier_id!r} is not in archive {self.location} (e.g. {known})")
        df = df[df["glacier_id"] == glacier_id]
        return _years(df, from_year, to_year).reset_index(drop=True)

    def in_bbox(self, bbox: tuple[float, float, float, float], from_year: int | None = None,
                to_year: int | None = None) -> pd.DataFrame:
        """Return the rows of glaciers whose centroid lies in the WGS84 bbox (W, S, E, N)."""
        w, s, e, n = bbox
        df = self.table()
        df = df[(df.lon >= w) & (df.lon <= e) & (df.lat >= s) & (df.lat <= n)]
        return _years(df, from_year, to_year).reset_index(drop=True)

    def units(self) -> list[str]:
        import zarr

        root = zarr.open_group(self.store, mode="r", zarr_format=3)
        if "units" not in root:
            return []
        units = root["units"]
        return sorted(units.group_keys()) if isinstance(units, zarr.Group) else []

    def unit(self, unit_id: str) -> xr.Dataset:
        """Return the class and probability rasters of one work unit."""
        return self._group(f"units/{unit_id}")

    def region(self, bbox: tuple[float, float, float, float], years: list[int] | None = None) -> list[xr.Dataset]:
        """Return the unit rasters (one Dataset per unit) intersecting the WGS84 bbox."""
        from pyproj import Transformer
        from shapely.geometry import box

        out = []
        for uid in self.units():
            ds = self.unit(uid)
            tf = Transformer.from_crs("EPSG:4326", f"EPSG:{int(ds.attrs['epsg'])}", always_xy=True)
            area = box(*tf.transform_bounds(*bbox))
            extent = box(float(ds.x.min()), float(ds.y.min()), float(ds.x.max()), float(ds.y.max()))
            if area.intersects(extent):
                out.append(ds.sel(year=years) if years else ds)
        return out

    def changes(self, bbox: tuple[float, float, float, float], from_year: int, to_year: int) -> list[xr.DataArray]:
        """Return loss/gain maps per unit: -1 ice lost, +1 ice gained, 0 unchanged, NaN nodata."""
        maps = []
        for ds in self.region(bbox, [from_year, to_year]):
            a, b = ds["classes"].sel(year=from_year), ds["classes"].sel(year=to_year)
            ice_a, ice_b = a.isin([1, 2]), b.isin([1, 2])
            change = ice_b.astype(np.float32) - ice_a.astype(np.float32)
            maps.append(change.where((a != 255) & (b != 255)).rename("change"))
        return maps


def _years(df: pd.DataFrame, from_year: int | None, to_year: int | None) -> pd.DataFrame:
    if from_year is not None:
        df = df[df["year"] >= from_year]
    if to_year is not None:
        df = df[df["year"] <= to_year]
    return df


def open_archive(location: str, as_of: str | None = None, **s3: Any) -> ChangeArchive:
    """Open a change archive read-only at its latest snapshot or at snapshot ``as_of``."""
    return ChangeArchive(location, as_of, **s3)
