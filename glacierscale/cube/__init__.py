"""Cube stage: stackstac assembly, harmonisation, compositing and the Zarr v3 cube store."""

from glacierscale.cube.assemble import YearComposite, build_year, cube_bands
from glacierscale.cube.store import complete_for, open_unit, to_dataset, write_unit

__all__ = ["YearComposite", "build_year", "complete_for", "cube_bands", "open_unit", "to_dataset", "write_unit"]
