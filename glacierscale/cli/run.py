"""``glacierscale run`` and ``glacierscale update``."""

from __future__ import annotations

import argparse

HELP = "run the whole pipeline (catalog → cube → infer → reduce → archive) for a config's regions and years"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help=HELP, description=HELP + ". Resumable: cubes already stored are reused. "
                       "Flags override the config; with all four flags no config is needed.")
    p.add_argument("config", nargs="?", help="run config YAML (see demo.yaml written by `glacierscale demo`)")
    p.add_argument("--catalog", help="catalog folder (e.g. a `simulate` output) or STAC API URL")
    p.add_argument("--inventory", help="glacier outlines (GeoPackage, shapefile, GeoParquet) with glacier ids")
    p.add_argument("--years", help="years, e.g. 2016:2020 or 2018,2020")
    p.add_argument("--archive", help="change archive location: folder or s3://bucket/prefix")
    p.add_argument("--regions", help="RGI region codes to run, first or second order, e.g. 01,11 or 11-01")
    p.add_argument("--plan", help="work units from `glacierscale plan --out FILE` (else planned from the inventory)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run_command)
    u = sub.add_parser("update", help="process only years newer than the archive holds; a rerun is a no-op",
                       description="Extend the change archive with the config's years that are newer than "
                                   "the latest year it holds.")
    u.add_argument("config", help="run config YAML")
    u.add_argument("--quiet", action="store_true", help="no progress bars")
    u.set_defaults(func=update_command)


def _print(result: object) -> None:
    from rich.console import Console

    from glacierscale.cli.tables import area_table

    console = Console()
    console.print(area_table(result.areas))  # type: ignore[attr-defined]
    console.print(f"archive snapshot {result.snapshot}; units {', '.join(result.units)}")  # type: ignore[attr-defined]


def run_command(args: argparse.Namespace) -> int:
    from glacierscale.config import load_run_config
    from glacierscale.pipeline import run_pipeline

    cfg = load_run_config(args.config, {"catalog": args.catalog, "inventory": args.inventory,
                                        "years": args.years, "archive": args.archive, "regions": args.regions,
                                        "plan": args.plan})
    _print(run_pipeline(cfg, progress=not args.quiet))
    return 0


def update_command(args: argparse.Namespace) -> int:
    from glacierscale.config import load_run_config
    from glacierscale.pipeline import update_pipeline

    cfg = load_run_config(args.config)
    result = update_pipeline(cfg, progress=not args.quiet)
    if result.snapshot is None:
        print(f"archive {cfg.archive} already holds every year of the config "
              f"({', '.join(map(str, result.skipped_years))}); nothing to do")
        return 0
    _print(result)
    return 0
