"""``glacierscale demo``: the main job on the embedded default region, end to end."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

HELP = "simulate a small mountain region, serve it as a local STAC API, run the full pipeline on a local Ray"
DEMO_SEED = 7
DEMO_YEARS = (2021, 2022, 2023)
TILE_PX = 384
RESOLUTION = 20.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help=HELP, description=HELP + ", write the change archive, print a table of "
                       "mapped vs true areas and write a PNG. Everything it makes stays in --workdir.")
    p.add_argument("--workdir", default="demo-work", help="folder for everything the demo makes (default demo-work)")
    p.add_argument("--seed", type=int, default=DEMO_SEED, help=f"region seed (default {DEMO_SEED}; training never saw it)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def prepare(workdir: Path, seed: int, progress: bool = True) -> Path:
    """Simulate the demo region (unless present) and write demo.yaml; return the config path."""
    from glacierscale.config import build_run_config, dump_run_config
    from glacierscale.simulate import RegionSpec, simulate

    # full physics: the surfaces calibrated to real Sentinel-2 spectra (docs/simulator.md), as `simulate` makes
    spec = RegionSpec(seed=seed, years=DEMO_YEARS, size_px=768, grid_m=TILE_PX * RESOLUTION, name="demo",
                      physics="full")
    catalog = workdir / "catalog"
    marker = catalog / "simulation.json"
    if not marker.is_file() or json.loads(marker.read_text()).get("seed") != seed:
        simulate(spec, catalog, progress=progress)
    cfg = build_run_config({
        "name": "demo",
        "catalog": {"url": str(catalog.resolve()), "provider": "local"},
        "inventory": str((catalog / "inventory.gpkg").resolve()),
        "years": list(DEMO_YEARS),
        "archive": str((workdir / "archive").resolve()),
        "cube_store": str((workdir / "cubes").resolve()),
        # the simulated region is exactly one tile: there is no imagery around it to read as overlap
        "grid": {"resolution": RESOLUTION, "tile_size": TILE_PX, "margin_m": 500, "overlap_px": 0},
    }, "demo defaults")
    path = workdir / "demo.yaml"
    dump_run_config(cfg, path)
    return path


def _check_workdir(workdir: Path) -> None:
    """Refuse a workdir that is neither absent, empty nor one the demo made (demo.yaml + catalog/simulation.json)."""
    from glacierscale.errors import ConfigError

    if not workdir.exists():
        return
    if not workdir.is_dir():
        raise ConfigError(f"--workdir {workdir} is a file; give a new or empty folder, or a previous demo's workdir")
    if not any(workdir.iterdir()):
        return
    if not ((workdir / "demo.yaml").is_file() and (workdir / "catalog" / "simulation.json").is_file()):
        raise ConfigError(f"--workdir {workdir} is a folder with other files in it, not a demo workdir (no demo.yaml "
                          "and catalog/simulation.json); the demo writes a catalog, cubes and an archive there, so "
                          "give a new or empty folder, or a previous demo's workdir")


def run(args: argparse.Namespace) -> int:
    import geopandas as gpd
    from rich.console import Console

    from glacierscale.archive.query import open_archive
    from glacierscale.cli.tables import area_table
    from glacierscale.config import load_run_config
    from glacierscale.pipeline import run_pipeline
    from glacierscale.plots import demo_figure

    console = Console()
    t0 = time.perf_counter()
    workdir = Path(args.workdir)
    _check_workdir(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cfg_path = prepare(workdir, args.seed, progress=not args.quiet)
    cfg = load_run_config(cfg_path)
    result = run_pipeline(cfg, progress=not args.quiet, console=console)
    if result.failures:
        from glacierscale.cli.tables import failure_table

        console.print(failure_table(result.failures))
        return 1
    truth_df = gpd.read_file(workdir / "catalog" / "truth" / "truth_outlines.gpkg")
    truth = truth_df.pivot(index="glacier_id", columns="year", values="area_km2")
    console.print(area_table(result.areas, truth, title="demo: mapped vs true glacier area (km²)"))
    archive = open_archive(cfg.archive)
    last = max(cfg.years)
    unit = archive.tile(result.units[0])
    import rioxarray  # noqa: F401  (registers .rio)

    epsg = int(unit.attrs.get("epsg") or unit.rio.crs.to_epsg())
    outlines = truth_df[truth_df["year"] == last].to_crs(epsg)
    plot = workdir / "demo.png"
    demo_figure(unit["classes"].sel(year=last).load(), outlines, archive.table(), truth, plot, last)
    err = _errors(result.areas, truth)
    (workdir / "demo-summary.json").write_text(json.dumps(err, indent=1))
    console.print(f"mean |relative area error| {err['mean_abs_rel_error']:.1%} (max {err['max_abs_rel_error']:.1%}); "
                  f"{time.perf_counter() - t0:.0f} s")
    console.print(f"config {cfg_path} · archive {cfg.archive} · plot {plot}")
    console.print(f"next: glacierscale query {cfg.archive} --glacier {result.areas['glacier_id'].iloc[0]} --plot series.png")
    return 0


def _errors(areas: object, truth: object) -> dict[str, object]:
    import pandas as pd

    assert isinstance(areas, pd.DataFrame) and isinstance(truth, pd.DataFrame)
    rows = []
    for _, r in areas.iterrows():
        t = float(truth.loc[r.glacier_id, r.year])
        rows.append({"glacier_id": r.glacier_id, "year": int(r.year), "area_km2": float(r.area_km2),
                     "truth_km2": t, "rel_error": (float(r.area_km2) - t) / t})
    errs = [abs(r["rel_error"]) for r in rows]
    return {"rows": rows, "mean_abs_rel_error": sum(errs) / len(errs), "max_abs_rel_error": max(errs)}
