"""Write one run's results into the change archive as a single atomic icechunk commit.

Layout (Zarr v3 groups):
  units/<unit_id>   classes (year, y, x) uint8, glacier_probability (year, y, x) uint8 %, CRS (spatial_ref)
  areas             area_km2, debris_km2 (glacier, year) float64; lon, lat (glacier) centroids
Years already in the archive are replaced by the new run's values; other years are kept.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import xarray as xr

from glacierscale.errors import ArchiveError


def _merge(old: xr.Dataset | None, new: xr.Dataset, dim: str = "year") -> xr.Dataset:
    if old is None:
        return new
    keep = old.sel({dim: [y for y in old[dim].values if y not in set(new[dim].values)]})
    merged = xr.concat([keep.load(), new], dim=dim, data_vars="minimal", coords="minimal", compat="override",
                       join="outer") if keep.sizes[dim] else new
    return merged.sortby(dim)


def _open_group(store: Any, group: str) -> xr.Dataset | None:
    try:
        return xr.open_zarr(store, group=group, consolidated=False, zarr_format=3, decode_coords="all")
    except (FileNotFoundError, KeyError):
        return None
    except Exception as err:
        if "not found" in str(err).lower() or "no group" in str(err).lower():
            return None
        raise


def unit_dataset(unit: Any, years: list[int], classes: list[np.ndarray], probability: list[np.ndarray],
                 x: np.ndarray, y: np.ndarray) -> xr.Dataset:
    """Return the archived raster products of one unit."""
    import rioxarray  # noqa: F401  (registers .rio)

    ds = xr.Dataset(
        {"classes": (("year", "y", "x"), np.stack(classes)),
         "glacier_probability": (("year", "y", "x"), np.stack(probability))},
        coords={"year": np.asarray(years, dtype=np.int32), "x": x, "y": y},
        attrs={"unit_id": unit.unit_id, "epsg": unit.epsg,
               "classes": json.dumps({"0": "background", "1": "clean ice", "2": "debris-covered ice", "255": "nodata"})},
    )
    for v in ("classes", "glacier_probability"):
        ds[v].attrs["_FillValue"] = 255
    return ds.rio.write_crs(f"EPSG:{unit.epsg}")


def areas_dataset(area: dict[str, dict[int, float]], debris: dict[str, dict[int, float]],
                  centroids: dict[str, tuple[float, float]]) -> xr.Dataset:
    """Return the per-glacier area table as a (glacier, year) Dataset."""
    ids = sorted(area)
    years = sorted({y for s in area.values() for y in s})
    a = np.array([[area[g].get(y, np.nan) for y in years] for g in ids], dtype=np.float64)
    d = np.array([[debris[g].get(y, np.nan) for y in years] for g in ids], dtype=np.float64)
    return xr.Dataset(
        {"area_km2": (("glacier", "year"), a), "debris_km2": (("glacier", "year"), d),
         "lon": (("glacier",), np.array([centroids[g][0] for g in ids])),
         "lat": (("glacier",), np.array([centroids[g][1] for g in ids]))},
        coords={"glacier": np.array(ids, dtype=object), "year": np.asarray(years, dtype=np.int32)},
    )


def commit_run(location: str, units: dict[str, xr.Dataset], areas: xr.Dataset, message: str,
               metadata: dict[str, Any] | None = None) -> str:
    """Write unit rasters and the area table in one transaction; return the snapshot id."""
    from glacierscale.archive.repo import open_repository

    repo = open_repository(location, create=True)
    session = repo.writable_session("main")
    store = session.store
    try:
        for unit_id, ds in units.items():
            merged = _merge(_open_group(store, f"units/{unit_id}"), ds)
            merged.to_zarr(store, group=f"units/{unit_id}", mode="w", consolidated=False, zarr_format=3)
        old = _open_group(store, "areas")
        if old is not None:
            # this run's glacier-years replace the archived ones; everything else is kept
            areas = areas.combine_first(old.load())
        areas.to_zarr(store, group="areas", mode="w", consolidated=False, zarr_format=3)
        return str(session.commit(message, metadata=metadata or {}))
    except Exception as err:
        raise ArchiveError(f"writing the change archive {location} failed (nothing was committed): {err}") from err
