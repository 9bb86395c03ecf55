"""NaN / nodata input pixels are mapped as nodata, never as glacier; mismatched inputs are clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from glacierscale.errors import CheckpointError
from glacierscale.infer.actors import InferenceWorker
from glacierscale.infer.patches import predict_classes, predict_probabilities, select_bands, valid_pixels
from glacierscale.model import ModelSpec, ViTUNet, load_checkpoint, save_checkpoint
from glacierscale.model.checkpoint import CLASSES, NODATA_CLASS, Checkpoint

BANDS = ["B03", "B11", "VV", "ELEV"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def glacier_everywhere(tmp_path: Path, optional_groups: list[str] | None = None) -> Path:
    """A checkpoint whose network says "clean ice" at every pixel, whatever it sees."""
    torch.manual_seed(0)
    model = ViTUNet(ModelSpec(in_channels=4, widths=(4, 8, 8), embed_dim=16, depth=1, heads=2)).eval()
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor([-5.0, 5.0, 0.0]))
    path = tmp_path / "ckpt"
    save_checkpoint(path, model, BANDS, np.array([0.2, 0.1, -10.0, 2500.0], np.float32),
                    np.array([0.2, 0.1, 5.0, 400.0], np.float32), {}, "x", optional_groups=optional_groups)
    return path


def cube(shape: tuple[int, int] = (160, 150)) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.stack([rng.normal(m, s, shape) for m, s in ((0.2, 0.2), (0.1, 0.1), (-10, 5), (2500, 400))]
                    ).astype(np.float32)


def test_nan_optical_pixels_are_nodata_never_glacier(tmp_path: Path) -> None:
    ckpt = load_checkpoint(glacier_everywhere(tmp_path))
    data = cube()
    data[0, 10:40, 20:60] = np.nan  # a gap in one optical band
    data[1, 100:110, :] = np.inf  # a decoding error in another
    data[:, 150:, 140:] = np.nan  # no data at all in a corner
    classes, probs = predict_classes(ckpt, data)
    bad = np.zeros(data.shape[1:], bool)
    bad[10:40, 20:60] = bad[100:110, :] = True
    bad[150:, 140:] = True
    assert (classes[bad] == NODATA_CLASS).all()
    assert (classes[~bad] == 1).all()  # everything else is mapped (as the network says: clean ice)
    assert np.isfinite(probs).all()


def test_nan_in_an_optional_sensor_is_not_nodata(tmp_path: Path) -> None:
    ckpt = load_checkpoint(glacier_everywhere(tmp_path))
    data = cube()
    data[2] = np.nan  # no SAR scene: the pixel is still mapped from optical data
    data[3, :20] = np.nan  # a DEM void
    assert valid_pixels(ckpt, data).all()
    classes, _ = predict_classes(ckpt, data)
    assert (classes == 1).all()


class NaNLogits(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        out = torch.zeros(b, 3, h, w)
        out[:, 1] = 5.0
        out[:, :, : h // 2] = torch.nan  # a network that breaks on part of the patch
        return out


def test_non_finite_network_output_is_nodata() -> None:
    ckpt = Checkpoint(Path("nan"), NaNLogits(), list(BANDS), np.zeros(4, np.float32), np.ones(4, np.float32),
                      list(CLASSES[:3]), "0" * 16, {})
    classes, _ = predict_classes(ckpt, cube((128, 128)), overlap=0)
    assert (classes[:64] == NODATA_CLASS).all()
    assert (classes[64:] == 1).all()


def test_actor_writes_nodata_class_and_probability(tmp_path: Path) -> None:
    worker = InferenceWorker(str(glacier_everywhere(tmp_path)), threads=1, patch=128, overlap=32, batch_size=4)
    data = cube()
    data[0, :30, :30] = np.nan
    result = worker.predict("u", 2022, (data, list(BANDS)))
    assert (result.classes[:30, :30] == NODATA_CLASS).all()
    assert (result.glacier_probability[:30, :30] == 255).all()
    assert (result.classes[30:] == 1).all()
    assert (result.glacier_probability[30:] >= 99).all()


def test_band_mismatch_names_both_band_lists(tmp_path: Path) -> None:
    ckpt = load_checkpoint(glacier_everywhere(tmp_path))
    cube_bands = ["B02", "B03", "VV", "VH", "ELEV"]
    with pytest.raises(CheckpointError) as info:
        select_bands(ckpt, np.zeros((5, 8, 8), np.float32), cube_bands)
    msg = str(info.value)
    assert str(BANDS) in msg and str(cube_bands) in msg and "missing ['B11']" in msg


def test_an_optional_group_may_be_absent_from_the_cube(tmp_path: Path) -> None:
    ckpt = load_checkpoint(glacier_everywhere(tmp_path, optional_groups=["sar"]))
    picked = select_bands(ckpt, np.ones((3, 8, 8), np.float32), ["B03", "B11", "ELEV"])  # no SAR sensor at all
    assert picked.shape == (4, 8, 8)
    assert np.isnan(picked[2]).all() and (picked[[0, 1, 3]] == 1).all()
    with pytest.raises(CheckpointError, match=re.escape("missing ['B11']")):  # optical is never optional
        select_bands(ckpt, np.ones((2, 8, 8), np.float32), ["B03", "ELEV"])


def test_data_with_the_wrong_band_count_is_refused(tmp_path: Path) -> None:
    ckpt = load_checkpoint(glacier_everywhere(tmp_path))
    with pytest.raises(CheckpointError, match=re.escape(f"expects 4 bands {BANDS} but the data has shape (5, 64, 64)")):
        predict_probabilities(ckpt, np.zeros((5, 64, 64), np.float32))


def test_under_clouds_an_optical_gap_is_mapped_from_sar_and_marked_radar_only(tmp_path: Path) -> None:
    path = str(glacier_everywhere(tmp_path, optional_groups=["optical", "sar", "dem"]))
    data = cube()
    data[0:2, :40, :50] = np.nan  # a cloud: no optical band, SAR sees through it
    data[0:3, 100:120, :30] = np.nan  # neither optical nor SAR (a SAR layover patch under the cloud)
    worker = InferenceWorker(path, threads=1, patch=128, overlap=32, batch_size=4, optical_required=False)
    r = worker.predict("u", 2022, (data, list(BANDS)))
    assert r.radar_only is not None and (r.classes[:40, :50] == 1).all() and r.radar_only[:40, :50].all()
    assert (r.glacier_probability[:40, :50] >= 99).all()
    assert (r.classes[100:120, :30] == NODATA_CLASS).all() and not r.radar_only[100:120, :30].any()
    assert int(r.radar_only.sum()) == 40 * 50  # every other pixel had its optical view
    default = InferenceWorker(path, threads=1, patch=128, overlap=32, batch_size=4).predict("u", 2022,
                                                                                          (data, list(BANDS)))
    assert default.radar_only is None and (default.classes[:40, :50] == NODATA_CLASS).all()


def test_a_checkpoint_that_needs_optical_data_leaves_cloud_pixels_nodata(tmp_path: Path) -> None:
    worker = InferenceWorker(str(glacier_everywhere(tmp_path)), threads=1, patch=128, overlap=32, batch_size=4,
                             optical_required=False)  # asked, but this checkpoint never learnt to map without optical
    data = cube()
    data[0:2, :40, :50] = np.nan
    r = worker.predict("u", 2022, (data, list(BANDS)))
    assert r.radar_only is None and (r.classes[:40, :50] == NODATA_CLASS).all()
