"""Quick-look PNGs of a simulated scene set: one per sensor plus the class truth (docs/img/simulator_*.png).

    .venv/bin/python benchmarks/simulate_figures.py SCENE_DIR [--out docs/img] [--year 2022] [--date 08-25]
        [--prefix simulator] [--only s2,s1,landsat,dem,truth]

SCENE_DIR is a folder written by ``glacierscale simulate``. Sentinel-2 is shown as true colour and as a
SWIR-NIR-red false colour (ice and snow cyan, debris and rock brown), Sentinel-1 as VV/VH/coherence,
Landsat as surface temperature in kelvin, the DEM as shaded relief; truth outlines are drawn on top.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import rasterio
from matplotlib.colors import ListedColormap


def items(root: Path, collection: str) -> list[dict[str, Any]]:
    path = root / collection / "items.ndjson"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def pick(its: list[dict[str, Any]], year: int, date: str | None) -> dict[str, Any] | None:
    mine = [it for it in its if it["properties"]["datetime"].startswith(str(year))]
    if date:
        mine = [it for it in mine if it["properties"]["datetime"][5:10] == date] or mine
    return min(mine, key=lambda it: it["properties"].get("eo:cloud_cover", 0)) if mine else None


def read(href: str) -> tuple[np.ndarray, Any]:
    with rasterio.open(href) as src:
        return src.read(1, masked=True).astype("float64").filled(np.nan), src


def extent(src: Any) -> list[float]:
    b = src.bounds
    return [b.left, b.right, b.bottom, b.top]


def outlines_on(ax: Any, root: Path, year: int, crs: Any) -> None:
    df = gpd.read_file(root / "truth" / "truth_outlines.gpkg")
    df = df[df["year"] == year].to_crs(crs)
    df.boundary.plot(ax=ax, color="magenta", linewidth=0.7)


def s2_figure(root: Path, item: dict[str, Any], year: int, out: Path) -> None:
    a = item["assets"]
    keys = ("red", "green", "blue", "swir16", "nir") if "red" in a else ("B04", "B03", "B02", "B11", "B08")

    def refl(key: str) -> tuple[np.ndarray, Any]:
        dn, src = read(a[key]["href"])
        band = a[key].get("raster:bands", [{}])[0]
        offset = band.get("offset", -0.1 if item["properties"]["s2:processing_baseline"] >= "04.00" else 0.0)
        return dn * 0.0001 + offset, src

    r, src = refl(keys[0])
    g, _ = refl(keys[1])
    b, _ = refl(keys[2])
    swir, _ = refl(keys[3])
    nir, _ = refl(keys[4])
    swir = np.kron(swir, np.ones((2, 2)))
    scl, _ = read(a["scl" if "scl" in a else "SCL"]["href"])
    fig, axes = plt.subplots(1, 3, figsize=(16.5, 5.6))
    axes[0].imshow(np.clip(np.dstack([r, g, b]) / 0.9, 0, 1) ** 0.8, extent=extent(src))
    axes[0].set_title(f"Sentinel-2 L2A true colour {item['properties']['datetime'][:10]}", fontsize=10)
    axes[1].imshow(np.clip(np.dstack([swir / 0.4, nir / 0.8, r / 0.8]), 0, 1), extent=extent(src))
    axes[1].set_title("B11-B08-B04: ice/snow cyan, debris = rock brown", fontsize=10)
    # SCL colours after ESA's legend: 2 dark area, 3 cloud shadow, 4 vegetation, 5 bare, 6 water,
    # 8/9 cloud medium/high, 10 cirrus, 11 snow/ice
    scl_colours = ["#000000", "#ff0000", "#404040", "#835a00", "#00a000", "#ffe65a", "#0000ff", "#808080",
                   "#c0c0c0", "#ffffff", "#64c8ff", "#ff96ff"]
    axes[2].imshow(scl, extent=extent(src), cmap=ListedColormap(scl_colours), vmin=-0.5, vmax=11.5,
                   interpolation="nearest")
    axes[2].set_title("SCL: 2 dark (grey), 3 cloud shadow (brown), 4 vegetation,\n5 bare (yellow), 6 water, "
                      "8/9 cloud (white), 11 snow/ice (pink)", fontsize=9)
    for ax in axes:
        outlines_on(ax, root, year, src.crs)
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def s1_figure(root: Path, item: dict[str, Any], year: int, out: Path) -> None:
    vv, src = read(item["assets"]["vv"]["href"])
    vh, _ = read(item["assets"]["vh"]["href"])
    coh, _ = read(item["assets"]["coherence-vv-12d"]["href"])
    fig, axes = plt.subplots(1, 3, figsize=(15, 5.2))
    for ax, data, title, lim, cmap in ((axes[0], 10 * np.log10(vv), "VV γ⁰ (dB)", (-25, 0), "gray"),
                                       (axes[1], 10 * np.log10(vh), "VH γ⁰ (dB)", (-32, -8), "gray"),
                                       (axes[2], coh, "12-day VV coherence", (0, 1), "viridis")):
        im = ax.imshow(data, extent=extent(src), vmin=lim[0], vmax=lim[1], cmap=cmap)
        outlines_on(ax, root, year, src.crs)
        ax.set_title(f"Sentinel-1 RTC {title} {item['properties']['datetime'][:10]}", fontsize=9)
        ax.set_axis_off()
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def landsat_figure(root: Path, item: dict[str, Any], year: int, out: Path) -> None:
    band = item["assets"]["lwir11"]["raster:bands"][0]
    dn, src = read(item["assets"]["lwir11"]["href"])
    fig, ax = plt.subplots(figsize=(6.5, 5.4))
    im = ax.imshow(dn * band["scale"] + band["offset"], extent=extent(src), cmap="inferno", vmin=258, vmax=300)
    outlines_on(ax, root, year, src.crs)
    ax.set_title(f"Landsat C2 L2 lwir11 surface temperature (K) {item['properties']['datetime'][:10]}", fontsize=9)
    ax.set_axis_off()
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def dem_figure(root: Path, item: dict[str, Any], year: int, out: Path) -> None:
    z, src = read(item["assets"]["data"]["href"])
    dy, dx = np.gradient(np.nan_to_num(z, nan=float(np.nanmean(z))))
    shade = np.clip(0.5 + 0.02 * (dx - dy), 0, 1)
    fig, ax = plt.subplots(figsize=(6.5, 5.4))
    ax.imshow(shade, extent=extent(src), cmap="gray")
    im = ax.imshow(z, extent=extent(src), cmap="terrain", alpha=0.55)
    outlines_on(ax, root, year, src.crs)
    ax.set_title("Copernicus DEM GLO-30 (m, EPSG:4326 1″ grid)", fontsize=9)
    ax.set_axis_off()
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def truth_figure(root: Path, year: int, out: Path) -> None:
    classes, src = read(str(root / "truth" / f"truth_classes_{year}.tif"))
    fig, ax = plt.subplots(figsize=(6.5, 5.4))
    cmap = ListedColormap(["#d8d2c4", "#3fa7d6", "#8c5a2b"])
    ax.imshow(classes, extent=extent(src), cmap=cmap, vmin=0, vmax=2, interpolation="nearest")
    fronts = root / "truth" / "truth_calving_fronts.gpkg"
    if fronts.exists():
        f = gpd.read_file(fronts)
        f = f[f["year"] == year]
        if len(f):
            f.to_crs(src.crs).plot(ax=ax, color="red", linewidth=2)
    front_note = "; calving front red" if fronts.exists() and len(gpd.read_file(fronts).query("year == @year")) else ""
    ax.set_title(f"truth {year}: background / clean ice+snow / debris-covered ice{front_note}", fontsize=9)
    ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenes", type=Path)
    ap.add_argument("--out", type=Path, default=Path("docs/img"))
    ap.add_argument("--year", type=int)
    ap.add_argument("--date", help="MM-DD of the scenes to show (default: the clearest of the year)")
    ap.add_argument("--prefix", default="simulator")
    ap.add_argument("--only", default="s2,s1,landsat,dem,truth", help="comma list of the figures to make")
    args = ap.parse_args()
    sim = json.loads((args.scenes / "simulation.json").read_text())
    year = args.year or sim["years"][0]
    args.out.mkdir(parents=True, exist_ok=True)
    for coll, fn, name in (("sentinel-2-l2a", s2_figure, "s2"), ("sentinel-1-rtc", s1_figure, "s1"),
                           ("landsat-c2-l2", landsat_figure, "landsat"), ("cop-dem-glo-30", dem_figure, "dem")):
        if name not in args.only.split(","):
            continue
        found = items(args.scenes, coll)
        it = pick(found, year, args.date) if coll != "cop-dem-glo-30" else (found or [None])[0]
        if it is not None:
            fn(args.scenes, it, year, args.out / f"{args.prefix}_{name}.png")
            print(args.out / f"{args.prefix}_{name}.png")
    if "truth" in args.only.split(","):
        truth_figure(args.scenes, year, args.out / f"{args.prefix}_truth.png")
        print(args.out / f"{args.prefix}_truth.png")


if __name__ == "__main__":
    main()
