"""Mapping under clouds from SAR + DEM (``infer.map_under_clouds``) against the simulator's truth.

    .venv/bin/python benchmarks/under_clouds.py --workdir /tmp/under-clouds [--climate maritime] [--seed 7] \
        [--plot docs/img/under-clouds-maritime.png]

Simulates the demo's region (seed, 768 px, three years, full physics) under a cloud climate (default
``maritime``: 62 % mean scene cover, docs/simulator.md) unless WORKDIR/catalog holds it, then runs the shipped
checkpoint twice on it, with optical data required (the default: cloud pixels are filled from other years at
publish) and with ``infer.map_under_clouds`` (cloud pixels mapped from SAR + DEM), and compares each archive's
glacier-years with the truth outlines: area error, year-to-year change error, how often the truth lies within
2 × ``area_unc_km2``, the observed and radar-mapped shares. Prints a Markdown table (or ``--json``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

YEARS = (2021, 2022, 2023)


def _simulate(catalog: Path, seed: int, climate: str) -> None:
    from glacierscale.simulate import RegionSpec, simulate

    marker = catalog / "simulation.json"
    if marker.is_file():
        meta = json.loads(marker.read_text())
        if meta.get("seed") == seed and meta.get("cloud_climate") == climate:
            return
        raise SystemExit(f"{catalog} holds another simulation (seed {meta.get('seed')}, climate "
                         f"{meta.get('cloud_climate')}); give a new --workdir")
    spec = RegionSpec(seed=seed, years=YEARS, size_px=768, grid_m=384 * 20.0, name=f"{climate}-demo",
                      physics="full", cloud_climate=climate)
    simulate(spec, catalog, progress=False)


def _run(workdir: Path, name: str, under_clouds: bool) -> tuple[Any, float]:
    from glacierscale.archive.query import open_archive
    from glacierscale.config import build_run_config
    from glacierscale.pipeline import run_pipeline

    catalog = workdir / "catalog"
    cfg = build_run_config({
        "name": name, "catalog": {"url": str(catalog.resolve()), "provider": "local"},
        "inventory": str((catalog / "inventory.gpkg").resolve()), "years": list(YEARS),
        "archive": str((workdir / name / "archive").resolve()), "cube_store": str((workdir / "cubes").resolve()),
        "state_dir": str((workdir / name / "state").resolve()),
        "grid": {"resolution": 20.0, "tile_size": 384, "margin_m": 500, "overlap_px": 0},
        "infer": {"map_under_clouds": under_clouds},
    }, f"benchmark {name}")
    t0 = time.perf_counter()
    result = run_pipeline(cfg, progress=False)
    seconds = time.perf_counter() - t0
    if result.failures:
        raise SystemExit(f"run {name}: {len(result.failures)} items failed: {result.failures}")
    return open_archive(cfg.archive).table(), seconds


def _score(table: Any, truth: Any) -> dict[str, float]:
    import numpy as np

    t = table.merge(truth, on=["glacier_id", "year"])
    err = t["area_km2"] - t["truth_km2"]
    rel = (err / t["truth_km2"]).abs()
    t = t.sort_values(["glacier_id", "year"])
    change = t.groupby("glacier_id")[["area_km2", "truth_km2"]].diff().dropna()
    change_err = (change["area_km2"] - change["truth_km2"]).abs()
    return {"glacier_years": float(len(t)), "mean_abs_rel_error": float(rel.mean()), "max_abs_rel_error": float(rel.max()),
            "mean_abs_change_error_km2": float(change_err.mean()), "max_abs_change_error_km2": float(change_err.max()),
            "within_2_sigma": float((err.abs() <= 2 * t["area_unc_km2"]).mean()),
            "mean_unc_km2": float(t["area_unc_km2"].mean()),
            "mean_observed_fraction": float(t["observed_fraction"].mean()),
            "min_observed_fraction": float(t["observed_fraction"].min()),
            "mean_radar_fraction": float(np.nan_to_num(t["radar_fraction"].astype(float)).mean()),
            "change_excluded": float((t["change_excluded"] != "").sum())}


def _plot(tables: dict[str, Any], truth: Any, path: Path, climate: str) -> None:
    """Area against year per glacier: the truth, the optical-only run (hollow: observed < 0.5) and under clouds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ids = sorted(truth["glacier_id"].unique())
    fig, axes = plt.subplots(1, len(ids), figsize=(3.2 * len(ids), 3.4), sharex=True)
    for ax, gid in zip(axes, ids, strict=True):
        t = truth[truth["glacier_id"] == gid].sort_values("year")
        ax.plot(t["year"], t["truth_km2"], "k--", label="truth")
        for (name, table), color, marker in zip(tables.items(), ("C1", "C0"), ("o", "s"), strict=True):
            g = table[table["glacier_id"] == gid].sort_values("year")
            ax.errorbar(g["year"], g["area_km2"], yerr=g["area_unc_km2"], color=color, alpha=0.35, fmt="none")
            ax.plot(g["year"], g["area_km2"], "-", color=color, label=name)
            low = g["observed_fraction"] < 0.5
            ax.plot(g["year"][~low], g["area_km2"][~low], marker, color=color)
            ax.plot(g["year"][low], g["area_km2"][low], marker, color=color, mfc="white")
        ax.set_title(gid, fontsize=8)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("area (km²)")
    axes[0].legend(fontsize=7, title="hollow: observed < 0.5", title_fontsize=7)
    fig.suptitle(f"{climate} clouds: optical required vs mapped under clouds (±1σ)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    import geopandas as gpd

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("under-clouds-work"))
    ap.add_argument("--climate", default="maritime", help="cloud climate of the simulated region")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--plot", type=Path, help="write the area series of both runs against the truth (PNG)")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    _simulate(args.workdir / "catalog", args.seed, args.climate)
    truth = gpd.read_file(args.workdir / "catalog" / "truth" / "truth_outlines.gpkg")
    truth = truth[["glacier_id", "year", "area_km2"]].rename(columns={"area_km2": "truth_km2"})
    rows: dict[str, dict[str, float]] = {}
    tables = {}
    for name, on in (("optical-required", False), ("under-clouds", True)):
        table, seconds = _run(args.workdir, name, on)
        tables[name] = table
        rows[name] = {**_score(table, truth), "run_seconds": seconds}
    if args.plot:
        _plot(tables, truth, args.plot, args.climate)
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    keys = list(next(iter(rows.values())))
    print("| measure | " + " | ".join(rows) + " |")
    print("|---|" + "---|" * len(rows))
    for k in keys:
        print(f"| {k} | " + " | ".join(f"{r[k]:.3f}" for r in rows.values()) + " |")
    both = tables["optical-required"].merge(tables["under-clouds"], on=["glacier_id", "year"], suffixes=("", "_radar"))
    both = both.merge(truth, on=["glacier_id", "year"])
    print("\n| glacier | year | truth km² | optical required km² (observed) | under clouds km² (observed, radar) |")
    print("|---|---|---|---|---|")
    for r in both.itertuples():
        print(f"| {r.glacier_id} | {r.year} | {r.truth_km2:.3f} | {r.area_km2:.3f} ± {r.area_unc_km2:.3f} "
              f"({r.observed_fraction:.2f}) | {r.area_km2_radar:.3f} ± {r.area_unc_km2_radar:.3f} "
              f"({r.observed_fraction_radar:.2f}, {r.radar_fraction_radar:.2f}) |")


if __name__ == "__main__":
    main()
