"""Helpers for run tests: a config over a synthetic inventory of many small tiles, for stand-in stages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from glacierscale.config import RunConfig, build_run_config
from glacierscale.pipeline.bench import _inventory


def standin_config(tmp: Path, units: int, *, years: tuple[int, ...] = (2021, 2022), **stream: Any) -> RunConfig:
    """Return a run config over ``units`` synthetic 16-px tiles (one glacier each), for stand-in stages."""
    inv = tmp / "inventory.gpkg"
    if not inv.exists():
        _inventory(inv, units)
    return build_run_config({
        "name": "standin", "catalog": {"url": "http://stand-in.invalid/stac", "provider": "local"},
        "inventory": str(inv), "years": list(years), "archive": str(tmp / "archive"), "cube_store": str(tmp / "cubes"),
        "grid": {"resolution": 20.0, "tile_size": 16, "margin_m": 0, "overlap_px": 0},
        "stream": {"batch_items": 4, "max_in_flight": 4, "backoff_s": 0.0, **stream}, "infer": {"num_cpus": 0.5},
    }, "test")
