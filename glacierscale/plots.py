"""Figures: area series and the demo's map of classes with outlines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _series(ax: Any, df: pd.DataFrame, truth: pd.DataFrame | None = None) -> None:
    for i, (gid, g) in enumerate(df.groupby("glacier_id")):
        color = f"C{i % 10}"
        ax.plot(g["year"], g["area_km2"], "o-", color=color, label=str(gid))
        if truth is not None and gid in truth.index:
            t = truth.loc[gid]
            ax.plot([int(y) for y in t.index], t.values, "x--", color=color, alpha=0.6)
    ax.set_xlabel("year")
    ax.set_ylabel("area (km²)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, title="mapped (o)" + (", truth (x)" if truth is not None else ""), title_fontsize=7)


def area_series(df: pd.DataFrame, path: str | Path) -> None:
    """Draw area against year, one line per glacier."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    _series(ax, df)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def demo_figure(classes: Any, outlines: Any, areas: pd.DataFrame, truth: pd.DataFrame, path: str | Path,
                year: int) -> None:
    """Draw the mapped classes of ``year`` with the truth outlines, beside the area series."""
    from matplotlib.colors import ListedColormap

    plt = _plt()
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(13, 6), gridspec_kw={"width_ratios": [1.1, 1]})
    x, y = classes.x.values, classes.y.values
    ext = [x[0] - (x[1] - x[0]) / 2, x[-1] + (x[1] - x[0]) / 2, y[-1] - (y[0] - y[1]) / 2, y[0] + (y[0] - y[1]) / 2]
    data = np.where(classes.values == 255, 3, classes.values)
    cmap = ListedColormap(["#d9d4c7", "#4fa3e0", "#8c5a3c", "#ffffff"])
    ax0.imshow(data, cmap=cmap, vmin=0, vmax=3, extent=ext, interpolation="nearest")
    outlines.boundary.plot(ax=ax0, color="black", linewidth=0.8)
    for _, r in outlines.iterrows():
        p = r.geometry.representative_point()
        ax0.annotate(str(r.glacier_id), (p.x, p.y), fontsize=7, ha="center")
    ax0.set_title(f"mapped {year}: clean ice (blue), debris-covered ice (brown); truth outlines (black)", fontsize=9)
    ax0.set_xlabel("easting (m)")
    ax0.set_ylabel("northing (m)")
    _series(ax1, areas, truth)
    ax1.set_title("area per glacier: mapped vs truth", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def training_curve(losses: np.ndarray, path: str | Path, window: int = 25) -> None:
    """Draw the per-step training loss and its moving average."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(losses, color="0.75", linewidth=0.6, label="loss per step")
    if len(losses) >= window:
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.plot(np.arange(window - 1, len(losses)), smooth, color="C0", label=f"moving mean ({window})")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy + Dice")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def change_figure(cog: str | Path, path: str | Path, title: str = "") -> None:
    """Draw a loss/gain COG (``archive.lossgain``): ice lost red, gained blue, unchanged white, unobserved grey."""
    import rasterio
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    with rasterio.open(cog) as src:
        change, b = src.read(1), src.bounds
    data = np.select([change == -128, change == -1, change == 1], [0, 1, 3], default=2)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 7))
    colors = ["#bdbdbd", "#d7301f", "#ffffff", "#2171b5"]
    ax.imshow(data, cmap=ListedColormap(colors), vmin=0, vmax=3, extent=[b.left, b.right, b.bottom, b.top],
              interpolation="nearest")
    names = ("unobserved", "ice lost", "unchanged", "ice gained")
    ax.legend(handles=[Patch(facecolor=c, edgecolor="0.4", label=n) for c, n in zip(colors, names, strict=True)],
              fontsize=8, loc="lower right", framealpha=0.9)
    ax.set_title(title or Path(cog).stem, fontsize=9)
    ax.set_xlabel("easting (m)")
    ax.set_ylabel("northing (m)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
