"""``glacierscale plan``: inventory → work units (GeoParquet + summary)."""

from __future__ import annotations

import argparse

HELP = "cut an inventory into work units on a fixed grid; print a summary and write GeoParquet"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help=HELP, description=HELP + ". Flags override the config; with --inventory "
                       "no config is needed.")
    p.add_argument("config", nargs="?", help="run config YAML")
    p.add_argument("--inventory", help="glacier outlines file")
    p.add_argument("--regions", help="RGI region codes, e.g. 01,11 (comes with the planning issue)")
    p.add_argument("--out", default="plan.parquet", help="GeoParquet to write (default plan.parquet)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import geopandas as gpd
    from shapely.geometry import box

    from glacierscale.config import GridConfig, load_run_config
    from glacierscale.errors import ConfigError, NotAvailableError
    from glacierscale.inventory.units import plan_units, read_inventory

    if args.regions:
        raise NotAvailableError("--regions selection comes with the inventory-planning issue")
    if args.config:
        cfg = load_run_config(args.config, {"inventory": args.inventory})
        inventory_path, grid = cfg.inventory, cfg.grid
    elif args.inventory:
        inventory_path, grid = args.inventory, GridConfig()
    else:
        raise ConfigError("plan needs a CONFIG or --inventory FILE")
    inv = read_inventory(inventory_path)
    units = plan_units(inv, grid.resolution, grid.tile_size, grid.margin_m)
    frames = []
    for epsg in sorted({u.epsg for u in units}):
        sel = [u for u in units if u.epsg == epsg]
        frames.append(gpd.GeoDataFrame(
            {"unit_id": [u.unit_id for u in sel], "epsg": epsg, "n_glaciers": [len(u.glacier_ids) for u in sel],
             "glacier_ids": [",".join(u.glacier_ids) for u in sel]},
            geometry=[box(*u.bounds) for u in sel], crs=f"EPSG:{epsg}").to_crs("EPSG:4326"))
    import pandas as pd

    out = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")
    out.to_parquet(args.out)
    print(f"{len(inv)} glaciers → {len(units)} work units ({grid.tile_size} px at {grid.resolution:g} m) "
          f"in {', '.join(f'EPSG:{e}' for e in sorted({u.epsg for u in units}))}; written to {args.out}")
    return 0
