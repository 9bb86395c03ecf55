"""``glacierscale run``, ``glacierscale update`` and ``glacierscale status``."""

from __future__ import annotations

import argparse
from typing import Any

HELP = "run the whole pipeline (catalog → cube → infer → reduce → archive) for a config's regions and years"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help=HELP, description=HELP + ". Items (unit × year) stream through the stages; "
                       "resumable by default: a rerun does only what the archive lacks (new scenes or a new checkpoint "
                       "redo only the affected items). Exit 1 when some items failed (the rest is archived). Flags "
                       "override the config; with all four flags no config is needed.")
    p.add_argument("config", nargs="?", help="run config YAML (see demo.yaml written by `glacierscale demo`)")
    p.add_argument("--catalog", help="catalog folder (e.g. a `simulate` output) or STAC API URL")
    p.add_argument("--inventory", help="glacier outlines (GeoPackage, shapefile, GeoParquet) with glacier ids")
    p.add_argument("--years", help="years, e.g. 2016:2020 or 2018,2020")
    p.add_argument("--archive", help="change archive location: folder or s3://bucket/prefix")
    p.add_argument("--regions", help="RGI region codes to run, first or second order, e.g. 01,11 or 11-01")
    p.add_argument("--plan", help="work units from `glacierscale plan --out FILE` (else planned from the inventory)")
    p.add_argument("--retry-failed", action="store_true", help="retry items the ledger records as failed")
    p.add_argument("--map-under-clouds", action="store_true", default=None,
                   help="map pixels no clear optical scene saw from SAR + DEM (config infer.map_under_clouds; "
                        "glacier rows say how much in radar_fraction)")
    p.add_argument("--flips", action="store_true", default=None,
                   help="test-time augmentation: average each window with its three flips (config infer.flips; 4x "
                        "the network's work)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run_command)
    u = sub.add_parser("update", help="process what the archive lacks (new years, new regions, gaps); a rerun is a no-op",
                       description="Extend the change archive: per unit × year, items the archive does not hold, "
                                   "and gaps that new scenes can fill, are processed. Items whose scenes changed are "
                                   "redone only with --reprocess-changed, a model change only with --reprocess-model.")
    u.add_argument("config", help="run config YAML")
    u.add_argument("--reprocess-changed", action="store_true", help="redo items whose selected scenes changed")
    u.add_argument("--reprocess-model", action="store_true", help="redo items mapped with another checkpoint")
    u.add_argument("--retry-failed", action="store_true", help="retry items the ledger records as failed")
    u.add_argument("--quiet", action="store_true", help="no progress bars")
    u.set_defaults(func=update_command)
    s = sub.add_parser("status", help="the run ledger: items done / gap / failed / published per year, and failures",
                       description="Print the ledger of the config's latest run (in progress or finished): item "
                                   "counts per year and status, and each failure's unit, year, file and reason.")
    s.add_argument("config", help="run config YAML")
    s.add_argument("--json", action="store_true", help="print the summary as JSON")
    s.set_defaults(func=status_command)


AREA_TABLE_MAX = 60  # more glaciers than this: the run prints per-year totals


def _report(result: Any) -> int:
    from rich.console import Console

    from glacierscale.cli.tables import area_table, failure_table, ledger_table, totals_table

    console = Console()
    if len(result.glacier_ids) > AREA_TABLE_MAX:  # one line per year, not one per glacier (rows: `query`)
        console.print(totals_table(result.year_totals()))
        console.print(f"{len(result.glacier_ids)} glaciers: `glacierscale query ARCHIVE --glacier ID` or --bbox "
                      "lists their rows")
    elif len(result.areas):
        console.print(area_table(result.areas))
    console.print(ledger_table(result.summary))
    if result.found_done:
        console.print(f"resumed: {result.found_done} items were already in the archive with the same checkpoint")
    for line in result.repairs:
        console.print(f"inventory: {line}")
    cands = result.candidates
    if len(cands):
        per_year = cands.groupby("year")["area_km2"].agg(["count", "sum"])
        years = ", ".join(f"{y}: {int(r['count'])} ({r['sum']:.3f} km²)" for y, r in per_year.iterrows())
        console.print(f"candidates: ice outside every inventory outline, kept as candidate glaciers: {years}; "
                      "`glacierscale query ARCHIVE --candidates` lists them")
    if result.failures:
        console.print(failure_table(result.failures))
        console.print(f"{len(result.failures)} items failed; the rest is archived. Fix the cause and rerun with "
                      "--retry-failed; `glacierscale status CONFIG` lists them.")
    snap = result.snapshot or "unchanged (nothing new)"
    console.print(f"archive snapshot {snap}; run {result.run_id}; ledger {result.ledger}")
    return int(result.exit_code)


def run_command(args: argparse.Namespace) -> int:
    from glacierscale.config import load_run_config
    from glacierscale.pipeline import run_pipeline

    cfg = load_run_config(args.config, {"catalog": args.catalog, "inventory": args.inventory,
                                        "years": args.years, "archive": args.archive, "regions": args.regions,
                                        "plan": args.plan, "infer.map_under_clouds": args.map_under_clouds,
                                        "infer.flips": args.flips})
    return _report(run_pipeline(cfg, progress=not args.quiet, retry_failed=args.retry_failed))


def update_command(args: argparse.Namespace) -> int:
    from glacierscale.config import load_run_config
    from glacierscale.pipeline import update_pipeline

    cfg = load_run_config(args.config)
    result = update_pipeline(cfg, progress=not args.quiet, reprocess_changed=args.reprocess_changed,
                             reprocess_model=args.reprocess_model, retry_failed=args.retry_failed)
    if result.snapshot is None and not result.failures:
        print(f"archive {cfg.archive} already holds every item of the config (years "
              f"{', '.join(map(str, cfg.years))}); nothing to do, no new snapshot")
        return 0
    return _report(result)


def status_command(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console

    from glacierscale.cli.tables import failure_table, ledger_table
    from glacierscale.config import load_run_config
    from glacierscale.errors import ConfigError
    from glacierscale.pipeline.ledger import Ledger, latest_ledger

    cfg = load_run_config(args.config)
    path = latest_ledger(cfg.resolved_state_dir(), cfg.name)
    if path is None:
        raise ConfigError(f"no run ledger for run {cfg.name!r} under {cfg.resolved_state_dir()}: nothing has run yet")
    summary, _ = Ledger(path).digest()  # the columns it prints, not the whole ledger
    if args.json:
        print(json.dumps({"ledger": path, **summary}, indent=1, default=str))
        return 0
    console = Console()
    console.print(ledger_table(summary, title=f"run ledger {path}"))
    if summary["failures"]:
        console.print(failure_table(summary["failures"]))
    return 0
