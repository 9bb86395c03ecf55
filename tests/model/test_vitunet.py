"""Per-sensor-group fusion stems: shapes, missing groups masked, the checkpoint keeps the groups."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from glacierscale.errors import CheckpointError
from glacierscale.model import ModelSpec, ViTUNet, load_checkpoint, save_checkpoint

BANDS = ["B02", "B03", "B04", "B08", "B11", "B12", "VV", "VH", "COH", "LST", "ELEV", "SLOPE", "ASPECT"]
SMALL = {"widths": (4, 8, 8), "embed_dim": 16, "depth": 1, "heads": 2, "stem_width": 4}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def fusion_model(seed: int = 0) -> ViTUNet:
    torch.manual_seed(seed)
    return ViTUNet(ModelSpec.for_bands(BANDS, **SMALL)).eval()


def test_for_bands_makes_one_stem_per_sensor_group() -> None:
    spec = ModelSpec.for_bands(["ELEV", "B03", "VV", "B11", "COH", "LST"])
    assert spec.groups == (("optical", (1, 3)), ("sar", (2, 4)), ("thermal", (5,)), ("dem", (0,)))
    assert len(ViTUNet(spec).enc1.stems) == 4  # type: ignore[arg-type]


def test_forward_shape_and_finite_with_any_group_missing() -> None:
    model = fusion_model()
    x = torch.randn(2, len(BANDS), 64, 64)
    for group in (["VV", "VH", "COH"], ["LST"], ["ELEV", "SLOPE", "ASPECT"], ["VV", "VH", "COH", "LST"]):
        xm = x.clone()
        xm[:, [BANDS.index(b) for b in group]] = torch.nan
        with torch.inference_mode():
            out = model(xm)
        assert out.shape == (2, 3, 64, 64)
        assert torch.isfinite(out).all()


def test_a_missing_group_contributes_nothing_whatever_its_values() -> None:
    model = fusion_model()
    x = torch.randn(1, len(BANDS), 64, 64)
    sar = [BANDS.index(b) for b in ("VV", "VH", "COH")]
    a, b = x.clone(), x.clone()
    a[:, sar[0]] = torch.nan  # VV missing: the whole SAR group is absent at every pixel
    b[:, sar[0]] = torch.nan
    b[:, sar[1:]] = 100.0  # whatever VH and coherence say
    with torch.inference_mode():
        torch.testing.assert_close(model(a), model(b), rtol=0, atol=0)
        assert not torch.allclose(model(a), model(x))  # and when present, SAR is used


def test_a_group_missing_on_part_of_the_patch_is_masked_there_only() -> None:
    model = fusion_model()
    x = torch.randn(1, len(BANDS), 64, 64)
    lst = BANDS.index("LST")
    a, b = x.clone(), x.clone()
    a[:, lst, :, :32] = torch.nan
    b[:, lst, :, :32] = torch.nan
    b[:, lst, :, 32:] += 3.0  # thermal differs where it is present
    with torch.inference_mode():
        ya, yb = model(a), model(b)
    assert torch.isfinite(ya).all()
    assert not torch.allclose(ya, yb)


def test_a_plain_band_list_gets_one_shared_stem() -> None:
    torch.manual_seed(0)
    model = ViTUNet(ModelSpec(in_channels=3, **{k: v for k, v in SMALL.items() if k != "stem_width"})).eval()
    x = torch.randn(1, 3, 64, 64)
    x[:, 0, :8] = torch.nan  # read as 0 by the shared stem
    with torch.inference_mode():
        assert torch.isfinite(model(x)).all()


def test_checkpoint_keeps_groups_and_outputs(tmp_path: Path) -> None:
    model = fusion_model()
    path = tmp_path / "ckpt"
    save_checkpoint(path, model, BANDS, np.zeros(len(BANDS), np.float32), np.ones(len(BANDS), np.float32), {"steps": 1},
                    "data", optional_groups=["sar", "thermal", "dem"])
    config = json.loads((path / "config.json").read_text())
    assert config["groups"] == {"optical": BANDS[:6], "sar": ["VV", "VH", "COH"], "thermal": ["LST"],
                                "dem": ["ELEV", "SLOPE", "ASPECT"]}
    assert config["architecture"]["groups"]["thermal"] == [9]
    assert config["optional_groups"] == ["sar", "thermal", "dem"]
    ckpt = load_checkpoint(path)
    assert ckpt.model.spec == model.spec
    assert ckpt.optional_groups == ["sar", "thermal", "dem"]
    x = torch.randn(1, len(BANDS), 64, 64)
    x[:, 6:9] = torch.nan
    with torch.inference_mode():
        torch.testing.assert_close(ckpt.model(x), model(x), rtol=0, atol=0)


def test_groups_outside_the_bands_are_malformed(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="distinct channels"):
        ModelSpec(in_channels=2, groups=(("optical", (0, 1)), ("sar", (2,))))
    path = tmp_path / "ckpt"
    save_checkpoint(path, fusion_model(), BANDS, np.zeros(len(BANDS), np.float32), np.ones(len(BANDS), np.float32),
                    {}, "data")
    config = json.loads((path / "config.json").read_text())
    config["architecture"]["groups"]["thermal"] = [42]
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=re.escape(f"{path}/config.json is malformed")):
        load_checkpoint(path)
