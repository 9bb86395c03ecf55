"""``glacierscale train`` flags: a fine-tune from flags alone trains the network the checkpoint is."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from glacierscale.cli.train import _config
from glacierscale.errors import ConfigError
from glacierscale.model.checkpoint import load_checkpoint

SHIPPED = Path(__file__).resolve().parents[2] / "glacierscale" / "checkpoints" / "default"


def flags(tmp_path: Path, **given: object) -> argparse.Namespace:
    base: dict[str, object] = {"config": None, "catalog": str(tmp_path / "cat"), "inventory": str(tmp_path / "inv.gpkg"),
                               "years": "2021:2022", "tolerance_years": None, "workdir": None, "steps": None,
                               "out": str(tmp_path / "out"), "workers": None, "groups": None, "init": None}
    return argparse.Namespace(**{**base, **given})


def test_init_from_flags_takes_the_checkpoints_width_and_elevation_mode(tmp_path: Path) -> None:
    shipped = load_checkpoint(SHIPPED)
    cfg = _config(flags(tmp_path, init=str(SHIPPED)))
    assert cfg.init == str(SHIPPED) and cfg.relative_elevation is shipped.relative_elevation is True
    assert cfg.stem_width == shipped.model.spec.stem_width
    assert _config(flags(tmp_path)).init is None and _config(flags(tmp_path)).relative_elevation is False


def test_init_with_a_config_keeps_the_configs_model(tmp_path: Path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text("out: ckpt\nstem_width: 8\nregions:\n  - {name: a, seed: 1}\n")
    cfg = _config(flags(tmp_path, config=str(config), catalog=None, inventory=None, years=None, init=str(SHIPPED)))
    assert cfg.init == str(SHIPPED) and cfg.stem_width == 8  # train() refuses the misfit (tests/training)
    with pytest.raises(ConfigError, match="--catalog needs --inventory and --years"):
        _config(flags(tmp_path, inventory=None, years=None))
