"""Where training patches are centred: debris, clean ice and ground far from every glacier."""

from __future__ import annotations

import numpy as np

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
    assert [c for c, _ in CENTRES] == [2, 1, 0] and 0.5 < sum(s for _, s in CENTRES) < 1.0
