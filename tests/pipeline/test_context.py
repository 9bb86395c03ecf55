"""A run from flags alone maps on the checkpoint's training grid; a grid named in a config is kept."""

from __future__ import annotations

from glacierscale.config import build_run_config
from glacierscale.pipeline.context import with_checkpoint_grid

BASE = {"catalog": {"url": "http://x.invalid/stac"}, "inventory": "inv.gpkg", "years": [2021], "archive": "a"}


def test_no_grid_resolution_takes_the_checkpoints() -> None:
    cfg = with_checkpoint_grid(build_run_config(dict(BASE)))
    assert cfg.grid.resolution == 20.0 and cfg.grid.tile_size == 1024  # the shipped model's 20 m


def test_a_resolution_in_the_config_is_kept() -> None:
    cfg = with_checkpoint_grid(build_run_config({**BASE, "grid": {"resolution": 10}}))
    assert cfg.grid.resolution == 10.0  # check_checkpoint then refuses it with a clear message
