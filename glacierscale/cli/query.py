"""``glacierscale query``: read the change archive."""

from __future__ import annotations

import argparse
import json
import sys

from glacierscale.cli._common import parse_bbox

HELP = "read the change archive: area series of a glacier or of every glacier in a bbox"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("query", help=HELP, description=HELP + ".")
    p.add_argument("archive", metavar="ARCHIVE", help="archive folder or s3://bucket/prefix")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--glacier", metavar="ID", help="glacier id (as in the inventory)")
    which.add_argument("--bbox", type=parse_bbox, metavar="W,S,E,N", help="glaciers whose centroid lies in this box")
    p.add_argument("--from", dest="from_year", type=int, metavar="Y", help="first year")
    p.add_argument("--to", dest="to_year", type=int, metavar="Y", help="last year")
    p.add_argument("--as-of", help="snapshot id to read instead of the latest")
    p.add_argument("--format", choices=("table", "csv", "json", "geojson"), default="table")
    p.add_argument("--plot", metavar="FILE.png", help="also draw the area series")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from glacierscale.archive.query import open_archive
    from glacierscale.errors import ArchiveError

    archive = open_archive(args.archive, as_of=args.as_of)
    if args.glacier:
        df = archive.glacier(args.glacier, args.from_year, args.to_year)
    else:
        df = archive.in_bbox(args.bbox, args.from_year, args.to_year)
        if df.empty:
            raise ArchiveError(f"no glacier of archive {args.archive} has its centroid in bbox {args.bbox}")
    cols = ["glacier_id", "year", "area_km2", "area_unc_km2", "debris_km2", "observed_fraction", "quality", "sensors",
            "model_hash", "run_id", "rgi_id", "observed_area_km2", "filled_km2", "area_source",
            "area_unc_boundary_km2", "area_unc_model_km2", "change_excluded"]
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
