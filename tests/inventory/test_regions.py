"""RGI region codes and the selection of glaciers: by region, ids, bbox, area; clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from glacierscale.errors import ConfigError
from glacierscale.inventory.grid import to_lonlat
from glacierscale.inventory.readers import read_outlines
from glacierscale.inventory.regions import Selection, normalise_region_code, parse_region_codes, select_glaciers


@pytest.mark.parametrize(("code", "norm"), [("1", "01"), ("01", "01"), ("11-1", "11-01"), ("19-24", "19-24"),
                                            ("5-11", "05-11"), (" 15-02 ", "15-02")])
def test_codes_are_normalised(code: str, norm: str) -> None:
    assert normalise_region_code(code) == norm


@pytest.mark.parametrize(("code", "message"), [
    ("23", "unknown RGI region code '23': first-order regions are 01-19"),
    ("11-07", "unknown RGI region code '11-07': region 11 (Central Europe) has second-order regions 11-01, 11-02"),
    ("alps", "unknown RGI region code 'alps': use a first-order code 01-19 or a second-order code like 11-01"),
    ("0", "unknown RGI region code '0'"),
])
def test_unknown_codes(code: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        normalise_region_code(code)


def test_code_lists() -> None:
    assert parse_region_codes("01, 11,11-01,1") == ("01", "11", "11-01")
    assert parse_region_codes(None) == () and parse_region_codes("") == ()
    assert parse_region_codes(["6", "15-2"]) == ("06", "15-02")


@pytest.fixture(scope="module")
def world(real: Path) -> gpd.GeoDataFrame:
    """Iceland (06), Everest (15-02), the HEF complex (11-01) and the Swiss inventory (no RGI regions)."""
    parts = [read_outlines(real / p) for p in ("oggm-sample-data/iceland/RGI6_icecap.shp",
                                               "geoutils-data-everest/15_rgi60_glacier_outlines.gpkg",
                                               "oggm-sample-data/hintereisferner/rgi7/rgi7g_hef_complex.shp")]
    return to_lonlat(gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=4326))


@pytest.mark.parametrize(("regions", "count"), [("06", 61), ("15", 86), ("11-01", 23), ("06,15-02", 147),
                                                ("15-01", 0), ("13", 0)])
def test_select_by_region(world: gpd.GeoDataFrame, regions: str, count: int) -> None:
    sel = Selection(regions=parse_region_codes(regions))
    if count:
        assert len(select_glaciers(world, sel)) == count
    else:
        with pytest.raises(ConfigError, match=re.escape(f"the selection (regions {regions}) leaves no glacier of the "
                                                        f"inventory (regions {regions} matched 0); 170 outlines were read")):
            select_glaciers(world, sel)


def test_select_by_ids_bbox_and_area(world: gpd.GeoDataFrame) -> None:
    assert select_glaciers(world, Selection(ids=("RGI60-15.03410",)))["glacier_id"].tolist() == ["RGI60-15.03410"]
    everest = select_glaciers(world, Selection(bbox=(86.85, 27.95, 86.95, 28.05)))
    assert 0 < len(everest) < 86 and set(everest["o1region"]) == {"15"}
    big = select_glaciers(world, Selection(min_area_km2=50.0))
    assert (big["outline_km2"] >= 50).all() and len(big) == 6
    both = select_glaciers(world, Selection(regions=("06",), min_area_km2=50.0))
    assert len(both) == 4 and set(both["o1region"]) == {"06"}
    with pytest.raises(ConfigError, match=re.escape("2 of 3 requested glacier ids are not in the inventory: "
                                                    "RGI60-11.99999, nope")):
        select_glaciers(world, Selection(ids=("RGI60-15.03410", "RGI60-11.99999", "nope")))


def test_bbox_across_the_antimeridian() -> None:
    chukotka = box(179.9, 65.6, 180.2, 65.7)  # unwrapped lon/lat, as to_lonlat gives it
    alps = box(10.7, 46.7, 10.8, 46.8)
    inv = to_lonlat(gpd.GeoDataFrame({"glacier_id": ["chukotka", "alps"]}, geometry=[chukotka, alps], crs=4326))
    assert select_glaciers(inv, Selection(bbox=(179.0, 65.0, -179.0, 66.0)))["glacier_id"].tolist() == ["chukotka"]
    assert select_glaciers(inv, Selection(bbox=(-179.95, 65.0, -179.0, 66.0)))["glacier_id"].tolist() == ["chukotka"]
    with pytest.raises(ConfigError, match="must be W,S,E,N in degrees with S < N"):
        select_glaciers(inv, Selection(bbox=(10.0, 47.0, 11.0, 46.0)))


def test_regions_need_a_region_attribute(real: Path) -> None:
    sgi = to_lonlat(read_outlines(real / "glamos-sgi/sgi2010/SGI_2010.shp"))
    with pytest.raises(ConfigError, match=re.escape("carries no RGI region attribute (o1region, O1Region, gtng_o1reg "
                                                    "or RGI ids), so --regions 11 cannot be applied: select with "
                                                    "--bbox or --ids")):
        select_glaciers(sgi, Selection(regions=("11",)), source="inventory SGI_2010.shp")
