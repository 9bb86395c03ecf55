"""Helpers shared by the CLI commands."""

from __future__ import annotations

import argparse


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """Parse ``W,S,E,N`` into floats; argparse error on bad input."""
    try:
        w, s, e, n = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"bbox must be W,S,E,N in degrees, got {text!r}") from None
    if not (w < e and s < n):
        raise argparse.ArgumentTypeError(f"bbox {text!r} must have W < E and S < N")
    return (w, s, e, n)
