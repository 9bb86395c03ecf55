"""Synthetic run products for archive tests: square glaciers on 64-px tiles of UTM 32N."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from glacierscale.archive.staging import GlacierPart, RunPlan, UnitProduct
from glacierscale.inventory.units import WorkUnit, unit_id

RES, SIZE = 20.0, 64


def unit(col: int, row: int, glaciers: tuple[str, ...]) -> WorkUnit:
    return WorkUnit(unit_id(32632, RES, SIZE, col, row), 32632, col, row, RES, SIZE, glaciers)


def product(u: WorkUnit, year: int, *, ice_px: int = 20, status: str = "done", model: str = "m1",
            inputs: str | None = None) -> UnitProduct:
    """Return a product with one square glacier of ``ice_px``² pixels per glacier id (side by side)."""
    if status == "gap":
        return UnitProduct(u, year, "gap", inputs or f"in-{u.unit_id}-{year}", model, reason="clouds")
    classes = np.zeros((SIZE, SIZE), np.uint8)
    prob = np.full((SIZE, SIZE), 5, np.uint8)
    parts = []
    minx, _, _, maxy = u.bounds
    for k, gid in enumerate(u.glacier_ids):
        r0, c0 = 2, 2 + k * (ice_px + 2)
        classes[r0:r0 + ice_px, c0:c0 + ice_px] = 1
        classes[r0, c0:c0 + ice_px] = 2  # a debris row
        prob[r0:r0 + ice_px, c0:c0 + ice_px] = 90
        poly = shapely.box(minx + c0 * RES, maxy - (r0 + ice_px) * RES, minx + (c0 + ice_px) * RES, maxy - r0 * RES)
        area = ice_px * ice_px * RES * RES / 1e6
        parts.append(GlacierPart(gid, area, ice_px * RES * RES / 1e6, area * 1.2, area * 1.2,
                                 perimeter_km=4 * ice_px * RES / 1000, soft_area_km2=area * 0.9,
                                 outline_wkb=shapely.to_wkb(poly)))
    return UnitProduct(u, year, "done", inputs or f"in-{u.unit_id}-{year}", model, classes, prob, tuple(parts),
                       unattributed_km2=0.01, nodata_share=0.0, sensors=("s2", "s1"),
                       scenes={"s2": [f"S2_{u.unit_id}_{year}"]})


def plan(run_id: str, units: list[WorkUnit], years: list[int]) -> RunPlan:
    ids = sorted({g for u in units for g in u.glacier_ids})
    glaciers = pd.DataFrame({"glacier_id": ids, "rgi_id": [f"RGI2000-v7.0-G-11-{g}" for g in ids],
                             "glims_id": [f"G{k:06d}" for k in range(len(ids))],
                             "lon": [u.bbox_wgs84()[0] + 0.01 for g in ids for u in units if g in u.glacier_ids][:len(ids)],
                             "lat": [u.bbox_wgs84()[1] + 0.01 for g in ids for u in units if g in u.glacier_ids][:len(ids)],
                             "region": "11", "terminus_type": "land"})
    return RunPlan(run_id, units, years, glaciers, config={"years": years}, checkpoint_hash="ck1", code_version="test")
