"""Class codes of every mapped raster (no torch): the model, the reducer and the archive share them."""

from __future__ import annotations

CLASSES = ("background", "clean_ice", "debris_ice")
BACKGROUND, CLEAN_ICE, DEBRIS_ICE = 0, 1, 2
GLACIER_CLASSES = (CLEAN_ICE, DEBRIS_ICE)
NODATA_CLASS = 255  # also the fill value of archived class and probability rasters
CLASS_LEGEND = {"0": "background", "1": "clean ice", "2": "debris-covered ice", "255": "nodata"}
