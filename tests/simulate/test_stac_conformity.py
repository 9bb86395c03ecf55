"""Simulated STAC items have the structure of the real Earth Search and Planetary Computer items."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sim_helpers import REAL, need_real, read_items

from glacierscale.simulate import RegionSpec, SceneSet, simulate

ITEMS = REAL / "stac-items"
BANDS_ES = ("blue", "green", "red", "nir", "swir16", "swir22")
BANDS_PC = ("B02", "B03", "B04", "B08", "B11", "B12")


def real_item(rel: str) -> dict[str, Any]:
    need_real()
    data = json.loads((ITEMS / rel).read_text())
    return data[0] if isinstance(data, list) else data


@pytest.fixture(scope="module")
def pc_scenes(tmp_path_factory: pytest.TempPathFactory) -> SceneSet:
    spec = RegionSpec(size_px=256, years=(2021, 2022), physics="full", s2_per_year=1, s1_per_year=1, landsat_per_year=1,
                      s2_naming="planetary-computer", seed=13, name="pc")
    return simulate(spec, tmp_path_factory.mktemp("pc"), sensors=("s2", "s1", "landsat", "dem"), progress=False)


def band_fields(asset: dict[str, Any]) -> dict[str, Any]:
    band = asset["raster:bands"][0]
    return {k: band.get(k) for k in ("nodata", "data_type", "scale", "offset", "unit")}


def test_earth_search_sentinel2_items(scene_set: SceneSet) -> None:
    real = real_item("earth-search-v1/sentinel-2-l2a/S2A_13TDE_20231008_0_L2A.json")  # baseline 05.09
    sim = read_items(scene_set.root, "sentinel-2-l2a")
    assert {it["properties"]["s2:processing_baseline"] >= "04.00" for it in sim} == {False, True}
    for it in sim:
        assert set(BANDS_ES) | {"scl"} <= set(real["assets"]) and set(it["assets"]) == set(BANDS_ES) | {"scl"}
        for key, asset in it["assets"].items():
            assert asset["roles"] == real["assets"][key]["roles"], key
            assert asset["type"] == real["assets"][key]["type"]
            if key != "scl":
                assert asset["eo:bands"][0]["common_name"] == real["assets"][key]["eo:bands"][0]["common_name"]
        if it["properties"]["s2:processing_baseline"] >= "04.00":  # exactly what a 04.00+ item declares
            for key in BANDS_ES:
                assert band_fields(it["assets"][key]) == band_fields(real["assets"][key]), key
        assert band_fields(it["assets"]["scl"]) == band_fields(real["assets"]["scl"])
        for prop in ("platform", "constellation", "eo:cloud_cover", "proj:epsg", "s2:processing_baseline",
                     "view:sun_elevation", "view:sun_azimuth", "earthsearch:boa_offset_applied"):
            assert prop in it["properties"] and prop in real["properties"], prop


def test_planetary_computer_sentinel2_items(pc_scenes: SceneSet) -> None:
    real = real_item("planetary-computer/sentinel-2-l2a-pc.json")
    for it in read_items(pc_scenes.root, "sentinel-2-l2a"):
        assert set(it["assets"]) == set(BANDS_PC) | {"SCL"} and set(it["assets"]) <= set(real["assets"])
        for key, asset in it["assets"].items():
            ref = real["assets"][key]
            assert asset["roles"] == ref["roles"] and asset["gsd"] == ref["gsd"], key
            assert "raster:bands" not in asset and "raster:bands" not in ref  # PC items leave scale/offset to the product
            assert {"proj:bbox", "proj:shape", "proj:transform"} <= set(asset)
        assert it["assets"]["B11"]["eo:bands"][0]["name"] == "B11"
        props = it["properties"]
        assert props["platform"] in ("Sentinel-2A", "Sentinel-2B") and props["constellation"] == "Sentinel 2"
        for prop in ("sat:orbit_state", "sat:relative_orbit", "s2:processing_baseline", "eo:cloud_cover", "proj:epsg"):
            assert prop in props and prop in real["properties"], prop


def test_sentinel1_rtc_items(pc_scenes: SceneSet) -> None:
    real = real_item("planetary-computer/sentinel-1-rtc-pc.json")
    for it in read_items(pc_scenes.root, "sentinel-1-rtc"):
        for key in ("vv", "vh"):
            assert it["assets"][key]["roles"] == real["assets"][key]["roles"]
            assert band_fields(it["assets"][key]) == band_fields(real["assets"][key])
        sar_sat = {k for k in it["properties"] if k.startswith(("sar:", "sat:"))}
        assert sar_sat <= set(real["properties"]), sar_sat - set(real["properties"])
        assert {"sar:polarizations", "sar:looks_equivalent_number", "sat:orbit_state", "sat:relative_orbit"} <= sar_sat
        assert it["properties"]["proj:code"] == f"EPSG:{it['properties']['proj:epsg']}"


def test_landsat_items(pc_scenes: SceneSet) -> None:
    real = real_item("earth-search-v1/landsat-c2-l2/LC08_L2SP_033032_20231008_02_T1.json")
    pc = real_item("planetary-computer/landsat-c2-l2-pc.json")
    for it in read_items(pc_scenes.root, "landsat-c2-l2"):
        for key in ("lwir11", "qa_pixel"):
            assert it["assets"][key]["roles"] == real["assets"][key]["roles"], key
            assert band_fields(it["assets"][key]) == band_fields(real["assets"][key]), key
        assert band_fields(it["assets"]["lwir11"]) == band_fields(pc["assets"]["lwir11"])
        assert it["assets"]["lwir11"]["eo:bands"] == real["assets"]["lwir11"]["eo:bands"]
        props = it["properties"]
        for prop in ("platform", "instruments", "eo:cloud_cover", "view:sun_elevation", "proj:epsg", "proj:shape",
                     "proj:transform", "landsat:wrs_path", "landsat:wrs_row", "landsat:collection_category"):
            assert prop in props and prop in real["properties"], prop
        assert props["proj:transform"][0] == 30 and props["proj:transform"][2] % 30 == 15


def test_dem_items(pc_scenes: SceneSet) -> None:
    real = real_item("planetary-computer/cop-dem-glo-30-pc.json")
    (it,) = read_items(pc_scenes.root, "cop-dem-glo-30")
    assert set(real["assets"]) >= {"data"} and it["assets"]["data"]["roles"] == real["assets"]["data"]["roles"]
    assert it["properties"]["proj:epsg"] == real["properties"]["proj:epsg"] == 4326
    assert it["properties"]["proj:transform"][0] == pytest.approx(1 / 3600)


def test_items_validate_with_pystac(pc_scenes: SceneSet, tmp_path: Path) -> None:
    import pystac

    for coll in ("sentinel-2-l2a", "sentinel-1-rtc", "landsat-c2-l2", "cop-dem-glo-30"):
        for it in read_items(pc_scenes.root, coll):
            item = pystac.Item.from_dict(it)
            assert item.id == it["id"] and item.datetime is not None
