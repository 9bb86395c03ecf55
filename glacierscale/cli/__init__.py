"""The ``glacierscale`` command line: one module per command, registered here.

Heavy libraries are imported inside each command so ``glacierscale --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from glacierscale import __version__
from glacierscale.cli import bench, catalog, demo, doctor, evaluate, export, plan, query, run, simulate, train
from glacierscale.errors import GlacierscaleError
from glacierscale.redact import redact

COMMANDS = (demo, simulate, plan, run, train, evaluate, query, export, catalog, bench, doctor)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glacierscale",
        description="Map every glacier, every year, from open multi-sensor satellite data "
                    "(STAC → cubes → ViT-U-Net on Ray → change archive).",
    )
    parser.add_argument("--version", action="version", version=f"glacierscale {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


# options whose value is W,S,E,N (or another comma list of numbers) and may start with a minus
NUMERIC_LIST_OPTIONS = ("--bbox",)


def join_negative_values(argv: Sequence[str]) -> list[str]:
    """Return argv with ``--bbox -147.2,61,...`` joined as ``--bbox=-147.2,61,...``.

    argparse takes a value that starts with a minus for an option and fails with "expected one argument";
    every western-hemisphere bbox starts with one.
    """
    out: list[str] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else ""
        if tok in NUMERIC_LIST_OPTIONS and len(nxt) > 1 and nxt[0] == "-" and (nxt[1].isdigit() or nxt[1] == "."):
            out.append(f"{tok}={nxt}")
            i += 2
            continue
        out.append(tok)
        i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(join_negative_values(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.func(args) or 0)
    except GlacierscaleError as err:
        print(f"glacierscale {args.command}: error: {redact(str(err))}", file=sys.stderr)  # no signed URL on screen
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished items are kept; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
