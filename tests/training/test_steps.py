"""Where training patches are centred: debris, clean ice and ground far from every glacier."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from glacierscale.training.sources import GLACIER_LABEL
from glacierscale.training.steps import CENTRES, FAR_FROM_ICE_PX, PatchBatches


def test_background_centres_lie_beyond_the_far_distance_from_every_kind_of_ice() -> None:
    labels = np.zeros((120, 120), np.uint8)
    labels[10:30, 10:30] = 1  # clean ice
    labels[10:20, 60:70] = 2  # debris
    labels[90:100, 90:100] = GLACIER_LABEL  # an outline label (clean or debris unknown)
    where = PatchBatches._centres(labels)
    assert len(where[1]) == 400 + 100 and len(where[2]) == 100  # outline labels count as ice centres
    ice = np.argwhere(labels > 0)
    far = where[0]
    assert len(far) > 0
    nearest = np.sqrt(((far[:, None, :] - ice[None, :, :]) ** 2).sum(-1)).min(axis=1)
    assert nearest.min() > FAR_FROM_ICE_PX  # 500 m at 20 m from any glacier pixel
    assert labels[tuple(far.T)].max() == 0


def test_a_scene_without_ice_centres_background_anywhere_and_shares_leave_room_for_random_patches() -> None:
    assert len(PatchBatches._centres(np.zeros((40, 40), np.uint8))[0]) == 1600
    assert [c for c, _ in CENTRES] == [2, 1, 0, 3] and 0.5 < sum(s for _, s in CENTRES) < 1.0


def test_water_centres_where_a_region_has_water() -> None:
    labels = np.zeros((60, 60), np.uint8)
    labels[40:50, 40:50] = 3
    assert len(PatchBatches._centres(labels)[3]) == 100


def test_cloud_shaped_optical_gaps_cover_part_of_a_patch_and_keep_the_labels() -> None:
    from glacierscale.training.data import Sample
    from glacierscale.training.steps import CLOUD_COVER, StepSettings, cloud_mask

    rng = np.random.default_rng(1)
    covers = np.array([cloud_mask(64, rng).mean() for _ in range(200)])
    assert covers.min() >= CLOUD_COVER[0] - 0.02 and (covers == 1.0).mean() > 0.02  # some patches fully overcast
    # blobs, not salt and pepper: a clouded pixel's 4 neighbours are mostly clouded too
    m = cloud_mask(64, np.random.default_rng(2))
    inner = m[1:-1, 1:-1]
    same = (m[:-2, 1:-1] == inner) & (m[2:, 1:-1] == inner) & (m[1:-1, :-2] == inner) & (m[1:-1, 2:] == inner)
    assert same.mean() > 0.75  # (independent pixels at 50 % cover: 0.06)
    bands = ["B02", "B03", "B04", "B08", "B11", "B12", "VV", "VH", "COH", "ELEV"]
    data = np.ones((len(bands), 96, 96), np.float32)
    labels = np.ones((96, 96), np.uint8)
    settings = StepSettings(steps=1, batch_size=1, patch_size=64, lr=1e-3, seed=0, sensor_dropout={},
                            randomise=False, optical_clouds=1.0)
    batches = PatchBatches([Sample("a", 2021, data, labels, tuple(bands))], bands, np.zeros(len(bands)),
                           np.ones(len(bands)), settings, rng)
    for _ in range(10):
        x, y = batches.patch()
        gap = np.isnan(x[:6]).all(axis=0)
        assert gap.sum() > 0 and (np.isnan(x[:6]).any(axis=0) == gap).all()  # every optical band, same pixels
        assert np.isfinite(x[6:]).all() and (y == 1).all()  # SAR and DEM stay; every pixel keeps its label


def _sample(bands: list[str]) -> object:
    from glacierscale.training.data import Sample

    labels = np.zeros((256, 256), np.uint8)
    labels[100:110, 100:110] = 2  # a small debris-covered tongue in a big ice-free window
    return Sample("a", 2021, np.ones((len(bands), 256, 256), np.float32), labels, tuple(bands))


def test_blind_patches_lose_sar_and_thermal_and_are_neither_debris_centred_nor_up_weighted() -> None:
    from glacierscale.training.steps import DEBRIS_WEIGHT, StepSettings

    bands = ["B02", "B03", "B04", "B08", "B11", "B12", "VV", "VH", "COH", "LST", "ELEV"]
    sample = _sample(bands)

    def draw(blind_share: float) -> tuple[float, set[float], bool]:
        settings = StepSettings(steps=1, batch_size=1, patch_size=64, lr=1e-3, seed=0, sensor_dropout={},
                                randomise=False, blind_share=blind_share)
        batches = PatchBatches([sample], bands, np.zeros(len(bands)), np.ones(len(bands)), settings,  # type: ignore[list-item]
                               np.random.default_rng(3))
        out = [batches.weighted_patch() for _ in range(300)]
        with_debris = float(np.mean([(y == 2).any() for _, y, _ in out]))
        blind = all(np.isnan(x[6:10]).all() and np.isfinite(x[:6]).all() and np.isfinite(x[10]).all()
                    for x, _, _ in out)
        return with_debris, {w for _, _, w in out}, blind

    seeing, weights, blind = draw(0.0)
    assert weights == {DEBRIS_WEIGHT} and not blind
    blind_debris, weights, blind = draw(1.0)
    assert weights == {1.0} and blind  # optical + DEM only: SAR and thermal NaN, debris weighted as any class
    assert seeing > 0.3 and blind_debris < seeing / 2  # the debris share of centres went to patches anywhere


def test_a_sample_without_sar_or_thermal_is_blind_whatever_the_share() -> None:
    from glacierscale.training.steps import StepSettings

    bands = ["B02", "B03", "B04", "B08", "B11", "B12", "VV", "VH", "COH", "ELEV"]
    sample = _sample(bands)
    sample.data[6:9] = np.nan  # type: ignore[attr-defined]  # no SAR scene at all (and no thermal band)
    settings = StepSettings(steps=1, batch_size=2, patch_size=64, lr=1e-3, seed=0, sensor_dropout={"sar": 0.3},
                            randomise=False)
    batches = PatchBatches([sample], bands, np.zeros(len(bands)), np.ones(len(bands)), settings,  # type: ignore[list-item]
                           np.random.default_rng(0))
    _, _, w = batches.batch()
    assert w.tolist() == [1.0, 1.0]


def test_a_sample_without_thermal_is_blind_whenever_it_loses_sar() -> None:
    """A classic-physics sample (SAR, no thermal sensor) that loses SAR sees what an HLS scene shows (optical + DEM):
    blind, its debris not up-weighted. Counting it blind only when both groups are drawn away left 0.431 of the real
    Athabasca bare rock read as ice (against 0.000; docs/model.md)."""
    from glacierscale.training.steps import DEBRIS_WEIGHT, StepSettings

    bands = ["B02", "B03", "B04", "B08", "B11", "B12", "VV", "VH", "COH", "LST", "ELEV"]
    sample = _sample(bands)
    sample.data[9] = np.nan  # type: ignore[attr-defined]  # no thermal band in this region

    def weights(dropout: dict[str, float]) -> set[float]:
        settings = StepSettings(steps=1, batch_size=1, patch_size=64, lr=1e-3, seed=0, sensor_dropout=dropout,
                                randomise=False)
        batches = PatchBatches([sample], bands, np.zeros(len(bands)), np.ones(len(bands)), settings,  # type: ignore[list-item]
                               np.random.default_rng(5))
        return {w for _, _, w in (batches.weighted_patch() for _ in range(50))}

    assert weights({"sar": 1.0}) == {1.0}
    assert weights({"sar": 0.0}) == {DEBRIS_WEIGHT}


def test_weighted_nll_matches_torch_and_takes_a_debris_weight_per_patch() -> None:
    import torch

    from glacierscale.training.steps import DEBRIS_WEIGHT, weighted_nll

    gen = torch.Generator().manual_seed(0)
    logp = torch.log_softmax(torch.randn(2, 4, 8, 8, generator=gen), dim=1)
    target = torch.randint(0, 4, (2, 8, 8), generator=gen)
    target[0, 0, :4] = 255  # nodata
    ref = torch.nn.functional.nll_loss(logp, target, weight=torch.tensor([1.0, 1.0, DEBRIS_WEIGHT, 1.0]),
                                       ignore_index=255)
    assert float(weighted_nll(logp, target)) == pytest.approx(float(ref), rel=1e-6)
    ones = torch.nn.functional.nll_loss(logp, target, ignore_index=255)
    assert float(weighted_nll(logp, target, torch.tensor([1.0, 1.0]))) == pytest.approx(float(ones), rel=1e-6)
    # patch 0 with debris at weight 1, patch 1 at DEBRIS_WEIGHT: the weighted mean over both patches' pixels
    valid = target != 255
    nll = -logp.gather(1, target.clamp(max=3).unsqueeze(1)).squeeze(1)
    w = torch.ones_like(nll)
    w[1][target[1] == 2] = DEBRIS_WEIGHT
    expected = float((nll * w)[valid].sum() / w[valid].sum())
    assert float(weighted_nll(logp, target, torch.tensor([1.0, DEBRIS_WEIGHT]))) == pytest.approx(expected, rel=1e-6)


def test_ema_leaves_the_model_with_the_moving_average_of_its_weights() -> None:
    import torch

    from glacierscale.model.vitunet import ModelSpec, ViTUNet
    from glacierscale.training.steps import StepSettings, fit_steps

    spec = ModelSpec.for_bands(["B02", "B03", "B04", "B08", "B11", "B12"], stem_width=8, n_classes=4)
    gen = torch.Generator().manual_seed(3)
    fixed = [(torch.randn(2, 6, 64, 64, generator=gen), torch.randint(0, 4, (2, 64, 64), generator=gen), torch.ones(2))
             for _ in range(3)]

    class Batches:
        def __init__(self) -> None:
            self.i = -1

        def batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            self.i += 1
            return fixed[self.i]

    def run(ema: float, seen: list[dict[str, torch.Tensor]] | None = None) -> ViTUNet:
        torch.manual_seed(0)
        model = ViTUNet(spec)
        settings = StepSettings(steps=3, batch_size=2, patch_size=64, lr=1e-2, seed=0, sensor_dropout={}, ema=ema)
        fit_steps(model, Batches(), settings,  # type: ignore[arg-type]
                  None if seen is None else lambda step, loss: seen.append(
                      {k: v.detach().clone() for k, v in model.named_parameters()}))
        return model

    raw: list[dict[str, torch.Tensor]] = []
    last = dict(run(0.0, raw).named_parameters())
    averaged = dict(run(0.9).named_parameters())
    name = "head.weight" if "head.weight" in last else next(iter(last))
    # the average starts at the first step's weights, then moves a tenth of the way to each later step's
    expected = raw[0][name]
    for weights in raw[1:]:
        expected = 0.9 * expected + 0.1 * weights[name]
    assert torch.allclose(averaged[name], expected, atol=1e-6)
    assert not torch.allclose(averaged[name], last[name], atol=1e-4)  # not the last weights


def test_an_ema_decay_of_one_or_more_is_refused(tmp_path: Path) -> None:
    from glacierscale.errors import ConfigError
    from glacierscale.training.train import load_train_config

    cfg = tmp_path / "train.yaml"
    cfg.write_text("out: out\nregions: [{name: a, seed: 1}]\nema: 1.0\n")
    with pytest.raises(ConfigError, match="ema"):
        load_train_config(cfg)


def test_the_brightness_gain_range_reaches_the_patches() -> None:
    from glacierscale.training.steps import StepSettings

    bands = ["B02", "B03", "B04", "B08", "B11", "B12", "VV", "VH", "COH", "LST", "ELEV"]
    sample = _sample(bands)  # reflectance 1.0 everywhere, normalised with mean 0 and std 1

    def red_means(gain: tuple[float, float]) -> np.ndarray:
        settings = StepSettings(steps=1, batch_size=1, patch_size=64, lr=1e-3, seed=0, sensor_dropout={},
                                brightness_gain=gain)
        batches = PatchBatches([sample], bands, np.zeros(len(bands)), np.ones(len(bands)), settings,  # type: ignore[list-item]
                               np.random.default_rng(4))
        return np.array([float(np.nanmean(batches.patch()[0][2])) for _ in range(200)])

    default, wide = red_means((0.65, 1.35)), red_means((0.55, 1.6))
    # the brightest tenth of the scenes: ~1.3 by default, ~1.5 with the wider range (haze and noise add little)
    assert np.quantile(default, 0.9) < 1.4 < np.quantile(wide, 0.9)
    assert np.quantile(wide, 0.05) < 0.65 < np.quantile(default, 0.05)


def test_the_haze_range_reaches_the_blue_band() -> None:
    from glacierscale.training.steps import StepSettings

    bands = ["B02", "B03", "B04", "B08", "B11", "B12", "VV", "VH", "COH", "LST", "ELEV"]
    sample = _sample(bands)

    def blue_means(haze: tuple[float, float]) -> np.ndarray:
        settings = StepSettings(steps=1, batch_size=1, patch_size=64, lr=1e-3, seed=0, sensor_dropout={},
                                brightness_gain=(1.0, 1.0), haze=haze)
        batches = PatchBatches([sample], bands, np.zeros(len(bands)), np.ones(len(bands)), settings,  # type: ignore[list-item]
                               np.random.default_rng(5))
        return np.array([float(np.nanmean(batches.patch()[0][0])) for _ in range(100)])

    # the same draws but for the offset: an over-corrected blue band reads 0.1 darker in every randomised patch
    shift = blue_means((-0.1, -0.1)) - blue_means((0.0, 0.0))
    assert np.median(shift) == pytest.approx(-0.1, abs=0.01) and shift.max() <= 1e-6


def test_brightness_consistency_copies_are_the_last_patches_with_the_optical_reflectance_scaled() -> None:
    from glacierscale.training.steps import CONSISTENCY_GAIN, StepSettings

    bands = ["B02", "B03", "B04", "B08", "B11", "B12", "VV", "VH", "COH", "LST", "ELEV"]
    sample = _sample(bands)
    mean, std = np.full(len(bands), 0.3), np.full(len(bands), 0.2)
    settings = StepSettings(steps=1, batch_size=6, patch_size=64, lr=1e-3, seed=0, sensor_dropout={},
                            consistency_pairs=2)
    batches = PatchBatches([sample], bands, mean, std, settings, np.random.default_rng(6))  # type: ignore[list-item]
    x, y, w = (t.numpy() for t in batches.batch())
    assert x.shape[0] == 6
    reflectance = x * 0.2 + 0.3  # back from the normalised input
    for original, copy in ((0, 4), (1, 5)):
        gain = np.nanmedian(reflectance[copy, :6] / reflectance[original, :6])
        assert CONSISTENCY_GAIN[0] <= gain <= CONSISTENCY_GAIN[1]
        np.testing.assert_allclose(reflectance[copy, :6], gain * reflectance[original, :6], rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(x[copy, 6:], x[original, 6:])  # SAR, thermal and the DEM are as they were
        np.testing.assert_array_equal(y[copy], y[original])
        assert w[copy] == w[original]


def test_the_consistency_loss_is_zero_for_equal_maps_and_grows_with_disagreement() -> None:
    import torch

    from glacierscale.training.steps import consistency_loss

    logits = torch.randn(2, 4, 8, 8)
    assert float(consistency_loss(logits, logits.clone())) == pytest.approx(0.0, abs=1e-7)
    near, far = logits + 0.1 * torch.randn_like(logits), logits + 3.0 * torch.randn_like(logits)
    assert 0 < float(consistency_loss(logits, near)) < float(consistency_loss(logits, far))


def test_blind_patches_can_label_debris_as_background_and_seeing_patches_keep_it() -> None:
    from glacierscale.training.steps import StepSettings

    bands = ["B02", "B03", "B04", "B08", "B11", "B12", "VV", "VH", "COH", "LST", "ELEV"]
    sample = _sample(bands)

    def debris_pixels(blind_share: float, blind_debris: str) -> tuple[int, int]:
        settings = StepSettings(steps=1, batch_size=1, patch_size=64, lr=1e-3, seed=0, sensor_dropout={},
                                randomise=False, blind_share=blind_share, blind_debris=blind_debris)
        batches = PatchBatches([sample], bands, np.zeros(len(bands)), np.ones(len(bands)), settings,  # type: ignore[list-item]
                               np.random.default_rng(8))
        ys = [batches.patch()[1] for _ in range(200)]
        return sum(int((y == 2).sum()) for y in ys), sum(int(y.size) for y in ys)

    seen, _ = debris_pixels(0.0, "background")  # seeing patches (SAR and thermal present) keep their debris
    blind_kept, _ = debris_pixels(1.0, "debris")
    blind_relabelled, n = debris_pixels(1.0, "background")
    assert seen > 0 and blind_kept > 0 and blind_relabelled == 0 and n == 200 * 64 * 64
