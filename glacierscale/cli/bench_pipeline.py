"""``glacierscale bench pipeline``: driver memory and per-item overhead as the run grows (stand-in stages)."""

from __future__ import annotations

import argparse
import json

HELP = ("the real driver, ledger, staging and archive commits with stand-in stages: driver peak RSS and per-item "
        "overhead at growing unit counts")


def register(bsub: argparse._SubParsersAction) -> None:
    p = bsub.add_parser("pipeline", help=HELP, description=HELP + ". Each size runs in a fresh process; one year, "
                        "16-px tiles, a fake catalog and a 1×1 model, so only the run's own machinery is measured.")
    p.add_argument("--units", default="64,1024,16384", help="comma-separated unit counts (default 64,1024,16384)")
    p.add_argument("--batch-items", type=int, default=256, help="items per archive checkpoint (default 256)")
    p.add_argument("--json", action="store_true", help="print a JSON list of objects")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from glacierscale.errors import ConfigError
    from glacierscale.pipeline.bench import bench_pipeline

    try:
        sizes = [int(v) for v in args.units.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--units must be comma-separated integers, got {args.units!r}") from None
    if not sizes or min(sizes) < 1:
        raise ConfigError(f"--units needs at least one positive count, got {args.units!r}")
    rows = bench_pipeline(sizes, batch_items=args.batch_items)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'units':>7} {'items':>7} {'seconds':>8} {'peak RSS MB':>12} {'ms/item':>8} {'commit s':>9}")
    for r in rows:
        print(f"{r['units']:>7} {r['items']:>7} {r['seconds']:>8.1f} {r['driver_peak_rss_mb']:>12.0f} "
              f"{r['per_item_ms']:>8.2f} {r['commit_seconds']:>9.1f}")
    return 0
