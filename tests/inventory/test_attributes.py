"""Per-glacier attributes the archive keeps: the terminus type from RGI codes or from a named column."""

from __future__ import annotations

import geopandas as gpd
from shapely.geometry import box

from glacierscale.inventory.attributes import glacier_attributes


def _inventory(**columns: list[object]) -> gpd.GeoDataFrame:
    geoms = [box(10.0 + k * 0.01, 46.0, 10.005 + k * 0.01, 46.005) for k in range(3)]
    return gpd.GeoDataFrame({"glacier_id": ["A", "B", "C"], **columns}, geometry=geoms, crs="EPSG:4326")


def test_terminus_type_from_rgi_codes_and_from_words() -> None:
    # RGI 6 TermType codes: 0 land, 1 marine, 2 lake
    coded = glacier_attributes(_inventory(TermType=[0, 1, 2]))
    assert coded["terminus_type"].tolist() == ["land", "marine", "lake"]
    # a simulate inventory (and GLIMS-like files) say it in words: the calving-front export needs it
    named = glacier_attributes(_inventory(terminus_type=["land", "lake", "marine"]))
    assert named["terminus_type"].tolist() == ["land", "lake", "marine"]
    assert glacier_attributes(_inventory())["terminus_type"].tolist() == ["", "", ""]
