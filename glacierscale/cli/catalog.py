"""``glacierscale catalog inspect`` (comes with the STAC discovery issue)."""

from __future__ import annotations

import argparse

from glacierscale.cli._common import not_available

HELP = "inspect what glacierscale would read from a STAC item (not available yet)"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("catalog", help=HELP, description=HELP + ".")
    csub = p.add_subparsers(dest="catalog_command", required=True)
    i = csub.add_parser("inspect", help=HELP)
    i.add_argument("item", metavar="ITEM.json")
    i.add_argument("--provider")
    i.set_defaults(func=not_available("STAC discovery issue: provider definitions and item inspection"))
