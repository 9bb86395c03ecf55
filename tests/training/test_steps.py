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
