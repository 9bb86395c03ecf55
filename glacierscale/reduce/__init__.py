"""Reduce stage: clean-up, attribution of pixels to inventory glaciers, per-glacier area series."""

from glacierscale.reduce.areas import UnitAreas, attribution_map, clean_classes, unit_areas

__all__ = ["UnitAreas", "attribution_map", "clean_classes", "unit_areas"]
