"""Domain randomisation: brightness is not a class cue after it, NaN stays NaN, shapes and dtype are kept."""

from __future__ import annotations

import numpy as np

from glacierscale.training.randomise import Randomisation, randomise_optical


def test_scene_brightness_spreads_over_the_ablation_range_and_keeps_nan() -> None:
    rng = np.random.default_rng(0)
    snow = np.full((6, 32, 32), 0.83, np.float32)
    snow[:, :2] = np.nan
    means = []
    for _ in range(400):
        out = randomise_optical(snow, rng, Randomisation(probability=1.0))
        assert out.shape == snow.shape and out.dtype == np.float32
        assert np.isnan(out[:, :2]).all() and np.isfinite(out[:, 2:]).all()
        means.append(float(np.nanmean(out[2])))
    # summer snow reads anywhere from firn-dark (0.83 × 0.7 ≈ 0.58) to fresh-snow bright (0.83 × 1.3 ≈ 1.08)
    assert np.quantile(means, 0.05) < 0.62 and np.quantile(means, 0.95) > 1.02


def test_probability_zero_leaves_the_patch_as_it_is() -> None:
    x = np.random.default_rng(1).random((6, 16, 16)).astype(np.float32)
    np.testing.assert_array_equal(randomise_optical(x, np.random.default_rng(2), Randomisation(probability=0.0)), x)
