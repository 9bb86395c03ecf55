"""Fixtures for planning tests: the real inventories in ../shared/data/real and a coverage check."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from glacierscale.inventory.units import WorkUnit

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"  # /work/main/tests/inventory -> /work/shared

UncoveredPoints = Callable[[shapely.Geometry, Iterable[WorkUnit]], np.ndarray]


@pytest.fixture(scope="session")
def real() -> Path:
    """The shared real-data folder; tests that need it skip when it is absent."""
    if not REAL.is_dir():
        pytest.skip(f"real inventories not available: {REAL} is missing (../shared/data/real beside the repository)")
    return REAL


def sample_points(lonlat: shapely.Geometry, step_deg: float = 0.0005, grid: int = 25) -> np.ndarray:
    """Return points of an outline: its densified boundary vertices and a grid of interior points."""
    boundary = shapely.get_coordinates(shapely.segmentize(lonlat, step_deg))
    minx, miny, maxx, maxy = lonlat.bounds
    gx, gy = np.meshgrid(np.linspace(minx, maxx, grid), np.linspace(miny, maxy, grid))
    inside = shapely.contains_xy(lonlat, gx.ravel(), gy.ravel())
    return np.vstack([boundary, np.column_stack([gx.ravel()[inside], gy.ravel()[inside]])])


@pytest.fixture
def uncovered_points() -> UncoveredPoints:
    """Return a function: the sampled points of a lon/lat outline that lie in none of the units' core tiles."""

    def check(lonlat: shapely.Geometry, units: Iterable[WorkUnit]) -> np.ndarray:
        pts = sample_points(lonlat)
        covered = np.zeros(len(pts), dtype=bool)
        for u in units:
            x, y = _transformer(u.epsg).transform(pts[:, 0], pts[:, 1])
            minx, miny, maxx, maxy = u.bounds
            eps = 1e-6
            covered |= (x >= minx - eps) & (x <= maxx + eps) & (y >= miny - eps) & (y <= maxy + eps)
        return pts[~covered]

    return check


@functools.cache
def _transformer(epsg: int) -> Transformer:
    return Transformer.from_crs(4326, epsg, always_xy=True)


def _to_unit_crs(lonlat: shapely.Geometry, unit: WorkUnit) -> shapely.Geometry:
    tf = _transformer(unit.epsg)
    return shapely.transform(lonlat, lambda xy: np.column_stack(tf.transform(xy[:, 0], xy[:, 1])))


@pytest.fixture
def in_unit_crs() -> Callable[[shapely.Geometry, WorkUnit], shapely.Geometry]:
    """Return a function: a lon/lat (possibly unwrapped) outline in a unit's CRS."""
    return _to_unit_crs
