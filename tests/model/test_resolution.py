"""The checkpoint records its training grid and patch; a run on another grid resolution is refused."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from glacierscale.errors import CheckpointError, CheckpointMismatchError
from glacierscale.model import ModelSpec, ViTUNet, load_checkpoint, save_checkpoint
from glacierscale.model.checkpoint import check_resolution, default_checkpoint_path

BANDS = ["B02", "B03", "B04", "B08"]
TINY = ModelSpec(in_channels=4, widths=(4, 8, 8), embed_dim=16, depth=1, heads=2)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def ckpt20(tmp_path: Path) -> object:
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "c", ViTUNet(TINY).eval(), BANDS, np.zeros(4), np.ones(4),
                    {"resolution": 20.0, "patch_size": 128}, "")
    return load_checkpoint(tmp_path / "c")


def test_checkpoint_records_training_resolution_and_patch(ckpt20: object) -> None:
    assert ckpt20.resolution_m == 20.0  # type: ignore[attr-defined]
    assert ckpt20.patch_size == 128  # type: ignore[attr-defined]
    assert ckpt20.config["resolution_m"] == 20.0 and ckpt20.config["patch_size"] == 128  # type: ignore[attr-defined]


def test_a_10m_grid_with_a_20m_model_is_refused_with_the_fix(ckpt20: object) -> None:
    with pytest.raises(CheckpointMismatchError) as err:
        check_resolution(ckpt20, 10.0)  # type: ignore[arg-type]
    msg = str(err.value)
    assert "trained on a 20 m grid" in msg and "this run's grid is 10 m" in msg
    assert "grid.resolution: 20" in msg and "2.56 km" in msg
    assert isinstance(err.value, CheckpointError) and isinstance(err.value, ValueError)


@pytest.mark.parametrize("res", [14.0, 20.0, 30.0])
def test_grids_within_1_5_times_map_as_they_are(ckpt20: object, res: float) -> None:
    check_resolution(ckpt20, res)  # type: ignore[arg-type]


def test_run_check_refuses_the_shipped_checkpoint_on_a_10m_grid() -> None:
    from glacierscale.catalog.provider import load_provider
    from glacierscale.pipeline.context import check_checkpoint

    cfg = SimpleNamespace(model=SimpleNamespace(checkpoint=str(default_checkpoint_path())),
                          grid=SimpleNamespace(resolution=10.0), infer=SimpleNamespace(map_under_clouds=False, patch_size=None,
                                                                                  overlap=None))
    with pytest.raises(CheckpointMismatchError, match="20 m grid"):
        check_checkpoint(cfg, load_provider("local"))  # type: ignore[arg-type]
    cfg.grid.resolution = 20.0
    assert check_checkpoint(cfg, load_provider("local")).endswith("default")  # type: ignore[arg-type]


def test_mapping_under_clouds_needs_a_checkpoint_trained_without_optical_data(ckpt20: object) -> None:
    from glacierscale.catalog.provider import load_provider
    from glacierscale.pipeline.context import check_checkpoint

    cfg = SimpleNamespace(model=SimpleNamespace(checkpoint=str(ckpt20.path)),  # type: ignore[attr-defined]
                          grid=SimpleNamespace(resolution=20.0), infer=SimpleNamespace(map_under_clouds=True, patch_size=None,
                                                                                  overlap=None))
    with pytest.raises(CheckpointMismatchError) as err:
        check_checkpoint(cfg, load_provider("local"))  # type: ignore[arg-type]
    assert "infer.map_under_clouds" in str(err.value) and "optional groups: none" in str(err.value)
    cfg.model.checkpoint = str(default_checkpoint_path())  # the shipped model was trained with optical dropout
    assert check_checkpoint(cfg, load_provider("local")).endswith("default")  # type: ignore[arg-type]


def test_an_overlap_too_wide_for_the_checkpoints_patch_is_refused_before_the_run(ckpt20: object) -> None:
    from glacierscale.catalog.provider import load_provider
    from glacierscale.errors import ConfigError
    from glacierscale.pipeline.context import check_checkpoint

    cfg = SimpleNamespace(model=SimpleNamespace(checkpoint=str(ckpt20.path)),  # type: ignore[attr-defined]
                          grid=SimpleNamespace(resolution=20.0),
                          infer=SimpleNamespace(map_under_clouds=False, patch_size=None, overlap=64))
    with pytest.raises(ConfigError) as err:
        check_checkpoint(cfg, load_provider("local"))  # type: ignore[arg-type]
    assert "infer.overlap: 64 px must be less than half of the inference window, 128 px" in str(err.value)
    assert "the patch size" in str(err.value) and "was trained on" in str(err.value)
    cfg.infer.overlap = 63
    assert check_checkpoint(cfg, load_provider("local")) == str(ckpt20.path)  # type: ignore[attr-defined]
