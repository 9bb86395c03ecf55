"""Helpers shared by the CLI commands."""

from __future__ import annotations

import argparse
from typing import Any

from glacierscale.errors import NotAvailableError


def not_available(issue: str) -> Any:
    """Return a command function that says clearly which planned capability it waits for."""

    def _run(args: argparse.Namespace) -> int:
        raise NotAvailableError(f"'{args.command}' is not available in this release yet ({issue}).")

    return _run


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """Parse ``W,S,E,N`` into floats; argparse error on bad input."""
    try:
        w, s, e, n = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"bbox must be W,S,E,N in degrees, got {text!r}") from None
    if not (w < e and s < n):
        raise argparse.ArgumentTypeError(f"bbox {text!r} must have W < E and S < N")
    return (w, s, e, n)
