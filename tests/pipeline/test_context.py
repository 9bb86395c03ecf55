"""A run from flags alone maps on the checkpoint's training grid; a grid named in a config is kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from glacierscale.config import build_run_config
from glacierscale.pipeline.context import with_checkpoint_grid

BASE = {"catalog": {"url": "http://x.invalid/stac"}, "inventory": "inv.gpkg", "years": [2021], "archive": "a"}


def test_no_grid_resolution_takes_the_checkpoints() -> None:
    cfg = with_checkpoint_grid(build_run_config(dict(BASE)))
    assert cfg.grid.resolution == 20.0 and cfg.grid.tile_size == 1024  # the shipped model's 20 m


def test_a_resolution_in_the_config_is_kept() -> None:
    cfg = with_checkpoint_grid(build_run_config({**BASE, "grid": {"resolution": 10}}))
    assert cfg.grid.resolution == 10.0  # check_checkpoint then refuses it with a clear message


def test_planning_runs_in_a_child_and_hands_back_units_attributes_and_the_store(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from run_helpers import standin_config

    from glacierscale.inventory.store import read_unit_glaciers
    from glacierscale.pipeline.context import plan_run, prepare_plan, run_id_of

    cfg = standin_config(tmp_path, 12)
    got = prepare_plan(cfg, [2021, 2022], "run")
    inventory, units = plan_run(cfg)
    assert [u.unit_id for u in got.units] == [u.unit_id for u in units] and len(units) == 12
    assert got.run_id == run_id_of(cfg, units, [2021, 2022], "run")
    assert f"runs/{got.run_id}/glaciers-" in got.store and Path(got.store).exists()
    assert list(got.attributes["glacier_id"]) == sorted(inventory["glacier_id"])
    one = read_unit_glaciers(got.store, units[5].unit_id)
    assert list(one.index) == list(units[5].glacier_ids)
    assert one.geometry.area.sum() == pytest.approx(120 * 120)  # the bench inventory's 120 m squares


def test_an_error_in_the_planning_child_is_raised_in_the_driver(tmp_path: Path) -> None:
    from glacierscale.errors import InputError
    from glacierscale.pipeline.context import prepare_plan

    bad = tmp_path / "inventory.gpkg"
    bad.write_text("not a geopackage")
    cfg = build_run_config({**BASE, "inventory": str(bad), "archive": str(tmp_path / "a")})
    with pytest.raises(InputError, match=r"inventory\.gpkg"):
        prepare_plan(cfg, [2021], "run")
