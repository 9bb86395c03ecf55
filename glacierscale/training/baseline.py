"""The band-ratio baseline a glacier model must beat: red / SWIR1 above a threshold is glacier.

The classic optical glacier mapping (Paul et al. 2002; Paul et al. 2013, the GLIMS/RGI method) thresholds the
TM3/TM5 (Sentinel-2 B04/B11) ratio, usually near 2 and tuned per scene by an analyst. For a fair comparison the
threshold is tuned per region on the same pixels the model is scored on, by a grid search as DL4GAM does
(Diaconu et al.): the tuned figure is an upper bound of what the ratio gets, since the threshold sees the truth.
The ratio has no debris class: it is scored on glacier (clean + debris) only.
"""

from __future__ import annotations

import numpy as np

from glacierscale.classes import NODATA_CLASS, is_glacier

__all__ = ["THRESHOLDS", "RatioBaseline"]
# the grid searched for the tuned threshold: 1 to 64, 8 steps per doubling (snow's ratio is 20-60, clean ice's
# 10-30, rock's below 1.5: a scene with seasonal snow left off the glaciers needs a threshold far above 2)
THRESHOLDS = np.round(np.geomspace(1.0, 64.0, 49), 3)
CLASSIC = 2.0  # the usual fixed threshold


class RatioBaseline:
    """Accumulate glacier intersections and unions of ``B04 / B11 > t`` for every threshold of the grid."""

    def __init__(self, thresholds: np.ndarray = THRESHOLDS) -> None:
        self.thresholds = np.asarray(thresholds, dtype=np.float64)
        self.inter = np.zeros(len(self.thresholds), dtype=np.int64)
        self.union = np.zeros(len(self.thresholds), dtype=np.int64)

    def add(self, red: np.ndarray, swir1: np.ndarray, truth: np.ndarray, valid: np.ndarray) -> None:
        """Add one scene: reflectances ``red`` (B04) and ``swir1`` (B11), class labels, the pixels scored."""
        ok = valid & (truth != NODATA_CLASS) & np.isfinite(red) & np.isfinite(swir1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(swir1[ok] > 0, red[ok] / swir1[ok], np.inf)  # SWIR1 of 0: snow, ice, glacier
        ice = is_glacier(truth[ok])
        for k, t in enumerate(self.thresholds):
            pred = ratio > t
            self.inter[k] += int(np.logical_and(pred, ice).sum())
            self.union[k] += int(np.logical_or(pred, ice).sum())

    def iou(self) -> np.ndarray:
        return np.where(self.union > 0, self.inter / np.maximum(self.union, 1), np.nan)

    def result(self) -> dict[str, float]:
        """Return the tuned threshold, its glacier IoU, and the glacier IoU at the classic threshold 2."""
        iou = self.iou()
        if not np.isfinite(iou).any():
            return {"threshold": float("nan"), "glacier": float("nan"), "glacier_at_2": float("nan")}
        best = int(np.nanargmax(iou))
        classic = int(np.argmin(np.abs(self.thresholds - CLASSIC)))
        return {"threshold": float(self.thresholds[best]), "glacier": float(iou[best]),
                "glacier_at_2": float(iou[classic])}
