"""A global run's first needs of the simulator: southern-summer dates, and RGI 6 mosaics read as one inventory."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from sim_helpers import REAL, need_real, read_items

from glacierscale.config import SeasonConfig
from glacierscale.simulate import RegionSpec, simulate
from glacierscale.simulate.inputs import load_outlines
from glacierscale.simulate.scene import acquisition_dates


def _in_window(when: datetime, start: str, end: str) -> bool:
    md = when.strftime("%m-%d")
    return start <= md <= end


@pytest.mark.parametrize(("lat", "window"), [(46.8, ("08-01", "09-25")), (-49.3, ("02-01", "03-28"))])
def test_default_dates_fall_in_the_hemispheres_late_summer(lat: float, window: tuple[str, str]) -> None:
    dates = acquisition_dates(2017, 12, np.random.default_rng(0), 10.5, lat=lat)
    assert len(dates) == 12
    assert all(_in_window(d, *window) for d in dates), dates


def test_a_southern_region_has_scenes_inside_the_runs_southern_season(tmp_path: Path) -> None:
    # issue 16: a region south of the equator used to get 1 Aug - 25 Sep dates (austral winter), which the run's
    # southern season window never selects ("no sentinel-2-l2a scene ... between 2017-01-15 and 2017-03-31")
    spec = RegionSpec(size_px=192, years=(2017,), seed=9, center_lon=-73.5, center_lat=-49.3, name="south")
    scenes = simulate(spec, tmp_path / "south", sensors=("s2", "s1", "dem"), progress=False)
    season = SeasonConfig()
    for collection, count in (("sentinel-2-l2a", spec.s2_per_year), ("sentinel-1-rtc", spec.s1_per_year)):
        items = read_items(scenes.root, collection)
        assert len(items) == count
        when = [datetime.fromisoformat(i["properties"]["datetime"].replace("Z", "+00:00")) for i in items]
        assert all(_in_window(w, season.south_start, season.south_end) for w in when), (collection, when)


def _glacier(x: float) -> shapely.Polygon:
    return shapely.box(10.70 + x, 46.80, 10.71 + x, 46.81)


def test_an_inventory_with_per_glacier_dates_is_one_inventory_not_a_series(tmp_path: Path) -> None:
    # every RGI 6 region mixes source dates; the file is one inventory, whatever --years the user asks for
    rgi6 = gpd.GeoDataFrame({"RGIId": ["RGI60-11.00001", "RGI60-11.00002", "RGI60-11.00003"],
                             "BgnDate": ["20000801", "20010915", "-9999999"]},
                            geometry=[_glacier(0), _glacier(0.02), _glacier(0.04)], crs="EPSG:4326")
    path = tmp_path / "rgi6.gpkg"
    rgi6.to_file(path)
    source = load_outlines([str(path)], (2016, 2017))
    assert not source.replay
    assert len(source.by_year) == 1
    assert len(next(iter(source.by_year.values()))) == 3


def test_a_file_with_one_glacier_at_several_dates_is_replayed(tmp_path: Path) -> None:
    glims = gpd.GeoDataFrame({"glac_id": ["G1", "G1", "G2"], "src_date": ["2003-09-01", "2016-09-01", "2016-09-01"]},
                             geometry=[_glacier(0), _glacier(0).buffer(-0.001), _glacier(0.02)], crs="EPSG:4326")
    path = tmp_path / "glims.gpkg"
    glims.to_file(path)
    source = load_outlines([str(path)], ())
    assert source.replay
    assert sorted(source.by_year) == [2003, 2016]


def test_the_real_rgi6_everest_file_simulates_for_years_it_does_not_hold(tmp_path: Path) -> None:
    need_real()
    rgi6 = REAL / "geoutils-data-everest" / "15_rgi60_glacier_outlines.gpkg"
    source = load_outlines([str(rgi6)], (2016, 2017))
    assert not source.replay
    assert len(next(iter(source.by_year.values()))) == len(gpd.read_file(rgi6))
