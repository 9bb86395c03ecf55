"""Helpers shared by the simulator tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"  # /work/main/tests/simulate -> /work/shared
OETZTAL_DEM = REAL / "oggm-sample-data" / "oetztal" / "srtm_oetztal.tif"
OETZTAL_RGI = REAL / "oggm-sample-data" / "oetztal" / "rgi_oetztal.shp"
HOCHALM = REAL / "glims-hochalmkees" / "glims_polygons.shp"


def need_real() -> None:
    """Skip the calling test when the shared real data are absent."""
    if not REAL.is_dir():
        pytest.skip(f"real glacier data not available: {REAL} is missing (../shared/data/real beside the repository)")


def read_items(root: Path, collection: str) -> list[dict[str, Any]]:
    """Return the STAC items of one collection of a scene set, in file order."""
    path = root / collection / "items.ndjson"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_band(href: str | Path, masked: bool = False) -> np.ndarray:
    """Return band 1 of a raster."""
    with rasterio.open(href) as src:
        return src.read(1, masked=masked)


@dataclass(frozen=True)
class CliRun:
    """A `glacierscale simulate` run in a subprocess: its output, wall time and peak memory."""

    out: Path
    seconds: float
    peak_mb: float
    scene_count: int
