"""The spectra check: where simulated Sentinel-2 pixels fall among real hand-labelled pixel spectra.

The real spectra are the 11,729 labelled Sentinel-2 SR points of Aberle et al. (four USGS benchmark
glaciers, June-August 2021; ``../shared/data/real/aberle-glacier-spectra``): snow, shadowed snow, ice, rock,
water. The simulator renders full-physics late-summer dates of a procedural region and groups its clear
pixels by the same classes (snow on and off glaciers; snow in cast shadow; clean and dirty ice; rock, moraine
and debris; lakes). For every class and band the check reports the percentile of the real distribution at
which the simulated median falls; a class passes when every band lies between :data:`LOW_PCT` and
:data:`HIGH_PCT`. Debris has no real class there: it is compared with PHYSICS.md's range instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from glacierscale.simulate.physics import S2_BANDS, Surface
from glacierscale.simulate.region import RegionSpec, build_region

REAL_FILE = "Sentinel-2_SR_training_data.csv"
REAL_COLUMNS = ("B2", "B3", "B4", "B8", "B11", "B12")  # the file's names of B02 B03 B04 B08 B11 B12
REAL_CLASSES = {1: "snow", 2: "shadowed snow", 3: "ice", 4: "rock", 5: "water"}
LOW_PCT, HIGH_PCT = 10.0, 90.0  # a simulated median outside the real p10-p90 of any band fails its class
# PHYSICS.md section 1, supraglacial debris: (low, high) per band; no real labelled debris pixels exist here
DEBRIS_RANGE = ((0.06, 0.20), (0.07, 0.23), (0.08, 0.26), (0.10, 0.30), (0.11, 0.32), (0.10, 0.28))


@dataclass(frozen=True)
class ClassCheck:
    """One class: simulated and real medians per band, the real percentile of each simulated median."""

    name: str
    n_real: int
    n_sim: int
    sim_median: tuple[float, ...]
    real_median: tuple[float, ...]
    percentile: tuple[float, ...]  # of the simulated median in the real distribution (nan: no real class)
    passed: bool


def real_spectra(folder: str | Path) -> dict[str, np.ndarray]:
    """Return the real labelled spectra per class name, (n, 6) reflectance in B02 B03 B04 B08 B11 B12."""
    import pandas as pd

    table = pd.read_csv(Path(folder) / REAL_FILE)
    return {name: table.loc[table["class"] == code, list(REAL_COLUMNS)].to_numpy(np.float64)
            for code, name in REAL_CLASSES.items()}


def simulated_spectra(seed: int = 11, size_px: int = 512, dates: int = 4) -> dict[str, np.ndarray]:
    """Return clear full-physics simulated pixels per class, (n, 6), over late-summer dates of one region."""
    from glacierscale.simulate.sentinel2 import render

    # debris on every tongue that can hold it, so that the debris spectrum is drawn too
    region = build_region(RegionSpec(seed=seed, size_px=size_px, physics="full", name="spectra", years=(2022,),
                                     debris_min_area_km2=0.2, debris_max_slope_deg=25.0))
    rng = np.random.default_rng(seed)
    picks: dict[str, list[np.ndarray]] = {k: [] for k in (*REAL_CLASSES.values(), "debris")}
    start = datetime(2022, 8, 1, 10)
    glacier, _ = region.masks[2022]
    for k in range(dates):
        ren = render(region, start + timedelta(days=int(7 + 12 * k)), rng)
        clear = (ren.cloud < 0.02) & (ren.cshadow < 0.02)
        sunlit = clear & ~ren.shadow & (ren.cos_i > 0.2)
        snow = np.isin(ren.surf, (Surface.GLACIER_SNOW, Surface.SEASONAL_SNOW, Surface.FRESH_SNOW))
        masks = {
            "snow": sunlit & snow,
            "shadowed snow": clear & ren.shadow & snow,
            "ice": sunlit & np.isin(ren.surf, (Surface.CLEAN_ICE, Surface.DIRTY_ICE)),
            "rock": sunlit & np.isin(ren.surf, (Surface.ROCK, Surface.ROCK_GLACIER)) & ~glacier,
            "water": sunlit & (ren.surf == Surface.WATER),
            "debris": sunlit & (ren.surf == Surface.DEBRIS),
        }
        for name, m in masks.items():
            picks[name].append(ren.refl[:, m].T)
    return {k: np.concatenate(v) if v else np.empty((0, len(S2_BANDS))) for k, v in picks.items()}


def check_spectra(real: dict[str, np.ndarray], sim: dict[str, np.ndarray]) -> list[ClassCheck]:
    """Return one :class:`ClassCheck` per class (the real classes, then debris against PHYSICS.md)."""
    out = []
    for name in (*REAL_CLASSES.values(), "debris"):
        s = sim.get(name, np.empty((0, 6)))
        med = tuple(float(v) for v in np.nanmedian(s, axis=0)) if len(s) else (float("nan"),) * 6
        if name == "debris":
            ok = bool(len(s)) and all(lo <= m <= hi for m, (lo, hi) in zip(med, DEBRIS_RANGE, strict=True))
            out.append(ClassCheck(name, 0, len(s), med, tuple((lo + hi) / 2 for lo, hi in DEBRIS_RANGE),
                                  (float("nan"),) * 6, ok))
            continue
        r = real[name]  # a few real points lack a band (NaN): each band is ranked over its own values
        pct = tuple(float(100.0 * np.mean(r[np.isfinite(r[:, b]), b] < m)) for b, m in enumerate(med))
        ok = bool(len(s)) and all(LOW_PCT <= p <= HIGH_PCT for p in pct)
        out.append(ClassCheck(name, len(r), len(s), med, tuple(float(v) for v in np.nanmedian(r, axis=0)), pct, ok))
    return out


def format_table(checks: list[ClassCheck]) -> str:
    """Return a Markdown table: per class, simulated / real median and real percentile per band."""
    head = "| class | n real | n sim | " + " | ".join(S2_BANDS) + " | pass |"
    rows = [head, "|" + "---|" * (len(S2_BANDS) + 4)]
    for c in checks:
        cells = []
        for m, r, p in zip(c.sim_median, c.real_median, c.percentile, strict=True):
            where = f"p{p:.0f}" if np.isfinite(p) else "PHYSICS range"
            cells.append(f"{m:.3f} / {r:.3f} ({where})")
        rows.append(f"| {c.name} | {c.n_real} | {c.n_sim} | " + " | ".join(cells) + f" | {'yes' if c.passed else 'NO'} |")
    return "\n".join(rows)
