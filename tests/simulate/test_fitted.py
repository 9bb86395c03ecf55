"""Terrain fitted to outlines: glacier heads climb their headwalls; ice caps do not; RGI forms are read."""

from __future__ import annotations

import numpy as np
from sim_helpers import REAL, need_real

from glacierscale.simulate.fitted import fit_terrain
from glacierscale.simulate.inputs import load_outlines
from glacierscale.simulate.terrain import slope_aspect

RES = 20.0


def _valley_glacier() -> np.ndarray:
    """A 6 km long glacier (20 m pixels): a 2 km wide basin at the top narrowing to a 600 m tongue."""
    ids = np.zeros((200, 400), dtype=np.int32)
    for c in range(50, 350):
        half = int(50 - 35 * (c - 50) / 300)  # 1 km half-width at the head, 300 m at the terminus
        ids[100 - half:100 + half, c] = 1
    return ids


def _steep_shares(headwalls: list[bool] | None) -> tuple[float, float, float]:
    ids = _valley_glacier()
    z = fit_terrain(ids, [(2400.0, 3400.0)], 3000.0, RES, np.random.default_rng(0), headwalls=headwalls)
    slope = np.degrees(slope_aspect(z, RES)[0])
    ice = ids == 1
    head, tongue = ice.copy(), ice.copy()
    head[:, 125:] = False  # the upper quarter of the length
    tongue[:, :275] = False  # the lower quarter
    return float((slope[ice] >= 35).mean()), float((slope[head] >= 35).mean()), float((slope[tongue] >= 35).mean())


def test_glacier_head_climbs_a_steep_headwall_and_the_tongue_stays_gentle() -> None:
    whole, head, tongue = _steep_shares([True])
    flat_whole, flat_head, _ = _steep_shares([False])
    # real glaciers: 5-17 % of the ice on slopes >= 35 deg (docs/model.md); this one is large and simple
    assert 0.03 <= whole <= 0.25 and whole >= 4 * flat_whole
    assert head >= 0.08 and flat_head == 0.0  # the steep ice is at the head ...
    assert tongue <= 0.02  # ... not on the tongue


def test_without_headwalls_nothing_at_the_head_is_steep() -> None:
    assert _steep_shares(None) == _steep_shares([False])
    whole, head, _ = _steep_shares([False])
    assert whole <= 0.01 and head == 0.0


def test_rgi6_form_marks_ice_caps() -> None:
    need_real()
    path = REAL / "oggm-sample-data" / "iceland" / "RGI6_icecap.shp"
    frame = next(iter(load_outlines((str(path),), (2021,)).by_year.values()))
    assert int(frame["ice_cap"].sum()) == 36  # Form 1 in the file: 36 of its 61 outlines
    assert int((~frame["ice_cap"]).sum()) == 25


def test_outlines_without_a_form_column_are_glaciers() -> None:
    need_real()
    frame = next(iter(load_outlines((str(REAL / "oggm-sample-data" / "oetztal" / "rgi_oetztal.shp"),), (2021,))
                      .by_year.values()))
    assert not frame["ice_cap"].any()
