"""The unvegetated forefield around glaciers (RegionSpec.forefield_m): bare rock at tongue level that is not ice."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from glacierscale.simulate.physics import Surface
from glacierscale.simulate.region import RegionSpec, build_region
from glacierscale.simulate.surfaces import forefield, paint_full

SPEC = RegionSpec(size_px=384, years=(2022,), seed=911, physics="full", ela_m=3000.0)
VEG = (Surface.SPARSE_VEG, Surface.DENSE_VEG)


def _paint(forefield_m: float) -> tuple[np.ndarray, np.ndarray, object]:
    from dataclasses import replace

    region = build_region(replace(SPEC, forefield_m=forefield_m))
    return paint_full(region, 2022, snowline_m=3000.0, fresh=False), region.masks[2022][0], region


def test_the_ground_around_glaciers_is_bare_rock_out_to_the_forefield_distance() -> None:
    before, glacier, _ = _paint(0.0)
    after, _, region = _paint(600.0)
    dist = ndimage.distance_transform_edt(~glacier) * 10.0  # metres from the nearest glacier pixel (10 m grid)
    near, far = (dist > 0) & (dist <= 450), dist > 750  # inside the 0.75-1.25 × 600 m reach, beyond it
    assert np.isin(before[near], VEG).mean() > 0.03  # below the grass line (ELA − 500 m) the valleys are vegetated
    assert not np.isin(after[near], VEG).any()  # ... and bare with a forefield
    assert (after[near & np.isin(before, VEG)] == Surface.ROCK).all()
    assert (after[far] == before[far]).all()  # farther out nothing changes
    assert (after[glacier] == before[glacier]).all()  # the glaciers themselves neither
    bare = forefield(region)
    assert bare is not None and not (bare & glacier).any()


def test_no_forefield_by_default_and_the_truth_is_untouched() -> None:
    assert RegionSpec().forefield_m == 0.0
    _, _, r0 = _paint(0.0)
    _, _, r1 = _paint(600.0)
    assert forefield(r0) is None
    assert (r0.truth_classes(2022) == r1.truth_classes(2022)).all()  # bare ground is background in both
