"""Helpers shared by the CLI commands."""

from __future__ import annotations

import argparse


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """Parse ``W,S,E,N`` into floats (W > E crosses the antimeridian); argparse error on bad input."""
    try:
        w, s, e, n = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"bbox must be W,S,E,N in degrees, got {text!r}") from None
    if w == e or not s < n or not all(-180 <= v <= 180 for v in (w, e)) or not all(-90 <= v <= 90 for v in (s, n)):
        raise argparse.ArgumentTypeError(f"bbox {text!r} must have S < N and W ≠ E in degrees "
                                         "(W > E crosses the antimeridian)")
    return (w, s, e, n)
