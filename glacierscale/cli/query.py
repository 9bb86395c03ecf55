"""``glacierscale query``: read the change archive."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from glacierscale.cli._common import parse_bbox

if TYPE_CHECKING:
    import pandas as pd

HELP = "read the change archive: area series of a glacier or of every glacier in a bbox"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("query", help=HELP, description=HELP + ".")
    p.add_argument("archive", metavar="ARCHIVE", help="archive folder or s3://bucket/prefix")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--glacier", metavar="ID", help="glacier id (as in the inventory)")
    which.add_argument("--bbox", type=parse_bbox, metavar="W,S,E,N", help="glaciers whose centroid lies in this box")
    which.add_argument("--candidates", action="store_true",
                       help="candidate glaciers: mapped ice outside every inventory outline (ids cand-G…), "
                            "to accept into the inventory or reject")
    p.add_argument("--from", dest="from_year", type=int, metavar="Y", help="first year")
    p.add_argument("--to", dest="to_year", type=int, metavar="Y", help="last year")
    p.add_argument("--as-of", help="snapshot id to read instead of the latest")
    p.add_argument("--format", choices=("table", "csv", "json", "geojson"), default="table")
    p.add_argument("--plot", metavar="FILE.png", help="also draw the area series")
    p.add_argument("--changes", action="store_true",
                   help="print area changes between consecutive usable years (rate ± uncertainty, snr) instead")
    p.add_argument("--min-observed", type=float, metavar="F",
                   help="with --changes: leave out glacier-years observed below this fraction (default: as published)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from glacierscale.archive.query import open_archive
    from glacierscale.errors import ArchiveError, InputError

    archive = open_archive(args.archive, as_of=args.as_of)
    if args.min_observed is not None and not 0 <= args.min_observed <= 1:
        raise InputError(f"--min-observed {args.min_observed}: must be a fraction between 0 and 1")
    if args.changes and args.candidates:
        raise InputError("--changes with --candidates: query a candidate's changes with --glacier cand-G…")
    if args.changes:
        return _print_changes(archive.change_rates(args.glacier, args.bbox, args.from_year, args.to_year,
                                                   args.min_observed), args.format)
    if args.glacier:
        df = archive.glacier(args.glacier, args.from_year, args.to_year)
    elif args.candidates:
        df = archive.candidates(args.from_year, args.to_year)
        if df.empty:
            print(f"archive {args.archive} holds no candidate glaciers (no mapped ice beyond every outline's buffer)")
            return 0
    else:
        df = archive.in_bbox(args.bbox, args.from_year, args.to_year)
        if df.empty:
            raise ArchiveError(f"no glacier of archive {args.archive} has its centroid in bbox {args.bbox}")
    cols = ["glacier_id", "year", "area_km2", "area_unc_km2", "debris_km2", "observed_fraction", "quality", "sensors",
            "model_hash", "run_id", "rgi_id", "observed_area_km2", "filled_km2", "area_source",
            "area_unc_boundary_km2", "area_unc_model_km2", "change_excluded", "radar_fraction"]
    if args.format == "csv":
        df[cols].to_csv(sys.stdout, index=False, float_format="%.6f")
    elif args.format == "json":
        records = json.loads(df[cols].to_json(orient="records"))  # NaN (a gap's area) becomes null
        print(json.dumps(records, indent=1))
    elif args.format == "geojson":
        feats = []
        for gid, g in df.groupby("glacier_id"):
            years = [str(int(y)) for y in g.year]
            series = {c: dict(zip(years, json.loads(g[c].to_json(orient="values")), strict=True))
                      for c in ("area_km2", "area_unc_km2", "observed_fraction", "quality")}
            feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [g.lon.iloc[0], g.lat.iloc[0]]},
                          "properties": {"glacier_id": gid, "rgi_id": g.rgi_id.iloc[0], **series}})
        print(json.dumps({"type": "FeatureCollection", "features": feats}))
    else:
        from rich.console import Console

        from glacierscale.cli.tables import area_table

        Console().print(area_table(df))
    if args.plot:
        from glacierscale.plots import area_series

        area_series(df, args.plot)
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0


def _print_changes(df: pd.DataFrame, fmt: str) -> int:
    """Print a change table (``ChangeArchive.change_rates``) as table, csv or json."""
    if fmt == "csv":
        df.to_csv(sys.stdout, index=False, float_format="%.6f")
    elif fmt in ("json", "geojson"):
        print(json.dumps(json.loads(df.to_json(orient="records")), indent=1))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title="area change between usable years (± 1σ; significant: |change| ≥ 1.96σ)")
        for c in ("glacier", "years", "change km²", "rate km²/yr", "%/yr", "snr", "signal", "skipped"):
            table.add_column(c)
        for r in df.itertuples(index=False):
            table.add_row(str(r.glacier_id), f"{r.from_year}–{r.to_year}", f"{r.change_km2:+.4f} ± {r.change_unc_km2:.4f}",
                          f"{r.rate_km2_per_yr:+.4f} ± {r.rate_unc_km2_per_yr:.4f}", f"{r.rel_change_pct_per_yr:+.2f}",
                          f"{r.snr:.1f}", "yes" if r.significant else "noise", str(r.skipped_years))
        Console().print(table)
    return 0
