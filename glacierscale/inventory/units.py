"""Work units: square tiles on a fixed per-CRS grid that cover the (buffered) inventory glaciers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
from pyproj import Transformer
from shapely.geometry import box

from glacierscale.errors import InputError

ID_COLUMNS = ("glacier_id", "rgi_id", "RGIId", "glac_id")


@dataclass(frozen=True)
class WorkUnit:
    """One tile of the fixed grid: stable id (CRS + grid indices), projected bounds and its glaciers."""

    unit_id: str
    epsg: int
    col: int
    row: int
    resolution: float
    size_px: int
    glacier_ids: tuple[str, ...]

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """Return (minx, miny, maxx, maxy) in the unit's CRS."""
        span = self.size_px * self.resolution
        return (self.col * span, self.row * span, (self.col + 1) * span, (self.row + 1) * span)

    def bbox_wgs84(self) -> tuple[float, float, float, float]:
        """Return the unit's bounding box in longitude/latitude."""
        tf = Transformer.from_crs(f"EPSG:{self.epsg}", "EPSG:4326", always_xy=True)
        w, s, e, n = tf.transform_bounds(*self.bounds, densify_pts=21)
        return (w, s, e, n)


def read_inventory(path: str | Path) -> gpd.GeoDataFrame:
    """Read glacier outlines (any vector format geopandas reads) with a ``glacier_id`` column."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"inventory {p} does not exist")
    try:
        gdf = gpd.read_file(p)
    except Exception as err:  # pyogrio raises several types for non-vector input
        raise InputError(f"inventory {p} is not a readable vector file: {err}") from None
    if gdf.empty:
        raise InputError(f"inventory {p} holds no outlines")
    if gdf.crs is None:
        raise InputError(f"inventory {p} has no CRS")
    col = next((c for c in ID_COLUMNS if c in gdf.columns), None)
    if col is None:
        raise InputError(f"inventory {p} has no glacier id column (one of {', '.join(ID_COLUMNS)})")
    gdf = gdf.rename(columns={col: "glacier_id"})
    gdf["glacier_id"] = gdf["glacier_id"].astype(str)
    gdf["geometry"] = gdf.geometry.make_valid()
    return gdf


def utm_epsg_of(gdf: gpd.GeoDataFrame) -> int:
    """Return the UTM EPSG code of the inventory's centroid."""
    lon, lat = gdf.to_crs("EPSG:4326").union_all().centroid.coords[0]
    zone = int((lon + 180) // 6) % 60 + 1
    return (32600 if lat >= 0 else 32700) + zone


def plan_units(inventory: gpd.GeoDataFrame, resolution: float, tile_size: int, margin_m: float) -> list[WorkUnit]:
    """Return the tiles of the fixed grid (origin 0,0 of the UTM CRS) touched by buffered glaciers."""
    epsg = utm_epsg_of(inventory)
    proj = inventory.to_crs(epsg)
    span = tile_size * resolution
    members: dict[tuple[int, int], list[str]] = {}
    for gid, geom in zip(proj["glacier_id"], proj.geometry, strict=True):
        buffered = geom.buffer(margin_m)
        minx, miny, maxx, maxy = buffered.bounds
        for col in range(math.floor(minx / span), math.floor(maxx / span) + 1):
            for row in range(math.floor(miny / span), math.floor(maxy / span) + 1):
                if buffered.intersects(box(col * span, row * span, (col + 1) * span, (row + 1) * span)):
                    members.setdefault((col, row), []).append(gid)
    return [
        WorkUnit(f"{epsg}_{int(resolution)}m_{tile_size}_{col}_{row}", epsg, col, row, resolution, tile_size,
                 tuple(sorted(ids)))
        for (col, row), ids in sorted(members.items())
    ]
