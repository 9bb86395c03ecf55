"""Loss/gain rasters between two archive years, as COGs per zone × window, with their ground areas.

``ChangeArchive.changes`` gives the same map lazily for a bbox; this module writes it for whole archives (or a
bbox), for one pair of years or every consecutive pair, and sums lost and gained ice on the ellipsoid.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from glacierscale.classes import GLACIER_CLASSES, NODATA_CLASS
from glacierscale.errors import ArchiveError, InputError

if TYPE_CHECKING:
    from glacierscale.archive.query import BBox, ChangeArchive

LOSS, UNCHANGED, GAIN, NODATA = -1, 0, 1, -128  # int8 values of the change band


@dataclass(frozen=True)
class PairChange:
    """What one year pair's rasters hold: the files and the ground areas (km²) of each change value."""

    from_year: int
    to_year: int
    paths: tuple[Path, ...]
    loss_km2: float
    gain_km2: float
    stable_ice_km2: float
    unobserved_km2: float  # pixels nodata in either year, within the tiles both years mapped

    @property
    def net_km2(self) -> float:
        return self.gain_km2 - self.loss_km2


def change_map(classes_from: np.ndarray, classes_to: np.ndarray) -> np.ndarray:
    """Return the int8 change map: −1 ice lost, +1 ice gained, 0 unchanged, −128 where either year is nodata."""
    ice_a, ice_b = np.isin(classes_from, GLACIER_CLASSES), np.isin(classes_to, GLACIER_CLASSES)
    out = ice_b.astype(np.int8) - ice_a.astype(np.int8)
    out[(classes_from == NODATA_CLASS) | (classes_to == NODATA_CLASS)] = NODATA
    return out


def year_pairs(years: list[int], first: int | None, last: int | None, *, consecutive: bool) -> list[tuple[int, int]]:
    """Return the year pairs to compare: (first, last), or every consecutive pair of the years held in between."""
    held = sorted(y for y in years if (first is None or y >= first) and (last is None or y <= last))
    if len(held) < 2:
        span = f"{first}–{last}" if first is not None else "the archive"
        raise InputError(f"loss/gain needs two mapped years in {span}; the archive holds {sorted(years) or 'none'}")
    if consecutive:
        return list(itertools.pairwise(held))
    return [(held[0], held[-1])]


def write_changes(archive: ChangeArchive, folder: str | Path, *, years: tuple[int, int] | None = None,
                  bbox: BBox | None = None, consecutive: bool = False,
                  window_tiles: int | None = None) -> list[PairChange]:
    """Write loss/gain COGs per zone × window for each year pair; return each pair's files and areas.

    A window covers the tiles mapped (status done) in both years of the pair; files are named
    ``<epsg>_<from>-<to>_<block col>_<block row>.tif`` (one int8 band ``change``, nodata −128).
    """
    from glacierscale.archive.export import WINDOW_TILES, tiles_in

    recs = archive.tiles()
    recs = recs[recs["status"] == "done"]
    if bbox is not None:
        recs = recs[recs["unit_id"].isin(set(tiles_in(archive, bbox)))]
        if recs.empty:
            raise InputError(f"--bbox {','.join(f'{v:g}' for v in bbox)}: no tile of archive {archive.location} "
                             "mapped there")
    first, last = years if years else (None, None)
    pairs = year_pairs(sorted(set(recs["year"].astype(int))), first, last, consecutive=consecutive)
    by_year = {int(y): set(g["unit_id"]) for y, g in recs.groupby("year")}
    mosaics: dict[int, Any] = {}
    out = []
    for a, b in pairs:
        both = sorted(by_year[a] & by_year[b])
        out.append(_write_pair(archive, Path(folder), a, b, both, mosaics, window_tiles or WINDOW_TILES))
    return out


def _write_pair(archive: ChangeArchive, folder: Path, a: int, b: int, unit_ids: list[str], mosaics: dict[int, Any],
                window_tiles: int) -> PairChange:
    from glacierscale.archive.export import window_bounds, window_grid, write_cog
    from glacierscale.reduce.areas import tile_pixel_areas_km2

    if not unit_ids:
        raise ArchiveError(f"archive {archive.location}: no tile is mapped in both {a} and {b}")
    grid = window_grid(pd.Series(unit_ids), window_tiles)
    paths, sums = [], dict.fromkeys((LOSS, GAIN, NODATA), 0.0)
    stable = 0.0
    for (epsg, bcol, brow), group in grid.groupby(["epsg", "bcol", "brow"]):
        res, size, minx, miny, maxx, maxy = window_bounds(group)
        c0, r1 = int(group["col"].min()), int(group["row"].max())
        if epsg not in mosaics:
            mosaics[epsg] = archive.mosaic(int(epsg))
        ds = mosaics[epsg]["classes"].sel(x=slice(minx, maxx), y=slice(maxy, miny))
        ca, cb = ds.sel(year=a).values, ds.sel(year=b).values
        change = change_map(ca, cb)
        mapped = np.zeros(change.shape, dtype=bool)  # tiles of the window that both years hold
        for t in group.itertuples():
            y0, x0 = (r1 - int(t.row)) * size, (int(t.col) - c0) * size
            mapped[y0:y0 + size, x0:x0 + size] = True
            px = tile_pixel_areas_km2(int(epsg), int(t.col), int(t.row), res, size)
            block = change[y0:y0 + size, x0:x0 + size]
            for v in sums:
                sums[v] += float(px[block == v].sum())
            stable += float(px[(block == UNCHANGED) & np.isin(cb[y0:y0 + size, x0:x0 + size], GLACIER_CLASSES)].sum())
        change[~mapped] = NODATA
        path = folder / f"{int(epsg)}_{a}-{b}_{int(bcol)}_{int(brow)}.tif"
        write_cog(path, change[None], int(epsg), res, minx, maxy, NODATA,
                  (f"change {a}→{b}: -1 ice lost, 0 unchanged, +1 ice gained",), {"from_year": a, "to_year": b})
        paths.append(path)
    return PairChange(a, b, tuple(paths), loss_km2=sums[LOSS], gain_km2=sums[GAIN], stable_ice_km2=stable,
                      unobserved_km2=sums[NODATA])
