"""Reduce stage: clean-up, attribution of pixels to inventory glaciers, per-glacier areas, series and fronts."""

from glacierscale.reduce.areas import UnitAreas, attribution_map, clean_classes, unit_areas
from glacierscale.reduce.cleanup import CleanupOptions, clean
from glacierscale.reduce.fronts import Front, box_positions, front_line, retreat
from glacierscale.reduce.temporal import GlacierYear, TemporalOptions, TileSeries, glacier_years, tile_series

__all__ = ["CleanupOptions", "Front", "GlacierYear", "TemporalOptions", "TileSeries", "UnitAreas", "attribution_map",
           "box_positions", "clean", "clean_classes", "front_line", "glacier_years", "retreat", "tile_series",
           "unit_areas"]
