"""A synthetic inventory with the size of RGI 7.0, written as RGI 7.0 region zips (shapefile + attributes CSV).

Counts per first-order region follow the RGI 7.0 technical note (274,570 outlines; region 13 is trimmed by 39
so the total is the 274,531 of the planning issue). Sizes: 83.6 % below 1 km² (log-uniform 0.01-1 km²),
994 above 100 km² (Pareto, alpha 1.1, truncated at 12,000 km², handed to regions in proportion to their ice area),
the rest Pareto (alpha 1) 1-100 km² (in proportion to glacier counts). Glaciers sit in clusters (σ 15 km) inside
rough lon/lat boxes of each region's mountains, including boxes across the antimeridian (regions 01, 10, 19),
beyond 72°N and beyond 60°S. Outlines are wobbly star polygons with one vertex per 50 m of perimeter
(12 to 4,000 vertices).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

# region: (count, ice area km²) from the RGI 7.0 o1 summary; 13 trimmed by 39 to total 274,531
RGI7_REGIONS: dict[str, tuple[int, float]] = {
    "01": (27510, 86708), "02": (18730, 14521), "03": (5217, 105370), "04": (11010, 40538), "05": (19996, 90482),
    "06": (568, 11060), "07": (1666, 33959), "08": (3410, 2948), "09": (1069, 51595), "10": (7155, 2643),
    "11": (4079, 2124), "12": (2275, 1407), "13": (75574, 50344), "14": (37562, 33075), "15": (18587, 16049),
    "16": (3695, 1929), "17": (30634, 27674), "18": (3018, 886), "19": (2776, 133434),
}
TOTAL = 274_531
N_LARGE = 994
SMALL_FRACTION = 0.836
NAMES = {"01": "alaska", "02": "western_canada_usa", "03": "arctic_canada_north", "04": "arctic_canada_south",
         "05": "greenland_periphery", "06": "iceland", "07": "svalbard_jan_mayen", "08": "scandinavia",
         "09": "russian_arctic", "10": "asia_north", "11": "central_europe", "12": "caucasus_middle_east",
         "13": "asia_central", "14": "asia_south_west", "15": "asia_south_east", "16": "low_latitudes",
         "17": "southern_andes", "18": "new_zealand", "19": "subantarctic_antarctic_islands"}
# rough glacierised boxes (W, S, E, N); W > E crosses the antimeridian
BOXES: dict[str, list[tuple[float, float, float, float]]] = {
    "01": [(-165, 56, -132, 68), (178, 51.5, -176, 53)], "02": [(-135, 44, -110, 62)], "03": [(-95, 76, -62, 83)],
    "04": [(-80, 62, -62, 74)], "05": [(-73, 60, -20, 70), (-60, 76, -18, 83)], "06": [(-24, 63.5, -14, 66)],
    "07": [(10, 77, 28, 80.5), (-9, 70.8, -8, 71.2)], "08": [(5, 60, 22, 70)], "09": [(40, 70.5, 105, 81.5)],
    "10": [(59, 45, 150, 69), (176, 64, -176, 67.5)], "11": [(6, 44.5, 15, 47.5), (-1, 42.5, 2, 43)],
    "12": [(39, 41, 48, 43.5), (44, 35, 52, 39)], "13": [(68, 30, 102, 45)], "14": [(67, 31, 80, 37)],
    "15": [(80, 27, 102, 31)], "16": [(-79, -17, -66, 5), (37, -3.2, 37.6, -2.9), (136.8, -4.1, 137.3, -3.9)],
    "17": [(-75, -55, -68, -28)], "18": [(167, -45.5, 172, -42)],
    "19": [(-70, -71, -56, -61), (-38, -55, -35.5, -53.5), (68.5, -49.8, 70.5, -48.8), (162, -67.6, 164.5, -66.3),
           (178, -78.5, -175, -76.5)],
}
VERTEX_SPACING_M = 50.0


def _apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` in proportion to ``weights`` (largest remainder)."""
    share = total * weights / weights.sum()
    out = np.floor(share).astype(np.int64)
    out[np.argsort(share - out)[::-1][: total - out.sum()]] += 1
    return out


def _pareto(rng: np.random.Generator, n: int, alpha: float, low: float, high: float) -> np.ndarray:
    """Draw ``n`` sizes from a Pareto law truncated to [low, high] (inverse CDF)."""
    u = rng.random(n)
    return low * (1 - u * (1 - (low / high) ** alpha)) ** (-1 / alpha)


def _sizes(rng: np.random.Generator) -> dict[str, np.ndarray]:
    codes = list(RGI7_REGIONS)
    counts = np.array([RGI7_REGIONS[c][0] for c in codes])
    assert counts.sum() == TOTAL
    n_small = round(SMALL_FRACTION * TOTAL)
    large = _apportion(N_LARGE, np.array([RGI7_REGIONS[c][1] for c in codes], dtype=float))
    mid = _apportion(TOTAL - n_small - N_LARGE, counts.astype(float))
    out = {}
    for c, n, nl, nm in zip(codes, counts, large, mid, strict=True):
        nm = min(nm, n - nl)
        ns = n - nl - nm
        out[c] = np.concatenate([10 ** rng.uniform(-2, 0, ns), _pareto(rng, nm, 1.0, 1.0, 100.0),
                                 _pareto(rng, nl, 1.1, 100.0, 12_000.0)])
    # the mid quota clipped in a region moves to the small class: keep the global share exact
    return out


def _centres(rng: np.random.Generator, code: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    boxes = BOXES[code]
    widths = np.array([(e - w) % 360 or 360 for w, _, e, _ in boxes])
    heights = np.array([nn - s for _, s, _, nn in boxes])
    weights = widths * heights * np.cos(np.radians([(s + nn) / 2 for _, s, _, nn in boxes]))
    n_clusters = max(1, n // 40)
    which = rng.choice(len(boxes), size=n_clusters, p=weights / weights.sum())
    w = np.array([boxes[i][0] for i in which])
    s = np.array([boxes[i][1] for i in which])
    clon = w + rng.random(n_clusters) * widths[which]
    clat = s + rng.random(n_clusters) * heights[which]
    member = rng.integers(0, n_clusters, n)
    lat = np.clip(clat[member] + rng.normal(0, 15_000 / 110_574, n), -85, 85)
    lon = clon[member] + rng.normal(0, 15_000, n) / (111_320 * np.cos(np.radians(lat)))
    return ((lon + 180) % 360) - 180, lat


def outlines(rng: np.random.Generator, lon: np.ndarray, lat: np.ndarray, area_km2: np.ndarray) -> np.ndarray:
    """Return wobbly star polygons (lon/lat) of the given areas around the centres, vectorised."""
    radius = np.sqrt(area_km2 * 1e6 / np.pi)
    nv = np.clip((2.6 * np.pi * radius / VERTEX_SPACING_M).astype(np.int64), 12, 4000)
    ring = np.repeat(np.arange(len(nv)), nv)
    k = np.arange(nv.sum()) - np.repeat(np.cumsum(nv) - nv, nv)
    theta = 2 * np.pi * k / nv[ring]
    phase = rng.uniform(0, 2 * np.pi, (3, len(nv)))
    amp = rng.uniform(0.05, 0.2, (3, len(nv)))
    wobble = 1 + sum(amp[h][ring] * np.sin((h + 2) * theta + phase[h][ring]) for h in range(3))
    r = radius[ring] * wobble * 0.95
    coslat = np.cos(np.radians(lat))[ring]
    x = lon[ring] + r * np.cos(theta) / (111_320 * coslat)
    y = lat[ring] + r * np.sin(theta) / 110_574
    coords = np.column_stack([x, y])
    # close each ring: repeat its first vertex
    first = np.cumsum(nv) - nv
    closed = np.insert(coords, np.cumsum(nv), coords[first], axis=0)
    idx = np.repeat(np.arange(len(nv)), nv + 1)
    return np.asarray(shapely.polygons(shapely.linearrings(closed, indices=idx)))


def write_rgi7_zips(folder: Path, seed: int = 7) -> dict[str, int]:
    """Write one RGI 7.0-style zip per region into ``folder``; return outlines per region and vertices."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    stats: dict[str, int] = {"vertices": 0}
    for code, areas in _sizes(rng).items():
        lon, lat = _centres(rng, code, len(areas))
        geoms = outlines(rng, lon, lat, areas)
        stem = f"RGI2000-v7.0-G-{code}_{NAMES[code]}"
        gdf = gpd.GeoDataFrame({
            "rgi_id": [f"RGI2000-v7.0-G-{code}-{i + 1:05d}" for i in range(len(areas))],
            "o1region": code, "o2region": f"{code}-01", "cenlon": lon, "cenlat": lat, "area_km2": areas,
        }, geometry=geoms, crs=4326)
        tmp = folder / stem
        tmp.mkdir(exist_ok=True)
        gdf.to_file(tmp / f"{stem}.shp", engine="pyogrio")
        gdf.drop(columns="geometry").to_csv(tmp / f"{stem}-attributes.csv", index=False)
        with zipfile.ZipFile(folder / f"{stem}.zip", "w", zipfile.ZIP_DEFLATED) as zf:
            for f in sorted(tmp.iterdir()):
                zf.write(f, f.name)
                f.unlink()
        tmp.rmdir()
        stats[code] = len(gdf)
        stats["vertices"] += int(shapely.get_num_coordinates(geoms).sum())
    return stats
