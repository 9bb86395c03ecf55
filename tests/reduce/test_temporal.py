"""The per-pixel series of a tile: gap filling from neighbouring years, the temporal filter, per-glacier sums."""

from __future__ import annotations

import numpy as np
import pytest

from glacierscale.reduce.temporal import (
    FILTERED,
    FROM_NEARBY,
    FROM_YEARS,
    OBSERVED,
    TemporalOptions,
    glacier_years,
    tile_series,
)

RES = 20.0
PX = RES**2 / 1e6
YEARS = [2021, 2022, 2023]


def _stack(n: int = 3, size: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 20 × 20 px glacier (label 1) retreating by two columns a year from its east side."""
    classes = np.zeros((n, size, size), np.uint8)
    labels = np.zeros((n, size, size), np.int32)
    for i in range(n):
        classes[i, 10:30, 10:30 - 2 * i] = 1
        labels[i] = np.where(classes[i] == 1, 1, 0)
    prob = np.where(classes == 1, 97, 2).astype(np.uint8)
    return classes, prob, labels


def test_a_cloud_gap_is_filled_from_the_neighbouring_years_not_read_as_retreat() -> None:
    classes, prob, labels = _stack()
    truth = [float((classes[i] == 1).sum()) * PX for i in range(3)]
    classes[1, 10:20, :] = 255  # clouds over the northern half of the glacier in 2022
    prob[1, 10:20, :] = 255
    labels[1, 10:20, :] = 0
    series = tile_series(YEARS, classes, prob, labels, RES)
    got = glacier_years(series, classes, 1, RES)
    g = got[1][0]
    assert g.observed_area_km2 == pytest.approx(truth[1] / 2)  # what the clouds left
    # columns 26-29 were ice in 2021 and rock in 2023: half ice each in 2022 (linear in time), which is
    # exactly the two columns the glacier lost by 2022
    assert g.area_km2 == pytest.approx(truth[1])
    assert g.filled_km2 == pytest.approx(g.area_km2 - g.observed_area_km2)
    assert series.source[1, 15, 15] == FROM_YEARS and series.source[1, 25, 15] == OBSERVED
    assert series.var[1, 15, 27] == pytest.approx(0.25)  # changed between the years around the gap: unknown
    assert [got[i][0].area_km2 for i in (0, 2)] == pytest.approx([truth[0], truth[2]])  # observed years untouched


def test_a_gap_year_persists_the_one_side_there_is_with_growing_variance() -> None:
    classes, prob, labels = _stack()
    classes[2], prob[2], labels[2] = 255, 255, 0  # the last year not seen at all
    series = tile_series(YEARS, classes, prob, labels, RES, TemporalOptions(persist_var_per_year=0.05))
    g = glacier_years(series, classes, 1, RES)[2][0]
    assert g.observed_area_km2 == 0.0
    assert g.area_km2 == pytest.approx(float((classes[1] == 1).sum()) * PX)  # 2022 carried over, no retreat
    assert series.var[2, 15, 15] == pytest.approx(0.05)


def test_the_filter_restores_ice_read_as_rock_between_two_years_of_ice() -> None:
    classes, prob, labels = _stack()
    classes[1, 12:16, 12:16] = 0  # a snow patch read as rock in 2022, weakly
    prob[1, 12:16, 12:16] = 30
    labels[1, 12:16, 12:16] = 0
    classes[1, 20:22, 12:14] = 0  # ... and a confident rock reading, which stands
    prob[1, 20:22, 12:14] = 1
    labels[1, 20:22, 12:14] = 0
    series = tile_series(YEARS, classes, prob, labels, RES)
    g = glacier_years(series, classes, 1, RES)[1][0]
    assert series.source[1, 13, 13] == FILTERED and series.ice[1, 13, 13] == 1.0
    assert series.ice[1, 21, 13] == 0.0
    assert g.filtered_km2 == pytest.approx(16 * PX)
    off = tile_series(YEARS, classes, prob, labels, RES, TemporalOptions(filter=False))
    assert glacier_years(off, classes, 1, RES)[1][0].filtered_km2 == 0.0


def test_retreat_is_kept_by_the_filter() -> None:
    classes, prob, labels = _stack()
    series = tile_series(YEARS, classes, prob, labels, RES)
    areas = [glacier_years(series, classes, 1, RES)[i][0].area_km2 for i in range(3)]
    assert areas == pytest.approx([400 * PX, 360 * PX, 320 * PX])
    assert not (series.source == FILTERED).any()


def test_pixels_never_observed_take_their_nearest_observed_pixel_with_full_variance() -> None:
    classes, prob, labels = _stack()
    classes[:, 18:22, 18:22] = 255  # a hole no year saw
    prob[:, 18:22, 18:22] = 255
    labels[:, 18:22, 18:22] = 0
    series = tile_series(YEARS, classes, prob, labels, RES)
    g = glacier_years(series, classes, 1, RES)[0][0]
    assert series.source[0, 20, 20] == FROM_NEARBY and series.var[0, 20, 20] == pytest.approx(0.25)
    assert g.filled_nearby_km2 == pytest.approx(16 * PX) and g.area_km2 == pytest.approx(400 * PX)


def test_unattributed_ice_stays_unattributed_and_the_boundary_excludes_tile_cuts() -> None:
    classes, _, labels = _stack(1)
    classes[0, 0:3, 35:40] = 1  # a snow field no glacier owns (the reducer left it unattributed)
    classes[0, 10:30, 0:10] = 1  # the glacier reaches the tile's west edge
    labels[0] = np.where(classes[0, :, :] == 1, 1, 0)
    labels[0, 0:3, 35:40] = 0
    series = tile_series([2021], classes, np.where(classes == 1, 99, 1).astype(np.uint8), labels, RES)
    g = glacier_years(series, classes, 1, RES)[0][0]
    assert g.area_km2 == pytest.approx(20 * 30 * PX)
    assert g.perimeter_km == pytest.approx((30 + 20 + 30) * RES / 1000)  # the cut at the tile edge is no boundary


def test_years_must_ascend() -> None:
    classes, prob, labels = _stack()
    with pytest.raises(ValueError, match="ascending"):
        tile_series([2023, 2021, 2022], classes, prob, labels, RES)
