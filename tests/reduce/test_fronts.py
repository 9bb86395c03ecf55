"""Calving fronts on the default `simulate` region's lake-terminating glacier: line, box-method retreat."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine

from glacierscale.cli import main
from glacierscale.reduce.fronts import box_positions, front_line, mean_distance, retreat

YEARS = [2021, 2022, 2023]
CLEAR = (4, 5, 6, 7, 11)  # SCL classes seen without cloud, shadow or defect


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fronts") / "S"
    assert main(["simulate", "--out", str(out), "--quiet"]) == 0
    return out


def _water(sim: Path, year: int) -> tuple[np.ndarray, Affine]:
    """Return water where most clear Sentinel-2 views of the year see SCL class 6 (20 m grid), and its transform."""
    import rasterio

    items = [json.loads(line) for line in (sim / "sentinel-2-l2a" / "items.ndjson").read_text().splitlines() if line]
    water = clear = None
    for it in items:
        if not it["properties"]["datetime"].startswith(str(year)):
            continue
        with rasterio.open(it["assets"]["scl"]["href"]) as src:
            scl, transform = src.read(1), src.transform
        water = (scl == 6).astype(int) + (0 if water is None else water)
        clear = np.isin(scl, CLEAR).astype(int) + (0 if clear is None else clear)
    assert water is not None and clear is not None
    return (water * 2 > clear) & (clear > 0), transform


def test_the_front_is_within_two_pixels_of_the_true_one_and_retreats_every_year(region: Path) -> None:
    from rasterio import features

    truth = gpd.read_file(region / "truth" / "truth_outlines.gpkg")
    lake = truth[truth["terminus_type"] == "lake"]
    gid = lake["glacier_id"].iloc[0]
    fronts_true = gpd.read_file(region / "truth" / "truth_calving_fronts.gpkg").to_crs(32632)
    ice, fronts = [], []
    seen = {year: _water(region, year) for year in YEARS}
    for year in YEARS:
        # clouds hide much of the lake in any one year: a lake only grows as its glacier retreats, so water seen
        # in any year counts where this year's ice is not (the gap filling of the areas, for water)
        water = np.logical_or.reduce([w for w, _ in seen.values()])
        transform = seen[year][1]
        outline = lake[lake["year"] == year].to_crs(32632).geometry.iloc[0]
        mask = features.rasterize([(outline, 1)], out_shape=water.shape, transform=transform).astype(bool)
        front = front_line(mask, water & ~mask, transform)
        true = fronts_true[(fronts_true["glacier_id"] == gid) & (fronts_true["year"] == year)].geometry.iloc[0]
        assert front.length_m > 0
        assert mean_distance(front.line, true, step=5.0) <= 2 * 20.0, year
        ice.append(mask)
        fronts.append(front)
    positions = box_positions(np.stack(ice), fronts, 20.0)
    moved, sigma = retreat(positions, 20.0)
    assert (moved > 0).all()  # the simulated glacier retreats every year
    assert sigma == pytest.approx(np.sqrt(2) * 10.0)


def test_ice_that_touches_no_water_has_no_front() -> None:
    ice = np.zeros((20, 20), bool)
    ice[5:10, 5:10] = True
    water = np.zeros((20, 20), bool)
    water[15:18, 15:18] = True  # a pond far from the ice
    assert front_line(ice, water, Affine(20, 0, 0, 0, -20, 400)).line.is_empty


def test_the_front_faces_the_largest_water_body() -> None:
    ice = np.zeros((20, 20), bool)
    ice[2:18, 2:10] = True
    water = np.zeros((20, 20), bool)
    water[2:18, 10:20] = True  # the lake east of the ice
    water[0, 4:6] = True  # a pond at the northern edge
    front = front_line(ice, water, Affine(20, 0, 0, 0, -20, 400))
    assert front.length_m == pytest.approx(16 * 20.0)
    assert shapely.get_coordinates(front.line)[:, 0].tolist() == [200.0] * len(shapely.get_coordinates(front.line))


def test_mixed_pixels_between_ice_and_lake_do_not_cut_the_front() -> None:
    """A classifier may call the mixed pixels on the ice/water boundary neither: a one-pixel background rim
    along 6 of the 16 rows still belongs to the front (the demo's lake front lost 9 such pixels in one year),
    while ground beside the ice at a corner of the lake does not."""
    ice = np.zeros((20, 20), bool)
    ice[2:18, 2:10] = True
    water = np.zeros((20, 20), bool)
    water[2:18, 10:20] = True
    water[6:12, 10] = False  # read as background between the ice and the lake
    transform = Affine(20, 0, 0, 0, -20, 400)
    assert front_line(ice, water, transform).length_m == pytest.approx(16 * 20.0)
    assert front_line(ice, water, transform, bridge=False).length_m == pytest.approx(10 * 20.0)
    wide = np.zeros((20, 20), bool)
    wide[10:20, 0:20] = True  # a lake wider than the tongue, south of it: the ground at its sides is no front
    tongue = np.zeros((20, 20), bool)
    tongue[0:10, 5:9] = True
    assert front_line(tongue, wide, transform).length_m == pytest.approx(4 * 20.0)
    far = np.zeros((20, 20), bool)
    far[2:18, 12:20] = True  # two pixels of ground between the ice and the lake: no front
    assert front_line(ice, far, transform).line.is_empty
