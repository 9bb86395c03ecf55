"""``glacierscale bench inference`` (comes with the model issue)."""

from __future__ import annotations

import argparse

from glacierscale.cli._common import not_available

HELP = "model-only vs end-to-end inference throughput (not available yet)"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help=HELP, description=HELP + ".")
    bsub = p.add_subparsers(dest="bench_command", required=True)
    i = bsub.add_parser("inference", help=HELP)
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=not_available("model issue: inference throughput benchmark"))
