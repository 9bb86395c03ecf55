"""``glacierscale bench archive``: commit time as the archive grows, query latency, bytes of a one-year update."""

from __future__ import annotations

import argparse
import json
import sys

HELP = ("archive commit time at 1k and 10k tiles archived, one-glacier and one-tile query latency, bytes written "
        "by a one-year update (stand-in payload, real icechunk on local disk)")


def _sizes(text: str) -> tuple[int, int]:
    try:
        a, b = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes {text!r}: expected two tile counts, e.g. 1000,10000") from None
    return a, b


def register(bsub: argparse._SubParsersAction) -> None:
    p = bsub.add_parser("archive", help=HELP, description=HELP + ".")
    p.add_argument("--sizes", type=_sizes, default=(1000, 10000), metavar="A,B",
                   help="tiles already archived when commit time is measured (default 1000,10000)")
    p.add_argument("--batch", type=int, default=1000, help="tiles per checkpoint commit (default 1000)")
    p.add_argument("--tile-px", type=int, default=64, help="tile side in pixels of the stand-in payload")
    p.add_argument("--workdir", help="folder for the scratch archive (default: the system temp folder)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from glacierscale.archive.bench import bench_archive
    from glacierscale.errors import InputError

    if args.batch <= 0 or any(s % args.batch for s in args.sizes) or args.sizes[0] >= args.sizes[1]:
        raise InputError(f"--sizes {args.sizes[0]},{args.sizes[1]} must be increasing multiples of --batch {args.batch}")
    r = bench_archive(Path(args.workdir) if args.workdir else None, sizes=args.sizes, batch=args.batch,
                      size_px=args.tile_px, progress=None if args.json else lambda m: print(m, file=sys.stderr))
    if args.json:
        print(json.dumps(r, indent=1))
        return 0
    c = r["commit_seconds_per_1000_tiles"]
    a, b = (str(s) for s in args.sizes)
    print(f"commit, s per 1000 tiles   {c[a]:.2f} at {a} archived, {c[b]:.2f} at {b} (×{r['commit_growth']:.2f})")
    print(f"one glacier of {r['glaciers']:,}    {r['glacier_query_ms']:.0f} ms")
    print(f"one tile's bbox            {r['bbox_query_ms']:.0f} ms")
    print(f"one-year update            {r['update_bytes_ratio']:.3f} × that year's data "
          f"({r['update_bytes_written'] / 1e6:.1f} MB written)")
    return 0
