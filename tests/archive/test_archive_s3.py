"""The change archive on s3:// (icechunk's own S3 client) against a real moto server on loopback."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from s3_server import moto_s3

from glacierscale.archive import areas_dataset, commit_run, open_archive, unit_dataset
from glacierscale.cube.store import unit_coords
from glacierscale.inventory.units import WorkUnit

UNIT = WorkUnit("32632_20m_32_2_20", 32632, 2, 20, 20.0, 32, ("G1",))


def test_commit_and_query_on_s3() -> None:
    x, y = unit_coords(UNIT)
    ds = unit_dataset(UNIT, [2023], [np.ones((32, 32), np.uint8)], [np.full((32, 32), 80, np.uint8)], x, y)
    table = areas_dataset({"G1": {2023: 0.41}}, {"G1": {2023: 0.05}}, {"G1": (10.8, 46.8)})
    with moto_s3("archive"):
        snap = commit_run("s3://archive/alps", {UNIT.unit_id: ds}, table, "s3 run")
        a = open_archive("s3://archive/alps")
        assert a.history()[0]["id"] == snap
        assert list(a.glacier("G1")["area_km2"]) == pytest.approx([0.41])
        assert int(a.unit(UNIT.unit_id)["classes"].sel(year=2023).sum()) == 32 * 32
