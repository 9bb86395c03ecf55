"""ViT-U-Net shapes and the checkpoint format: roundtrip, missing and corrupt files, band mismatch."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from glacierscale.errors import CheckpointError
from glacierscale.infer.patches import select_bands
from glacierscale.model import CLASSES, ModelSpec, ViTUNet, load_checkpoint, save_checkpoint
from glacierscale.model.checkpoint import sha256_file

BANDS = ["B02", "B03", "B04", "B08", "B11", "B12", "VV", "VH", "COH", "ELEV", "SLOPE"]
TINY = ModelSpec(in_channels=4, widths=(4, 8, 8), embed_dim=16, depth=1, heads=2)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_model(spec: ModelSpec = TINY, seed: int = 0) -> ViTUNet:
    torch.manual_seed(seed)
    return ViTUNet(spec).eval()


@pytest.fixture()
def saved(tmp_path: Path) -> tuple[Path, ViTUNet, str]:
    model = tiny_model()
    path = tmp_path / "ckpt"
    bands = ["B03", "B11", "VV", "ELEV"]
    model_hash = save_checkpoint(path, model, bands, np.array([0.2, 0.1, -10.0, 2500.0], np.float32),
                                 np.array([0.2, 0.1, 5.0, 400.0], np.float32), {"steps": 1}, "datahash")
    return path, model, model_hash


def test_vitunet_forward_shape() -> None:
    model = tiny_model(ModelSpec(in_channels=11))
    with torch.inference_mode():
        out = model(torch.randn(2, 11, 64, 64))
    assert out.shape == (2, 3, 64, 64)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("size", [64, 128, 96])
def test_vitunet_accepts_multiples_of_8(size: int) -> None:
    with torch.inference_mode():
        out = tiny_model()(torch.randn(1, 4, size, size))
    assert out.shape == (1, 3, size, size)


def test_roundtrip_gives_identical_outputs(saved: tuple[Path, ViTUNet, str]) -> None:
    path, model, model_hash = saved
    ckpt = load_checkpoint(path)
    x = torch.randn(2, 4, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        torch.testing.assert_close(ckpt.model(x), model(x), rtol=0, atol=0)
    assert not ckpt.model.training
    assert ckpt.bands == ["B03", "B11", "VV", "ELEV"]
    assert ckpt.classes == list(CLASSES[:3])  # a three-class model (no water class)
    np.testing.assert_array_equal(ckpt.std, np.array([0.2, 0.1, 5.0, 400.0], np.float32))
    assert ckpt.model_hash == model_hash == sha256_file(path / "model.safetensors")[:16]
    config = json.loads((path / "config.json").read_text())
    assert config["architecture"]["widths"] == [4, 8, 8]
    assert config["data_hash"] == "datahash" and config["training"] == {"steps": 1}


def test_saving_the_same_weights_gives_the_same_hash(saved: tuple[Path, ViTUNet, str], tmp_path: Path) -> None:
    _, model, model_hash = saved
    again = save_checkpoint(tmp_path / "again", model, ["B03", "B11", "VV", "ELEV"], np.zeros(4, np.float32),
                            np.ones(4, np.float32), {}, "other")
    assert again == model_hash
    other = save_checkpoint(tmp_path / "other", tiny_model(seed=1), ["B03", "B11", "VV", "ELEV"],
                            np.zeros(4, np.float32), np.ones(4, np.float32), {}, "other")
    assert other != model_hash


def test_normalise_replaces_nan_by_the_band_mean(saved: tuple[Path, ViTUNet, str]) -> None:
    ckpt = load_checkpoint(saved[0])
    cube = np.stack([np.full((2, 2), v, np.float32) for v in (0.4, 0.1, -15.0, 2900.0)])
    cube[2, 0, 0] = np.nan
    out = ckpt.normalise(cube)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[:, 1, 1], [1.0, 0.0, -1.0, 1.0], rtol=1e-6)
    assert out[2, 0, 0] == 0.0


def test_default_checkpoint_loads_and_matches_the_cube_bands() -> None:
    from glacierscale.catalog.provider import load_provider
    from glacierscale.cube.assemble import cube_bands

    ckpt = load_checkpoint("default")
    # the shipped checkpoint reads every band the local catalog's cubes have: the four sensor groups
    assert ckpt.bands == cube_bands(load_provider("local"))
    assert [g for g, _ in ckpt.model.spec.groups] == ["optical", "sar", "thermal", "dem"]
    # trained with modality dropout: it runs without SAR, thermal or the DEM, and with cloud-shaped optical gaps
    # (it can map clouded pixels from SAR when asked to), but a cube must still deliver every optical band
    assert set(ckpt.optional_groups) == {"optical", "sar", "thermal", "dem"} and ckpt.optical_optional
    assert ckpt.relative_elevation and ckpt.classes[-1] == "water"
    assert ckpt.absent_bands([b for b in ckpt.bands if b not in ("VV", "VH", "COH", "LST")]) == []
    assert ckpt.absent_bands([b for b in ckpt.bands if b != "B11"]) == ["B11"]
    assert len(ckpt.model_hash) == 16
    assert 0.5 < ckpt.temperature < 2.0  # calibrated on the held-out regions


def test_missing_directory(tmp_path: Path) -> None:
    path = tmp_path / "no-such-checkpoint"
    with pytest.raises(CheckpointError, match=re.escape(f"checkpoint {path} does not exist")):
        load_checkpoint(path)
    with pytest.raises(FileNotFoundError):  # catchable as the builtin it resembles
        load_checkpoint(str(path))


@pytest.mark.parametrize("name", ["model.safetensors", "config.json"])
def test_missing_file_in_the_directory(saved: tuple[Path, ViTUNet, str], name: str) -> None:
    path = saved[0]
    (path / name).unlink()
    with pytest.raises(CheckpointError, match=re.escape(f"checkpoint {path} has no {name}")):
        load_checkpoint(path)


@pytest.mark.parametrize("keep", [0.5, 0.01, 0.0])
def test_truncated_weights_are_corrupt(saved: tuple[Path, ViTUNet, str], keep: float) -> None:
    path = saved[0]
    weights = path / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(CheckpointError, match=re.escape(f"{path}/model.safetensors is corrupt")):
        load_checkpoint(path)


def test_garbage_weights_are_corrupt(saved: tuple[Path, ViTUNet, str]) -> None:
    path = saved[0]
    (path / "model.safetensors").write_bytes(b"not a safetensors file" * 50)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(path)


def test_weights_changed_after_saving_are_detected(saved: tuple[Path, ViTUNet, str]) -> None:
    path = saved[0]
    weights = path / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-64:] = b"\xff" * 64  # the header is intact, the last tensor now holds NaNs
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(path)


def test_malformed_config(saved: tuple[Path, ViTUNet, str]) -> None:
    path = saved[0]
    config = json.loads((path / "config.json").read_text())
    del config["normalisation"]
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=re.escape(f"{path}/config.json is malformed")):
        load_checkpoint(path)


def test_band_count_must_match_the_architecture(saved: tuple[Path, ViTUNet, str]) -> None:
    path = saved[0]
    config = json.loads((path / "config.json").read_text())
    config["bands"] = config["bands"][:3]
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="3 bands but 4 input channels"):
        load_checkpoint(path)


def test_weights_of_another_architecture(saved: tuple[Path, ViTUNet, str], tmp_path: Path) -> None:
    path = saved[0]
    other = tmp_path / "other"
    save_checkpoint(other, tiny_model(ModelSpec(in_channels=4, widths=(8, 8, 8), embed_dim=16, depth=1, heads=2)),
                    ["B03", "B11", "VV", "ELEV"], np.zeros(4, np.float32), np.ones(4, np.float32), {}, "x")
    shutil.copy(other / "model.safetensors", path / "model.safetensors")
    with pytest.raises(CheckpointError, match="does not match model_hash"):
        load_checkpoint(path)
    config = json.loads((path / "config.json").read_text())  # a consistent hash, the wrong architecture
    config["model_hash"] = json.loads((other / "config.json").read_text())["model_hash"]
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="does not fit its architecture"):
        load_checkpoint(path)


def test_select_bands_reorders_to_the_checkpoint_order(saved: tuple[Path, ViTUNet, str]) -> None:
    ckpt = load_checkpoint(saved[0])
    cube = np.stack([np.full((3, 3), i, np.float32) for i in range(len(BANDS))])
    picked = select_bands(ckpt, cube, BANDS)
    assert picked.shape == (4, 3, 3)
    assert [int(picked[i, 0, 0]) for i in range(4)] == [BANDS.index(b) for b in ckpt.bands]


def test_select_bands_names_the_band_the_cube_lacks(saved: tuple[Path, ViTUNet, str]) -> None:
    path = saved[0]
    config = json.loads((path / "config.json").read_text())
    config["bands"] = ["B03", "B11", "TIR", "ELEV"]  # a thermal band this cube does not have
    (path / "config.json").write_text(json.dumps(config))
    ckpt = load_checkpoint(path)
    cube_bands = list(BANDS)
    cube = np.zeros((len(cube_bands), 8, 8), np.float32)
    with pytest.raises(CheckpointError, match=re.escape("(missing ['TIR'])")) as info:
        select_bands(ckpt, cube, cube_bands)
    assert str(path) in str(info.value)


def test_non_finite_weights_are_corrupt(tmp_path: Path) -> None:
    model = tiny_model()
    with torch.no_grad():
        model.head.bias[1] = float("nan")
    path = tmp_path / "nan"
    save_checkpoint(path, model, ["B03", "B11", "VV", "ELEV"], np.zeros(4, np.float32), np.ones(4, np.float32), {}, "x")
    with pytest.raises(CheckpointError, match=re.escape(f"{path}/model.safetensors is corrupt: non-finite values in "
                                                        "head.bias")):
        load_checkpoint(path)


def test_config_that_is_not_json_names_the_file(saved: tuple[Path, ViTUNet, str]) -> None:
    path = saved[0]
    (path / "config.json").write_text("{ not json")
    with pytest.raises(CheckpointError, match=re.escape(f"{path}/config.json is malformed")):
        load_checkpoint(path)


def test_a_checkpoint_names_as_many_classes_as_it_maps(saved: tuple[Path, ViTUNet, str], tmp_path: Path) -> None:
    # a checkpoint from before the water class keeps its three classes; a four-class one adds water
    assert load_checkpoint(saved[0]).classes == ["background", "clean_ice", "debris_ice"]
    spec = ModelSpec(in_channels=4, n_classes=4, widths=(4, 8, 8), embed_dim=16, depth=1, heads=2)
    save_checkpoint(tmp_path / "four", tiny_model(spec), ["B03", "B11", "VV", "ELEV"], np.zeros(4, np.float32),
                    np.ones(4, np.float32), {}, "")
    assert load_checkpoint(tmp_path / "four").classes == [*CLASSES[:3], "water"]


def test_relative_elevation_makes_the_height_of_a_tile_irrelevant(tmp_path: Path) -> None:
    bands = ["B03", "B11", "VV", "ELEV"]
    save_checkpoint(tmp_path / "rel", tiny_model(), bands, np.array([0.2, 0.1, -10.0, 0.0], np.float32),
                    np.array([0.2, 0.1, 5.0, 300.0], np.float32), {}, "", relative_elevation=True)
    ckpt = load_checkpoint(tmp_path / "rel")
    assert ckpt.relative_elevation
    rng = np.random.default_rng(0)
    cube = rng.random((4, 16, 16)).astype(np.float32)
    cube[3] = 1500 + 300 * cube[3]
    high = cube.copy()
    high[3] += 2000.0  # the same terrain 2 km higher (a tropical range beside a Norwegian one)
    np.testing.assert_allclose(ckpt.normalise(cube), ckpt.normalise(high), atol=1e-5)
    assert abs(float(np.median(ckpt.normalise(cube)[3]))) < 1e-6  # the tile's median height reads 0


def test_a_checkpoint_trained_with_optical_gaps_can_map_pixels_from_sar_alone(tmp_path: Path) -> None:
    from glacierscale.infer.patches import valid_pixels

    bands = ["B03", "B11", "VV", "ELEV"]
    spec = ModelSpec.for_bands(bands, widths=(4, 8, 8), embed_dim=16, depth=1, heads=2)
    data = np.ones((4, 8, 8), np.float32)
    data[:2, :, :4] = np.nan  # cloud over the left half
    data[2, :2] = np.nan  # no SAR in the top rows (layover)
    for name, optional in (("required", ["sar"]), ("optional", ["optical", "sar"])):
        save_checkpoint(tmp_path / name, tiny_model(spec), bands, np.zeros(4, np.float32), np.ones(4, np.float32), {},
                        "", optional_groups=optional)
    required, optional_ckpt = load_checkpoint(tmp_path / "required"), load_checkpoint(tmp_path / "optional")
    assert not required.optical_optional and optional_ckpt.optical_optional
    # by default (and always for a checkpoint that needs optical data) a clouded pixel is nodata
    for ckpt in (required, optional_ckpt):
        assert valid_pixels(ckpt, data).sum() == 32
    assert valid_pixels(required, data, optical_required=False).sum() == 32
    # asked to, the optical-optional checkpoint maps clouded pixels where SAR sees them: 32 + 4 × 6
    assert valid_pixels(optional_ckpt, data, optical_required=False).sum() == 32 + 24
