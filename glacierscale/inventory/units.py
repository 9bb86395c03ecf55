"""Work units: square tiles on a fixed per-CRS grid that cover the (buffered) inventory glaciers.

A tile's CRS follows the zone rule of :mod:`glacierscale.inventory.grid` (UTM between 60°S and 72°N, polar
stereographic beyond); its id ``{epsg}_{resolution}m_{tile_size}_{col}_{row}`` is stable across runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
from affine import Affine
from pyproj import Transformer

from glacierscale.inventory.grid import DEFAULT_OVERLAP_PX, Memberships, assign_tiles, crs_kind, to_lonlat, zone_bounds
from glacierscale.inventory.readers import ID_COLUMNS, read_outlines

__all__ = ["ID_COLUMNS", "WorkUnit", "plan_units", "read_inventory", "unit_id", "units_from_memberships",
           "utm_epsg_of"]


def unit_id(epsg: int, resolution: float, size_px: int, col: int, row: int) -> str:
    """Return the stable tile id: CRS, pixel size, tile size and grid indices."""
    return f"{epsg}_{resolution:g}m_{size_px}_{col}_{row}"


@dataclass(frozen=True)
class WorkUnit:
    """One tile of the fixed grid: stable id (CRS + grid indices), projected bounds and its glaciers.

    ``glacier_ids`` lists every glacier whose outline, buffered by the planning margin, touches the core tile.
    ``bounds`` is the core tile (tiles of one CRS never overlap); ``padded_bounds()`` adds ``overlap_px``
    pixels on each side for reading context and blending.
    """

    unit_id: str
    epsg: int
    col: int
    row: int
    resolution: float
    size_px: int
    glacier_ids: tuple[str, ...]
    overlap_px: int = 0

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """Return (minx, miny, maxx, maxy) of the core tile in the unit's CRS."""
        span = self.size_px * self.resolution
        return (self.col * span, self.row * span, (self.col + 1) * span, (self.row + 1) * span)

    def padded_bounds(self) -> tuple[float, float, float, float]:
        """Return the core tile grown by ``overlap_px`` pixels on every side (what a reader should fetch)."""
        pad = self.overlap_px * self.resolution
        minx, miny, maxx, maxy = self.bounds
        return (minx - pad, miny - pad, maxx + pad, maxy + pad)

    @property
    def read_size_px(self) -> int:
        """Return the side in pixels of the padded tile that cubes and inference cover."""
        return self.size_px + 2 * self.overlap_px

    def read_transform(self) -> Affine:
        """Return the north-up affine transform of the padded tile's pixel grid."""
        minx, _, _, maxy = self.padded_bounds()
        return Affine(self.resolution, 0.0, minx, 0.0, -self.resolution, maxy)

    def core(self) -> tuple[slice, slice]:
        """Return the (row, col) slices that cut the core tile out of a padded-tile array."""
        o = self.overlap_px
        return slice(o, o + self.size_px), slice(o, o + self.size_px)

    @property
    def crs_kind(self) -> str:
        """Return ``utm``, ``polar-north``, ``polar-south`` or ``custom``."""
        return crs_kind(self.epsg)

    def zone_wgs84(self) -> tuple[float, float, float, float]:
        """Return the lon/lat box (W, S, E, N) of the unit's CRS zone.

        Glacier parts outside it belong to tiles of the neighbouring zone, so a reducer that counts only the
        pixels inside the zone never counts a glacier part twice where tiles of two CRSs overlap.
        """
        return zone_bounds(self.epsg)

    def bbox_wgs84(self) -> tuple[float, float, float, float]:
        """Return the unit's bounding box in longitude/latitude (W > E where it crosses the antimeridian)."""
        tf = Transformer.from_crs(f"EPSG:{self.epsg}", "EPSG:4326", always_xy=True)
        w, s, e, n = tf.transform_bounds(*self.bounds, densify_pts=21)
        return (w, s, e, n)

    @property
    def hemisphere(self) -> str:
        """Return ``north`` or ``south``: the hemisphere of the tile centre (decides the season window)."""
        tf = Transformer.from_crs(f"EPSG:{self.epsg}", "EPSG:4326", always_xy=True)
        minx, miny, maxx, maxy = self.bounds
        _, lat = tf.transform((minx + maxx) / 2, (miny + maxy) / 2)
        return "north" if lat >= 0 else "south"


def read_inventory(path: str | Path, *, columns: dict[str, str] | None = None,
                   regions: tuple[str, ...] = ()) -> gpd.GeoDataFrame:
    """Read glacier outlines (file, zip or folder, any CRS) with ``glacier_id``, ``o1region``, ``o2region``.

    ``columns`` maps standard names to source columns (``{"glacier_id": "SGI"}``); invalid outlines are
    repaired and listed in ``inventory.attrs["repairs"]``. Raises InputError naming the file.
    """
    return read_outlines(path, columns=columns, regions=regions)


def utm_epsg_of(gdf: gpd.GeoDataFrame) -> int:
    """Return the UTM EPSG code of the inventory's centroid."""
    lon, lat = gdf.to_crs("EPSG:4326").union_all().centroid.coords[0]
    zone = int((lon + 180) // 6) % 60 + 1
    return (32600 if lat >= 0 else 32700) + zone


def units_from_memberships(m: Memberships, glacier_ids: np.ndarray, *, resolution: float, tile_size: int,
                           overlap_px: int) -> list[WorkUnit]:
    """Return one WorkUnit per distinct (epsg, col, row) of ``m``, ordered by CRS and grid indices."""
    if len(m) == 0:
        return []
    starts = np.flatnonzero(np.r_[True, (np.diff(m.epsg) != 0) | (np.diff(m.col) != 0) | (np.diff(m.row) != 0)])
    ends = np.r_[starts[1:], len(m)]
    ids = glacier_ids[m.glacier]
    return [
        WorkUnit(unit_id(int(m.epsg[s]), resolution, tile_size, int(m.col[s]), int(m.row[s])), int(m.epsg[s]),
                 int(m.col[s]), int(m.row[s]), float(resolution), int(tile_size),
                 tuple(sorted(set(ids[s:e].tolist()))), overlap_px)
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
    ]


def plan_units(inventory: gpd.GeoDataFrame, resolution: float, tile_size: int, margin_m: float, *,
               overlap_px: int = DEFAULT_OVERLAP_PX, epsg: int | None = None) -> list[WorkUnit]:
    """Return the tiles touched by the glaciers buffered by ``margin_m``, ordered by (epsg, col, row).

    Each glacier part is tiled in the CRS of its zone (UTM / polar stereographic; see grid.py), so an inventory
    may span several zones, the poles' surroundings and the antimeridian. ``epsg`` forces a single CRS.
    Deterministic: the same inventory (in any row order) gives the same units.
    """
    outlines = to_lonlat(inventory, areas=False)
    tiling = assign_tiles(outlines.geometry.to_numpy(), resolution=resolution, tile_size=tile_size,
                           margin_m=margin_m, epsg=epsg, source_geoms=inventory.geometry if epsg else None)
    return units_from_memberships(tiling.members, outlines["glacier_id"].astype(str).to_numpy(), resolution=resolution,
                                  tile_size=tile_size, overlap_px=overlap_px)
