"""Inference options: channels-last and torch.compile give the eager fp32 result; bf16 keeps the classes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from glacierscale.config import InferConfig
from glacierscale.errors import ConfigError
from glacierscale.infer import InferOptions, forward_fn, predict_probabilities
from glacierscale.infer.options import COMPILE_MIN_TILES
from glacierscale.model import ModelSpec, ViTUNet
from glacierscale.model.checkpoint import load_checkpoint

BANDS = ["B02", "B03", "B04", "B08", "B11", "B12", "VV", "VH", "COH", "ELEV"]
SMALL = ModelSpec.for_bands(BANDS, widths=(8, 8, 16), embed_dim=32, depth=1, heads=2, stem_width=4)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def batch(seed: int = 0) -> torch.Tensor:
    x = np.random.default_rng(seed).standard_normal((2, len(BANDS), 64, 64)).astype(np.float32)
    x[0, 6:9, :20] = np.nan  # a swath edge: SAR missing in part of one patch
    return torch.from_numpy(x)


def model() -> ViTUNet:
    torch.manual_seed(0)
    return ViTUNet(SMALL).eval()


def test_channels_last_gives_the_eager_logits() -> None:
    x = batch()
    with torch.inference_mode():
        ref = forward_fn(model(), "cpu")(x)
        got = forward_fn(model(), "cpu", InferOptions(channels_last=True))(x)
    assert got.shape == ref.shape
    assert torch.allclose(got, ref, atol=1e-4)


def test_bf16_autocast_keeps_almost_every_class() -> None:
    x = batch()
    with torch.inference_mode():
        ref = forward_fn(model(), "cpu", InferOptions(precision="fp32"))(x)
        got = forward_fn(model(), "cpu", InferOptions(precision="bf16"))(x)
    assert got.dtype == torch.float32  # logits come back in fp32 whatever ran inside
    assert (got.argmax(1) == ref.argmax(1)).float().mean() > 0.97
    assert (got - ref).abs().max() < 0.25


def test_auto_precision_is_bf16_only_on_a_gpu() -> None:
    assert InferOptions().dtype_on("cpu") == "fp32"
    assert InferOptions().dtype_on("cuda:0") == "bf16"
    assert InferOptions(precision="fp32").dtype_on("cuda") == "fp32"
    with pytest.raises(ConfigError, match=r"infer\.precision: .fp16. is not one of auto, fp32, bf16"):
        InferOptions(precision="fp16")


def test_torch_compile_gives_the_eager_logits() -> None:
    x = batch()
    with torch.inference_mode():
        ref = forward_fn(model(), "cpu")(x)
        got = forward_fn(model(), "cpu", InferOptions(compile=True))(x)
    assert torch.allclose(got, ref, atol=1e-3)


def test_run_config_carries_the_options_to_the_patch_loop() -> None:
    cfg = InferConfig(precision="bf16", channels_last=True)
    assert cfg.options() == InferOptions(precision="bf16", channels_last=True, compile=False)
    # compile "auto": only when an actor maps enough tiles to win back the compile time
    assert cfg.options(tiles_per_actor=COMPILE_MIN_TILES).compile
    assert not cfg.options(tiles_per_actor=COMPILE_MIN_TILES - 1).compile
    assert InferConfig(compile=True).options(1).compile and not InferConfig(compile=False).options(10**6).compile
    ckpt = load_checkpoint("default")
    cube = np.random.default_rng(1).standard_normal((len(ckpt.bands), 96, 96)).astype(np.float32)
    cube = cube * ckpt.std[:, None, None] + ckpt.mean[:, None, None]
    ref = predict_probabilities(ckpt, cube, patch=64, overlap=16)
    fast = predict_probabilities(ckpt, cube, patch=64, overlap=16,
                                 forward=forward_fn(load_checkpoint("default").model, "cpu", cfg.options()))
    assert ref.shape == fast.shape == (len(ckpt.classes), 96, 96)
    assert np.abs(fast - ref).max() < 0.1  # probabilities, bf16 inside
    assert (fast.argmax(0) == ref.argmax(0)).mean() > 0.97


def test_flips_average_the_four_flipped_views_mapped_back() -> None:
    x = batch()
    net = model()
    with torch.inference_mode():
        once = forward_fn(net, "cpu")
        views = [once(x), once(x.flip(-1)).flip(-1), once(x.flip(-2)).flip(-2), once(x.flip(-2, -1)).flip(-2, -1)]
        got = forward_fn(net, "cpu", InferOptions(flips=True))(x)
    assert got.shape == views[0].shape and torch.allclose(got, sum(views) / 4, atol=1e-5)
    assert not torch.allclose(got, views[0], atol=1e-3)  # the network is not flip-invariant: the views differ
    # a flipped input gives the flipped output: the average is flip-equivariant
    with torch.inference_mode():
        mirrored = forward_fn(net, "cpu", InferOptions(flips=True))(x.flip(-1)).flip(-1)
    assert torch.allclose(mirrored, got, atol=1e-4)
    assert InferConfig(flips=True).options().flips and not InferConfig().options().flips


def test_flipped_products_carry_their_own_model_hash() -> None:
    from types import SimpleNamespace

    from glacierscale.pipeline.run import model_hash_suffix

    def cfg(**infer: bool) -> object:
        return SimpleNamespace(infer=SimpleNamespace(**{"map_under_clouds": False, "flips": False, **infer}))

    assert model_hash_suffix(cfg()) == ""  # type: ignore[arg-type]
    assert model_hash_suffix(cfg(flips=True)) == "+flips"  # type: ignore[arg-type]
    assert model_hash_suffix(cfg(flips=True, map_under_clouds=True)) == "+under-clouds+flips"  # type: ignore[arg-type]
