"""``glacierscale export``: outlines per glacier × year, calving fronts, or COGs per zone-year."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from glacierscale.cli._common import parse_bbox
from glacierscale.errors import InputError

if TYPE_CHECKING:
    from glacierscale.archive.query import ChangeArchive

HELP = ("export the change archive: outlines per glacier × year (GeoParquet/GeoPackage, EPSG:4326), fronts, COGs, "
        "loss/gain rasters")


def _years(text: str) -> tuple[int, int]:
    try:
        a, _, b = text.partition(":")
        first, last = int(a), int(b or a)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--years {text!r}: expected YEAR or FIRST:LAST, e.g. 2016:2020") from None
    if first > last:
        raise argparse.ArgumentTypeError(f"--years {text!r}: the first year is after the last")
    return first, last


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help=HELP, description=HELP + ".")
    p.add_argument("archive", metavar="ARCHIVE", help="archive folder or s3://bucket/prefix")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--outlines", metavar="FILE", help="FILE.parquet (GeoParquet) or FILE.gpkg: one polygon per "
                      "glacier × year, RGI 7 field names (rgi_id, glims_id, src_date, area_km2) + area_unc_km2, "
                      "observed_fraction")
    what.add_argument("--fronts", metavar="FILE", help="FILE.parquet or FILE.gpkg: the calving front of each lake- or "
                      "marine-terminating glacier × year (ice/water line of the mapped water class), its length, "
                      "position along flow (box method) and retreat ± uncertainty in m")
    what.add_argument("--rasters", metavar="DIR", help="COGs per zone × year × 32×32-tile window: classes, glacier_probability")
    what.add_argument("--changes", metavar="DIR", help="loss/gain COGs per zone × 32×32-tile window between the first "
                      "and last year of --years (or every consecutive pair with --consecutive): int8 −1 ice lost, "
                      "0 unchanged, +1 ice gained, −128 unobserved in either year; prints lost/gained km²")
    p.add_argument("--consecutive", action="store_true", help="with --changes: one set of rasters per consecutive "
                   "pair of mapped years instead of first → last")
    p.add_argument("--plot", action="store_true", help="with --changes: a PNG beside each COG (ice lost red, gained "
                   "blue, unobserved grey)")
    p.add_argument("--years", type=_years, metavar="FIRST:LAST", help="years to export (default: all)")
    p.add_argument("--bbox", type=parse_bbox, metavar="W,S,E,N", help="WGS84 box (glacier centroids for outlines, "
                   "tile footprints for rasters; W > E crosses the antimeridian)")
    p.add_argument("--as-of", help="snapshot id or ISO date to read instead of the latest")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from glacierscale.archive import export
    from glacierscale.archive.query import open_archive

    for flag in ("consecutive", "plot"):
        if getattr(args, flag) and not args.changes:
            raise InputError(f"--{flag} goes with --changes DIR")
    archive = open_archive(args.archive, as_of=args.as_of)
    if args.outlines:
        n = export.write_outlines(archive, args.outlines, years=args.years, bbox=args.bbox)
        print(f"{n} outlines (glacier × year) written to {args.outlines}", file=sys.stderr)
    elif args.fronts:
        from glacierscale.archive.fronts import write_fronts

        n = write_fronts(archive, args.fronts, years=args.years, bbox=args.bbox)
        print(f"{n} calving fronts (glacier × year) written to {args.fronts}", file=sys.stderr)
    elif args.changes:
        _changes(archive, args)
    else:
        paths = export.write_rasters(archive, args.rasters, years=args.years, bbox=args.bbox)
        print(f"{len(paths)} COGs written to {args.rasters}", file=sys.stderr)
    return 0


def _changes(archive: ChangeArchive, args: argparse.Namespace) -> None:
    from glacierscale.archive.lossgain import write_changes

    pairs = write_changes(archive, args.changes, years=args.years, bbox=args.bbox, consecutive=args.consecutive)
    print(f"{'years':>11} {'lost km²':>10} {'gained km²':>11} {'net km²':>9} {'stable ice km²':>15} "
          f"{'unobserved km²':>15} {'COGs':>5}")
    for p in pairs:
        print(f"{p.from_year}→{p.to_year:<6} {p.loss_km2:>10.3f} {p.gain_km2:>11.3f} {p.net_km2:>+9.3f} "
              f"{p.stable_ice_km2:>15.3f} {p.unobserved_km2:>15.3f} {len(p.paths):>5}")
    if args.plot:
        from glacierscale.plots import change_figure

        for p in pairs:
            for cog in p.paths:
                change_figure(cog, cog.with_suffix(".png"), f"{cog.stem}: {p.from_year} → {p.to_year}, "
                              f"lost {p.loss_km2:.3f} km², gained {p.gain_km2:.3f} km² (all windows)")
    print(f"{sum(len(p.paths) for p in pairs)} loss/gain COGs written to {args.changes}"
          + (" with a PNG each" if args.plot else ""), file=sys.stderr)
