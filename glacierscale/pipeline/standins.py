"""Stand-in stage functions: a fake catalog, tiny synthetic cubes and a 1×1 "model", with the real reducer.

``glacierscale bench pipeline`` drives them through the real driver, ledger, staging and archive commits, so
what it measures is the run's own overhead per item and the driver's memory, not imagery or the network.
Also used by tests that need many items quickly, and to inject failures (``fail_units``).
"""

from __future__ import annotations

import functools
import hashlib
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from glacierscale.catalog.tasks import SelectionRecord
from glacierscale.cube.years import CubeYear
from glacierscale.errors import CubeError
from glacierscale.infer.actors import TileResult
from glacierscale.inventory.units import WorkUnit

BANDS = ["B03", "B11"]


def fake_select(unit: WorkUnit, year: int, *, gap_units: frozenset[str] = frozenset()) -> SelectionRecord:
    """Return a selection of one fake scene per unit-year (a gap for ``gap_units``)."""
    t0 = time.perf_counter()
    ids = {"s2": [] if unit.unit_id in gap_units else [f"FAKE_{unit.unit_id}_{year}"]}
    h = hashlib.sha256(f"{unit.unit_id}/{year}/{ids}".encode()).hexdigest()
    gap = f"no optical scene sees unit {unit.unit_id} in {year}" if unit.unit_id in gap_units else ""
    return SelectionRecord(unit.unit_id, year, ids, h, "", gap, time.perf_counter() - t0)


def fake_cube(unit: WorkUnit, selection: SelectionRecord, *, fail_units: frozenset[str] = frozenset(),
              cloud_units: frozenset[str] = frozenset()) -> CubeYear:
    """Return a tiny cube: a bright square of "ice" in the tile centre (NaN where ``cloud_units`` are cloudy)."""
    t0 = time.perf_counter()
    if unit.unit_id in fail_units:
        raise CubeError(f"reading /fake/catalog/{unit.unit_id}/B03.tif failed: not a TIFF (corrupt)")
    n = unit.read_size_px
    data = np.zeros((2, n, n), dtype=np.float32)
    q = n // 4
    data[0, q:n - q, q:n - q] = 1.0
    if unit.unit_id in cloud_units:
        data[:, : n // 2] = np.nan
    return CubeYear(unit.unit_id, selection.year, data, BANDS, {"s2": False}, 1.0, True, time.perf_counter() - t0)


class ThresholdWorker:
    """A 1×1 "model": ice where the first band exceeds 0.5; NaN pixels are nodata."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s

    def predict_cube(self, cube: CubeYear) -> TileResult:
        t0 = time.perf_counter()
        if cube.data is None:
            return TileResult(cube.unit_id, cube.year, None, None, 0.0, cube.missing, cube.seconds, cube.built,
                              cube.reason)
        if self.delay_s:
            time.sleep(self.delay_s)
        b = cube.data[0]
        classes = np.where(b > 0.5, 1, 0).astype(np.uint8)
        prob = np.where(b > 0.5, 95, 5).astype(np.uint8)
        nodata = ~np.isfinite(b)
        classes[nodata], prob[nodata] = 255, 255
        return TileResult(cube.unit_id, cube.year, classes, prob, time.perf_counter() - t0, cube.missing,
                          cube.seconds, cube.built)

    def ping(self) -> bool:
        return True


@dataclass(frozen=True)
class StandinFactory:
    """A ``stages`` factory for ``run_pipeline`` built from the stand-ins (picklable)."""

    fail_units: frozenset[str] = frozenset()
    gap_units: frozenset[str] = frozenset()
    cloud_units: frozenset[str] = frozenset()
    delay_s: float = 0.0
    model_hash: str = "standin-threshold-1"

    def __call__(self, cfg: Any, url: str, provider: Any, checkpoint: str, run_id: str,
                 tiles_per_actor: int) -> tuple[Any, str]:
        from glacierscale.pipeline.stages import StageFunctions, _reduce_default

        select = functools.partial(fake_select, gap_units=self.gap_units)
        cube = functools.partial(fake_cube, fail_units=self.fail_units, cloud_units=self.cloud_units)
        reduce = functools.partial(_reduce_default, max_distance_m=0.0, min_object_km2=0.0)
        return StageFunctions(select, cube, reduce, ThresholdWorker, (self.delay_s,)), self.model_hash
