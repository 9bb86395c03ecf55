"""The cube store: one Zarr v3 group per work unit, ``(year, band, y, x)`` float32 with a CF grid mapping.

Stores live at a local path or ``s3://bucket/prefix`` (s3fs; credentials from the environment). A unit that
is already complete for the requested years is not recomputed.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import xarray as xr

from glacierscale.cube.assemble import YearComposite
from glacierscale.errors import CubeError
from glacierscale.inventory.units import WorkUnit
from glacierscale.redact import redact


def unit_url(store: str, unit: WorkUnit) -> str:
    """Return the Zarr location of one unit inside a cube store."""
    return f"{store.rstrip('/')}/{unit.unit_id}.zarr"


def unit_coords(unit: WorkUnit, *, padded: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Return pixel-centre x and y coordinates (y descending, north up) of the padded tile the cube covers,
    or with ``padded=False`` of the core tile the archive keeps."""
    minx, _, _, maxy = unit.padded_bounds() if padded else unit.bounds
    n = unit.read_size_px if padded else unit.size_px
    r = unit.resolution
    x = minx + r / 2 + r * np.arange(n)
    y = maxy - r / 2 - r * np.arange(n)
    return x, y


def to_dataset(unit: WorkUnit, composites: dict[int, YearComposite]) -> xr.Dataset:
    """Return the unit cube as an xarray Dataset with CRS, band names and per-sensor missing flags."""
    years = sorted(composites)
    first = composites[years[0]]
    x, y = unit_coords(unit)
    sensors = sorted(first.missing)
    ds = xr.Dataset(
        {
            "data": (("year", "band", "y", "x"), np.stack([composites[t].data for t in years])),
            "clear_count": (("year", "y", "x"), np.stack([composites[t].clear_count for t in years])),
            "missing": (("year", "sensor"), np.array([[composites[t].missing[s] for s in sensors] for t in years])),
        },
        coords={"year": np.array(years, dtype=np.int32), "band": first.bands, "sensor": sensors, "x": x, "y": y},
        attrs={
            "unit_id": unit.unit_id, "epsg": unit.epsg, "resolution": unit.resolution,
            "scenes": json.dumps({str(t): composites[t].scenes for t in years}),
        },
    )
    ds["band"] = ds["band"].astype(object)  # variable-length UTF-8: a specified Zarr v3 dtype
    ds["sensor"] = ds["sensor"].astype(object)
    import rioxarray  # noqa: F401  (registers the .rio accessor)

    ds = ds.rio.write_crs(f"EPSG:{unit.epsg}")
    return ds


def write_unit(store: str, unit: WorkUnit, ds: xr.Dataset, storage_options: dict[str, Any] | None = None) -> str:
    """Write (overwrite) one unit cube; return its URL. The same inputs give the same bytes."""
    url = unit_url(store, unit)
    chunks = {"year": 1, "band": -1, "y": min(unit.read_size_px, 512), "x": min(unit.read_size_px, 512)}
    try:
        ds.chunk(chunks).to_zarr(url, mode="w", consolidated=False, zarr_format=3,
                                 storage_options=storage_options)
    except Exception as err:  # raised below, unchained: a Ray task returns it whole (see assemble._stack)
        reason = f"{err}"
    else:
        return url
    raise CubeError(redact(f"writing cube {url} failed: {reason}"))


def open_unit(store: str, unit: WorkUnit, storage_options: dict[str, Any] | None = None) -> xr.Dataset | None:
    """Return the stored cube of a unit, or None when it does not exist yet."""
    url = unit_url(store, unit)
    try:
        return xr.open_zarr(url, consolidated=False, zarr_format=3, decode_coords="all",
                            storage_options=storage_options)
    except (FileNotFoundError, KeyError, ValueError):
        return None
    except Exception as err:
        if "not found" in str(err).lower() or "nothing found" in str(err).lower():
            return None
        raise


def complete_for(ds: xr.Dataset | None, years: list[int], unit: WorkUnit | None = None) -> bool:
    """Return True when a stored cube already holds every requested year (and, given ``unit``, its padded
    grid: a cube stored with another tile overlap is rebuilt, not reused)."""
    if ds is None or not set(years) <= {int(y) for y in ds["year"].values}:
        return False
    return unit is None or (ds.sizes.get("x") == unit.read_size_px and ds.sizes.get("y") == unit.read_size_px)
