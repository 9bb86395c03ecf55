"""``glacierscale catalog inspect``: what glacierscale would read from a STAC item, or why it cannot."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "print, as JSON, what glacierscale reads from a STAC item (sensor, grid, bands → assets, scale/offset, nodata)"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("catalog", help="STAC catalog tools", description="STAC catalog tools.")
    csub = p.add_subparsers(dest="catalog_command", required=True, metavar="SUBCOMMAND")
    i = csub.add_parser("inspect", help=HELP, description=HELP + ". Exit status 0: usable; 1: refused, "
                        "with the reason in the JSON; 2: not an item any provider in catalogs/ knows.")
    i.add_argument("item", metavar="ITEM.json", help="a STAC item (a JSON list or FeatureCollection: every item)")
    i.add_argument("--provider", help="provider name from catalogs/ (default: guessed from links and collection)")
    i.set_defaults(func=inspect)


def inspect(args: argparse.Namespace) -> int:
    from glacierscale.catalog.parse import parse_item
    from glacierscale.errors import InputError

    path = Path(args.item)
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a STAC item file (give one ITEM.json)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path} does not exist") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a STAC item: a binary file, not UTF-8 JSON text") from None
    except json.JSONDecodeError as err:
        raise InputError(f"{path} is not JSON: {err}") from None
    except OSError as err:
        raise InputError(f"{path} cannot be read: {err.strerror or err}") from None
    items = doc if isinstance(doc, list) else doc.get("features", [doc]) if isinstance(doc, dict) else [doc]
    if not isinstance(items, list):
        raise InputError(f"{path}: 'features' must be a list of STAC items, got {type(items).__name__}")
    try:
        parsed = [parse_item(it, args.provider).to_json() for it in items]
    except InputError as err:
        raise InputError(f"{path}: {err}") from None
    print(json.dumps(parsed[0] if len(parsed) == 1 else parsed, indent=1))
    return 0 if all(p["usable"] for p in parsed) else 1
