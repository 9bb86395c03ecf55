"""Staged products: one ``.npz`` per (unit, year) item under the run's staging prefix, its marker written last.

``<staging>/<run_id>/<year>/<unit_id>.npz`` holds the core-tile rasters, the glacier parts (numbers, ids and
outline WKB) and a JSON header; ``<unit_id>.done`` (the receipt as JSON) is written after it, so a reader that
finds the marker finds a complete product. Staging again overwrites both. Local folders and ``s3://`` prefixes
(through fsspec/s3fs) are both accepted.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from typing import Any

import numpy as np

from glacierscale.archive.repo import is_s3, s3_endpoint
from glacierscale.archive.staging import GlacierPart, StagedItem, UnitProduct
from glacierscale.errors import ArchiveError

# the columns of the staged ``parts`` array, in order; a file staged before radar_km2 existed has the first six
PART_NUMBERS = ("area_km2", "debris_km2", "outline_km2", "observed_km2", "perimeter_km", "soft_area_km2", "radar_km2")


def filesystem(url: str) -> tuple[Any, str]:
    """Return (fsspec filesystem, path) for a local path or s3:// URL."""
    from fsspec.core import url_to_fs

    if is_s3(url):
        endpoint = s3_endpoint()
        opts: dict[str, Any] = {"client_kwargs": {"endpoint_url": endpoint}} if endpoint else {}
        return url_to_fs(url, **opts)
    return url_to_fs(url, auto_mkdir=True)


def item_url(staging: str, run_id: str, unit_id: str, year: int) -> str:
    """Return the staged product's URL without extension (one folder per year: no folder per unit to make and
    remove, which cost the world's run 120 k directories)."""
    return f"{staging.rstrip('/')}/{run_id}/{year}/{unit_id}"


def write_product(product: UnitProduct, url: str) -> None:
    """Write ``product`` to ``url``.npz, then its marker ``url``.done (last)."""
    unit = product.unit
    side = (unit.size_px, unit.size_px)
    arrays: dict[str, np.ndarray] = {}
    if product.status == "done":
        for name, raster in (("classes", product.classes), ("probability", product.probability)):
            if raster is None or raster.shape != side:
                got = None if raster is None else raster.shape
                raise ArchiveError(f"unit {unit.unit_id} year {product.year}: {name} must be a {side} array of the "
                                   f"core tile, got {got}")
            arrays[name] = np.asarray(raster, dtype=np.uint8)
    parts = product.parts
    arrays["parts"] = np.array([[getattr(p, n) for n in PART_NUMBERS] for p in parts], dtype=np.float64).reshape(
        -1, len(PART_NUMBERS))
    wkbs = [p.outline_wkb for p in parts]
    arrays["part_wkb"] = np.frombuffer(b"".join(wkbs), dtype=np.uint8)
    arrays["part_wkb_offsets"] = np.cumsum([0, *[len(w) for w in wkbs]]).astype(np.int64)
    header = {
        "unit": asdict(unit), "year": product.year, "status": product.status, "input_hash": product.input_hash,
        "model_hash": product.model_hash, "unattributed_km2": product.unattributed_km2,
        "nodata_share": product.nodata_share, "sensors": list(product.sensors), "scenes": product.scenes,
        "reason": product.reason, "part_ids": [p.glacier_id for p in parts],
    }
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    fs, path = filesystem(url)
    try:
        fs.pipe_file(path + ".npz", buf.getvalue())
        fs.pipe_file(path + ".done", json.dumps({"unit_id": unit.unit_id, "year": product.year}).encode())
    except Exception as err:
        raise ArchiveError(f"cannot stage unit {unit.unit_id} year {product.year} at {url}: {err}") from err


def receipt(product: UnitProduct, url: str) -> StagedItem:
    """Return the small record the driver keeps for a staged product."""
    return StagedItem(product.unit.unit_id, product.year, product.status, product.input_hash, product.model_hash,
                      url, product.nodata_share)


def read_product(url: str) -> UnitProduct:
    """Return the product staged at ``url``; ArchiveError if it is absent or its marker is missing."""
    from glacierscale.inventory.units import WorkUnit

    fs, path = filesystem(url)
    try:
        if not fs.exists(path + ".done"):
            raise ArchiveError(f"staged item {url} is incomplete or missing (no marker {url}.done); stage it again")
        data = fs.cat_file(path + ".npz")
    except ArchiveError:
        raise
    except Exception as err:
        raise ArchiveError(f"cannot read staged item {url}: {err}") from err
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(arrays["header"].tobytes().decode())
    u = header["unit"]
    unit = WorkUnit(u["unit_id"], u["epsg"], u["col"], u["row"], u["resolution"], u["size_px"],
                    tuple(u["glacier_ids"]), u.get("overlap_px", 0))
    wkb, offsets, numbers = arrays["part_wkb"].tobytes(), arrays["part_wkb_offsets"], arrays["parts"]
    if numbers.shape[1] < len(PART_NUMBERS):  # staged before the later columns existed: they read as 0
        numbers = np.pad(numbers, ((0, 0), (0, len(PART_NUMBERS) - numbers.shape[1])))
    parts = tuple(
        GlacierPart(gid, float(numbers[i, 0]), float(numbers[i, 1]), float(numbers[i, 2]), float(numbers[i, 3]),
                    perimeter_km=float(numbers[i, 4]),
                    soft_area_km2=float(numbers[i, 5]), outline_wkb=wkb[offsets[i]:offsets[i + 1]],
                    radar_km2=float(numbers[i, 6]))
        for i, gid in enumerate(header["part_ids"])
    )
    return UnitProduct(unit, int(header["year"]), header["status"], header["input_hash"], header["model_hash"],
                       arrays.get("classes"), arrays.get("probability"), parts, float(header["unattributed_km2"]),
                       float(header["nodata_share"]), tuple(header["sensors"]), header["scenes"], header["reason"])
