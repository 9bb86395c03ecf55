"""Physically plausible multi-sensor glacier scenes for the demo, tests, training and benchmarks."""

from glacierscale.simulate.region import Region, RegionSpec, build_region
from glacierscale.simulate.scene import SceneSet, simulate

__all__ = ["Region", "RegionSpec", "SceneSet", "build_region", "simulate"]
