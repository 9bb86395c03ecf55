"""The red/SWIR1 band-ratio baseline: its threshold tuned by grid search on the scored pixels."""

from __future__ import annotations

import numpy as np
import pytest

from glacierscale.training.baseline import RatioBaseline


def test_the_tuned_threshold_separates_snow_and_ice_from_rock_and_misses_debris() -> None:
    # 100 clean-ice pixels (ratio 3), 100 debris (ratio 0.8, rock-coloured), 200 rock (ratio 0.7), 100 bright
    # rock-and-snow mixtures (ratio 1.6) that the classic threshold of 2 leaves out but a threshold of 1.5 takes
    red = np.concatenate([np.full(100, 0.6), np.full(100, 0.16), np.full(200, 0.14), np.full(100, 0.32)])
    swir1 = np.concatenate([np.full(100, 0.2), np.full(100, 0.2), np.full(200, 0.2), np.full(100, 0.2)])
    truth = np.concatenate([np.ones(100), np.full(100, 2), np.zeros(200), np.zeros(100)]).astype(np.uint8)
    valid = np.ones(500, bool)
    base = RatioBaseline()
    base.add(red, swir1, truth, valid)
    r = base.result()
    assert r["glacier"] == pytest.approx(0.5)  # clean ice found, debris missed: 100 / 200
    assert r["glacier_at_2"] == pytest.approx(0.5) and 1.6 <= r["threshold"] <= 2.9  # above the mixtures
    truth[400:] = 1  # now the mixtures are ice (snow on the glacier): a lower threshold wins
    base = RatioBaseline()
    base.add(red, swir1, truth, valid)
    assert base.result()["threshold"] < 1.6 and base.result()["glacier"] == pytest.approx(200 / 300)


def test_nodata_and_invalid_pixels_are_not_scored_and_swir_of_zero_is_ice() -> None:
    base = RatioBaseline()
    red, swir1 = np.array([0.5, np.nan, 0.5, 0.1]), np.array([0.0, 0.2, 0.2, 0.2])
    base.add(red, swir1, np.array([1, 1, 255, 0], np.uint8), np.array([True, True, True, True]))
    assert base.result()["glacier"] == pytest.approx(1.0)
    assert np.isnan(RatioBaseline().result()["glacier"])
