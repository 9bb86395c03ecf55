"""Patch layout, blending and the probability / class maps of overlapping-patch inference."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from glacierscale.infer.patches import (
    blend_weights,
    classify,
    inference_window,
    patch_starts,
    predict_probabilities,
)
from glacierscale.model.checkpoint import CLASSES, NODATA_CLASS, Checkpoint

PATCH, OVERLAP = 128, 32


class ConstantLogits(nn.Module):
    """Returns the same logits at every pixel, whatever the input."""

    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.logits = torch.tensor(logits, dtype=torch.float32)
        self.calls: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(tuple(x.shape))
        b, _, h, w = x.shape
        return self.logits[None, :, None, None].expand(b, -1, h, w).clone()


class PerPixel(nn.Module):
    """A 1×1 convolution: each pixel's logits depend on that pixel only, so patching must not matter."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(channels, len(CLASSES), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def checkpoint(model: nn.Module, n_bands: int = 2) -> Checkpoint:
    bands = [f"B{i}" for i in range(n_bands)]
    return Checkpoint(Path("dummy"), model, bands, np.zeros(n_bands, np.float32), np.ones(n_bands, np.float32),
                      list(CLASSES), "0" * 16, {})


@pytest.mark.parametrize("size", [100, 128, 300, 384])
def test_patch_starts_cover_every_pixel_and_end_flush(size: int) -> None:
    starts = patch_starts(size, PATCH, OVERLAP)
    assert starts[0] == 0
    assert starts == sorted(set(starts))
    covered = np.zeros(max(size, PATCH), dtype=int)
    for s in starts:
        covered[s:s + PATCH] += 1
    assert (covered[:size] > 0).all()
    if size >= PATCH:
        assert starts[-1] + PATCH == size  # the last patch ends flush with the tile
        assert all(b - a <= PATCH - OVERLAP for a, b in itertools.pairwise(starts))
    else:
        assert starts == [0]  # one patch, padded by the caller


def test_patch_starts_examples() -> None:
    assert patch_starts(384, 128, 32) == [0, 96, 192, 256]
    assert patch_starts(300, 128, 32) == [0, 96, 172]
    assert patch_starts(224, 128, 32) == [0, 96]
    assert patch_starts(256, 128, 0) == [0, 128]


def test_blend_weights() -> None:
    w = blend_weights(PATCH, OVERLAP)
    assert w.shape == (PATCH, PATCH) and w.dtype == np.float32
    assert (w > 0).all()
    assert (w <= 1).all()
    assert (w[OVERLAP:-OVERLAP, OVERLAP:-OVERLAP] == 1).all()
    assert w[PATCH // 2, PATCH // 2] == 1
    np.testing.assert_array_equal(w, w.T)  # symmetric
    np.testing.assert_array_equal(w, w[::-1, ::-1])
    assert w[0, 0] < w[0, PATCH // 2] < 1  # corners weigh least, edges ramp up
    assert (np.diff(w[PATCH // 2, : OVERLAP + 1]) > 0).all()


def test_blend_weights_without_overlap_are_uniform() -> None:
    np.testing.assert_array_equal(blend_weights(64, 0), np.ones((64, 64), np.float32))


@pytest.mark.parametrize("shape", [(300, 200), (100, 90), (384, 384), (128, 128)])
def test_constant_logits_give_that_softmax_everywhere(shape: tuple[int, int]) -> None:
    logits = [2.0, -1.0, 0.5, -0.5]  # background, clean ice, debris, water
    model = ConstantLogits(logits)
    data = np.random.default_rng(0).normal(size=(2, *shape)).astype(np.float32)
    probs = predict_probabilities(checkpoint(model), data, patch=PATCH, overlap=OVERLAP, batch_size=3)
    expected = torch.softmax(torch.tensor(logits), 0).numpy()
    assert probs.shape == (4, *shape)
    np.testing.assert_allclose(probs, np.broadcast_to(expected[:, None, None], probs.shape), rtol=0, atol=1e-6)
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, atol=1e-6)
    n_windows = len(patch_starts(max(shape[0], PATCH), PATCH, OVERLAP)) * len(
        patch_starts(max(shape[1], PATCH), PATCH, OVERLAP))
    assert sum(c[0] for c in model.calls) == n_windows
    assert all(c[1:] == (2, PATCH, PATCH) for c in model.calls)  # every patch is full-size


def test_blending_a_per_pixel_model_equals_applying_it_to_the_whole_tile() -> None:
    model = PerPixel(2).eval()
    rng = np.random.default_rng(1)
    data = rng.normal(size=(2, 300, 260)).astype(np.float32)
    data[0, :40, 100:150] = np.nan  # a gap in one band: fed to the model as the band mean
    mean, std = np.array([0.5, -1.0], np.float32), np.array([2.0, 0.5], np.float32)
    ckpt = checkpoint(model)
    ckpt.mean, ckpt.std = mean, std
    probs = predict_probabilities(ckpt, data, patch=PATCH, overlap=OVERLAP)
    assert np.isfinite(probs).all()
    with torch.inference_mode():
        normalised = np.nan_to_num((data - mean[:, None, None]) / std[:, None, None], nan=0.0)
        x = torch.from_numpy(normalised[None])
        direct = torch.softmax(model(x), dim=1)[0].numpy()
    np.testing.assert_allclose(probs, direct, atol=1e-5)
    assert probs.min() >= 0 and probs.max() <= 1


def test_classify_argmax_and_nodata() -> None:
    probs = np.zeros((3, 4, 5), np.float32)
    probs[0] = 0.5
    probs[1, :2] = 0.8
    probs[2, :, 4] = 0.9
    valid = np.ones((4, 5), bool)
    valid[3, 0] = False
    classes = classify(probs, valid)
    assert classes.dtype == np.uint8
    expected = np.zeros((4, 5), np.uint8)
    expected[:2] = 1
    expected[:, 4] = 2
    expected[3, 0] = NODATA_CLASS
    np.testing.assert_array_equal(classes, expected)
    assert NODATA_CLASS == 255


def test_classify_all_invalid() -> None:
    classes = classify(np.ones((3, 2, 2), np.float32) / 3, np.zeros((2, 2), bool))
    assert (classes == 255).all()


def test_blending_on_the_device_equals_blending_on_the_host(one_torch_thread: None) -> None:
    """The accelerator path (tile uploaded once, patches cut and blended on the device) gives the same map."""
    from glacierscale.infer.patches import predict_probabilities
    from glacierscale.model.checkpoint import load_checkpoint

    ckpt = load_checkpoint("default")
    rng = np.random.default_rng(0)
    data = rng.normal(0.3, 0.1, (len(ckpt.bands), 200, 176)).astype(np.float32)
    host = predict_probabilities(ckpt, data, patch=64, overlap=16, batch_size=4, blend_on_device=False)
    dev = predict_probabilities(ckpt, data, patch=64, overlap=16, batch_size=16, blend_on_device=True)
    assert dev.shape == host.shape == (4, 200, 176)
    np.testing.assert_allclose(dev, host, atol=1e-5)


def test_a_band_mismatch_is_a_value_error_not_a_missing_file() -> None:
    from glacierscale.errors import CheckpointError, CheckpointMismatchError
    from glacierscale.infer.patches import select_bands

    ckpt = checkpoint(ConstantLogits([0.0] * len(CLASSES)), n_bands=2)
    cube = np.zeros((2, 4, 4), np.float32)
    with pytest.raises(CheckpointMismatchError) as info:
        select_bands(ckpt, cube, ["B0", "X"])
    assert str(info.value) == "checkpoint dummy expects bands ['B0', 'B1'] but the cube has ['B0', 'X'] (missing ['B1'])"
    assert isinstance(info.value, ValueError) and isinstance(info.value, CheckpointError)


def test_windows_default_to_the_patch_size_the_checkpoint_was_trained_on() -> None:
    model = ConstantLogits([0.0, 1.0, 0.0, 0.0])
    trained_192 = Checkpoint(Path("dummy"), model, ["B0", "B1"], np.zeros(2, np.float32), np.ones(2, np.float32),
                             list(CLASSES), "0" * 16, {"patch_size": 192})
    assert inference_window(trained_192) == (192, 48)  # a quarter of the window overlaps
    assert inference_window(trained_192, overlap=16) == (192, 16)
    assert inference_window(trained_192, 64, 16) == (64, 16)  # the run config's choice wins
    assert inference_window(checkpoint(model)) == (128, 32)  # a checkpoint that does not say
    predict_probabilities(trained_192, np.zeros((2, 384, 384), np.float32))
    assert {shape[-2:] for shape in model.calls} == {(192, 192)}
    assert sum(shape[0] for shape in model.calls) == 9  # starts 0, 144, 192 on each axis
