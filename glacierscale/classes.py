"""Class codes of every mapped raster (no torch): the model, the reducer and the archive share them.

Checkpoints trained before the water class map three classes (0-2); their rasters simply never hold 3.
"""

from __future__ import annotations

import numpy as np

CLASSES = ("background", "clean_ice", "debris_ice", "water")
BACKGROUND, CLEAN_ICE, DEBRIS_ICE, WATER = 0, 1, 2, 3
GLACIER_CLASSES = (CLEAN_ICE, DEBRIS_ICE)
NODATA_CLASS = 255  # also the fill value of archived class and probability rasters
CLASS_LEGEND = {"0": "background", "1": "clean ice", "2": "debris-covered ice",
                "3": "water (lakes, sea, ice mélange)", "255": "nodata"}


def is_glacier(classes: np.ndarray) -> np.ndarray:
    """Return where a class raster (or label array) is glacier: clean or debris-covered ice."""
    return np.isin(classes, GLACIER_CLASSES)


def glacier_probability(probs: np.ndarray, axis: int = 0) -> np.ndarray:
    """Return p(clean ice) + p(debris-covered ice) from class probabilities (classes along ``axis``)."""
    return np.asarray(np.take(probs, list(GLACIER_CLASSES), axis=axis).sum(axis=axis))
