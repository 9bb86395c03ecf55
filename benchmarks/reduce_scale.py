"""Reducer time and peak memory per glacier for 1, 100 and 10,000 glaciers (docs/products.md).

Per tile, what a run does to it: ``reduce_item`` for each year (clean-up, attribution, parts, polygons) and, at
publish, the tile's series (``tile_series`` + ``glacier_years``: filter, gap filling, per-glacier estimates).
Archive I/O is not included (``glacierscale bench archive`` measures it). Glaciers are discs of 8–12 px radius
on 256-px tiles at 20 m, at most 100 per tile, so 10,000 glaciers are 100 tiles; clouds cover ~30 % of each
tile-year. Peak memory is the largest tracemalloc peak of one tile (numpy reports its buffers to tracemalloc).

    .venv/bin/python benchmarks/reduce_scale.py --glaciers 1,100,10000 --json
"""

from __future__ import annotations

import argparse
import json
import time
import tracemalloc
from typing import Any

import numpy as np

RES, SIZE, PER_TILE, YEARS = 20.0, 256, 100, (2021, 2022, 2023)


def _tile(k: int, n: int, first: int) -> tuple[Any, Any]:
    import geopandas as gpd
    import shapely

    from glacierscale.inventory.units import WorkUnit, unit_id

    ids = tuple(f"G{first + i:06d}" for i in range(n))
    col, row = 80 + k % 10, 1000 + k // 10  # UTM 32N around 10°E 46°N, 10 tiles a row
    unit = WorkUnit(unit_id(32632, RES, SIZE, col, row), 32632, col, row, RES, SIZE, ids, overlap_px=0)
    minx, _, _, maxy = unit.bounds
    step = SIZE / 10
    discs = [shapely.Point(minx + (k % 10 + 0.5) * step * RES, maxy - (k // 10 + 0.5) * step * RES).buffer(10 * RES)
             for k in range(n)]
    return unit, gpd.GeoDataFrame({"glacier_id": list(ids)}, geometry=discs, crs=32632)


def _tile_result(unit: Any, glaciers: Any, year: int, rng: np.random.Generator) -> Any:
    from rasterio import features
    from scipy import ndimage

    from glacierscale.infer.actors import TileResult
    from glacierscale.reduce.areas import unit_transform

    shrink = (year - YEARS[0]) * RES  # each glacier loses a 20 m rim a year
    shapes = [(g.buffer(-shrink), 1) for g in glaciers.geometry]
    classes = features.rasterize(shapes, out_shape=(SIZE, SIZE), transform=unit_transform(unit), dtype="uint8")
    field = ndimage.gaussian_filter(rng.standard_normal((SIZE, SIZE)), 10)
    classes[field > np.quantile(field, 0.7)] = 255
    prob = np.where(classes == 255, 255, np.where(classes == 1, 95, 3)).astype(np.uint8)
    return TileResult(unit.unit_id, year, classes, prob, 0.0, {"s2": False})


def run_tile(unit: Any, glaciers: Any, rng: np.random.Generator) -> int:
    """Reduce one tile's years and its series; return the glacier-years estimated."""
    import shapely
    from rasterio import features

    from glacierscale.reduce.areas import unit_transform
    from glacierscale.reduce.tasks import reduce_item
    from glacierscale.reduce.temporal import glacier_years, tile_series

    products = [reduce_item(unit, _tile_result(unit, glaciers, y, rng), glaciers, input_hash="i", model_hash="m",
                            scenes={}, max_distance_m=100.0, min_object_km2=0.01) for y in YEARS]
    index = {g: i + 1 for i, g in enumerate(sorted(unit.glacier_ids))}
    labels = np.zeros((len(YEARS), SIZE, SIZE), np.int32)
    for i, p in enumerate(products):
        shapes = [(shapely.from_wkb(g.outline_wkb), index[g.glacier_id]) for g in p.parts if g.outline_wkb]
        if shapes:
            labels[i] = features.rasterize(shapes, out_shape=(SIZE, SIZE), transform=unit_transform(unit), dtype="int32")
    classes = np.stack([p.classes for p in products])
    prob = np.stack([p.probability for p in products])
    series = tile_series(list(YEARS), classes, prob, labels, RES)
    return sum(len(y) for y in glacier_years(series, classes, len(index), RES))


def measure(n: int, seed: int = 0) -> dict[str, float]:
    """Return seconds and peak MB for ``n`` glaciers, in total and per glacier."""
    rng = np.random.default_rng(seed)
    tiles = [_tile(t, min(PER_TILE, n - t * PER_TILE), t * PER_TILE) for t in range(-(-n // PER_TILE))]
    run_tile(*tiles[0], rng)  # warm imports and caches
    peak, done = 0, 0
    t0 = time.perf_counter()
    for unit, glaciers in tiles:
        tracemalloc.start()
        done += run_tile(unit, glaciers, rng)
        peak = max(peak, tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    seconds = time.perf_counter() - t0
    return {"glaciers": n, "tiles": len(tiles), "glacier_years": done, "seconds": seconds,
            "ms_per_glacier": 1000 * seconds / n, "peak_mb_per_tile": peak / 2**20}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--glaciers", default="1,100,10000")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = [measure(int(n)) for n in args.glaciers.split(",")]
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        for r in rows:
            print(f"{r['glaciers']:>6} glaciers, {r['tiles']:>4} tiles: {r['seconds']:8.2f} s, "
                  f"{r['ms_per_glacier']:8.2f} ms/glacier, peak {r['peak_mb_per_tile']:.1f} MB per tile")


if __name__ == "__main__":
    main()
