"""COG writing and STAC items shaped like the real ones (Earth Search v1, Planetary Computer).

The simulated items copy the structure of the real items in ../shared/data/real/stac-items (asset keys,
roles, ``proj:*``, ``eo:bands``, ``raster:bands`` with scale/offset/nodata), so the catalog and cube code
reads a simulated catalog exactly as it reads a real one.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import shapely
from affine import Affine
from shapely.geometry import box, mapping

COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
S2_L2A_OFFSET_FROM = datetime(2022, 1, 25)  # processing baseline 04.00: BOA_ADD_OFFSET = -1000

# Earth Search v1 asset keys for the six bands glacierscale reads (Planetary Computer uses B02 ... SCL).
S2_ASSETS = {
    "B02": ("blue", "Blue - 10m", 10, 0.49, 0.098),
    "B03": ("green", "Green - 10m", 10, 0.56, 0.045),
    "B04": ("red", "Red - 10m", 10, 0.665, 0.038),
    "B08": ("nir", "NIR 1 - 10m", 10, 0.842, 0.145),
    "B11": ("swir16", "SWIR 1.6μm - 20m", 20, 1.61, 0.143),
    "B12": ("swir22", "SWIR 2.2μm - 20m", 20, 2.19, 0.242),
}


# Planetary Computer asset titles for the same bands (its items carry no raster:bands: the product rules apply)
S2_PC_TITLES = {
    "B02": "Band 2 - Blue - 10m", "B03": "Band 3 - Green - 10m", "B04": "Band 4 - Red - 10m",
    "B08": "Band 8 - NIR - 10m", "B11": "Band 11 - SWIR (1.6) - 20m", "B12": "Band 12 - SWIR (2.2) - 20m",
}
S2_NAMINGS = ("earth-search", "planetary-computer")


def projection(epsg: int) -> dict[str, Any]:
    """Return the item-level projection fields: ``proj:epsg`` (v1, what stackstac reads) and ``proj:code`` (v2)."""
    return {"proj:epsg": epsg, "proj:code": f"EPSG:{epsg}"}


def write_cog(path: Path, data: np.ndarray, transform: Affine, crs: str, nodata: float | int) -> None:
    """Write a single-band tiled, deflate-compressed Cloud-Optimized GeoTIFF with overviews."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path, "w", driver="COG", width=data.shape[1], height=data.shape[0], count=1, dtype=data.dtype,
        crs=crs, transform=transform, nodata=nodata, blocksize=256, compress="deflate", level=1,
    ) as dst:
        dst.write(data, 1)


def footprint(bounds: tuple[float, float, float, float], crs: str) -> tuple[dict[str, Any], list[float]]:
    """Return the WGS84 GeoJSON geometry and bbox of projected ``bounds``."""
    from pyproj import Transformer

    tf = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    geom = shapely.transform(box(*bounds).segmentize(max(bounds[2] - bounds[0], 1) / 8), tf.transform, interleaved=False)
    return mapping(geom), [round(v, 7) for v in geom.bounds]


def _raster_band(dtype: str, res: float, nodata: float | int | None, **extra: Any) -> dict[str, Any]:
    band: dict[str, Any] = {"data_type": dtype, "spatial_resolution": res}
    if nodata is not None:
        band["nodata"] = nodata
    band.update(extra)
    return band


def asset(href: Path, title: str, shape: tuple[int, int], transform: Affine, roles: list[str],
          band: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Return one COG asset with its ``proj:*`` grid and ``raster:bands``."""
    a: dict[str, Any] = {
        "href": str(href.resolve()), "type": COG_TYPE, "title": title,
        "proj:shape": list(shape), "proj:transform": list(transform)[:6],
        "raster:bands": [band], "roles": roles,
    }
    a.update(extra)
    return a


def item(item_id: str, collection: str, dt: datetime, geometry: dict[str, Any], bbox: list[float],
         properties: dict[str, Any], assets: dict[str, Any], extensions: list[str]) -> dict[str, Any]:
    """Return a STAC 1.0 item dictionary."""
    props = {"datetime": dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), **properties}
    return {
        "type": "Feature", "stac_version": "1.0.0",
        "stac_extensions": [f"https://stac-extensions.github.io/{e}/schema.json" for e in extensions],
        "id": item_id, "collection": collection, "geometry": geometry, "bbox": bbox,
        "properties": props, "links": [], "assets": assets,
    }


def s2_asset(band: str, href: Path, shape: tuple[int, int], transform: Affine, offset: float) -> tuple[str, dict]:
    """Return (Earth Search key, asset) for one Sentinel-2 L2A band."""
    key, title, res, centre, fwhm = S2_ASSETS[band]
    eo = [{"name": band, "common_name": key, "center_wavelength": centre, "full_width_half_max": fwhm}]
    return key, asset(href, title, shape, transform, ["data", "reflectance"],
                      _raster_band("uint16", res, 0, scale=0.0001, offset=offset), **{"eo:bands": eo, "gsd": res})


def s2_asset_pc(band: str, href: Path, shape: tuple[int, int], transform: Affine) -> tuple[str, dict]:
    """Return (Planetary Computer key, asset) for one Sentinel-2 L2A band: ``B02`` ..., no raster:bands."""
    key, _, res, centre, fwhm = S2_ASSETS[band]
    eo = [{"name": band, "common_name": key, "description": S2_PC_TITLES[band].rsplit(" - ", 1)[0],
           "center_wavelength": centre, "full_width_half_max": fwhm}]
    return band, _pc_asset(href, S2_PC_TITLES[band], shape, transform, res, **{"eo:bands": eo})


def _pc_asset(href: Path, title: str, shape: tuple[int, int], transform: Affine, res: float, **extra: Any) -> dict:
    left, top = transform.c, transform.f
    bbox = [left, top + shape[0] * transform.e, left + shape[1] * transform.a, top]
    return {"href": str(href.resolve()), "type": COG_TYPE, "title": title, "roles": ["data"], "gsd": float(res),
            "proj:bbox": bbox, "proj:shape": list(shape), "proj:transform": list(transform)[:6], **extra}


def scl_asset(href: Path, shape: tuple[int, int], transform: Affine, naming: str = "earth-search") -> dict[str, Any]:
    """Return the SCL asset in Earth Search (``scl``) or Planetary Computer (``SCL``) style."""
    if naming == "planetary-computer":
        return _pc_asset(href, "Scene classfication map (SCL)", shape, transform, 20)
    return asset(href, "Scene classification map (SCL)", shape, transform, ["data", "reflectance"],
                 _raster_band("uint8", 20, 0), gsd=20)


def collection(collection_id: str, description: str, bbox: list[float], start: datetime, end: datetime,
               summaries: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return a STAC collection dictionary covering ``bbox`` and [start, end]."""
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return {
        "type": "Collection", "stac_version": "1.0.0", "id": collection_id,
        "description": description, "license": "proprietary", "links": [],
        "extent": {"spatial": {"bbox": [bbox]}, "temporal": {"interval": [[start.strftime(fmt), end.strftime(fmt)]]}},
        "summaries": summaries or {},
    }


def write_collection(out: Path, coll: dict[str, Any], items: list[dict[str, Any]]) -> None:
    """Write ``collection.json`` and ``items.ndjson`` (one item per line) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "collection.json").write_text(json.dumps(coll, indent=1))
    with (out / "items.ndjson").open("w") as fh:
        for it in items:
            fh.write(json.dumps(it) + "\n")
