"""`catalog inspect` and the item parser on every real STAC item in ../shared/data/real/stac-items."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from glacierscale.catalog.parse import parse_item
from glacierscale.cli import main
from glacierscale.errors import InputError

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"
ITEMS = REAL / "stac-items"
pytestmark = pytest.mark.skipif(not ITEMS.is_dir(), reason=f"real STAC items not found at {ITEMS}")


def _items(rel: str) -> list[dict]:
    doc = json.loads((ITEMS / rel).read_text())
    return doc if isinstance(doc, list) else [doc]


# file, provider, sensor, epsg, first band, its asset key, scale, offset, nodata, transform[:3], shape
USABLE = [
    ("earth-search-v1/sentinel-2-l2a/S2B_24MWV_20250731_0_L2A.json", "earth-search", "s2", 32724, "B02", "blue",
     1e-4, -0.1, 0.0, [10.0, 0.0, 499980.0], [10980, 10980]),
    ("earth-search-v1/sentinel-2-l2a/S2A_13TDE_20231008_0_L2A.json", "earth-search", "s2", 32613, "B11", "swir16",
     1e-4, -0.1, 0.0, [20.0, 0.0, 399960.0], [5490, 5490]),
    ("earth-search-v1/sentinel-2-c1-l2a/S2B_T24MUV_20250731T130245_L2A.json", "earth-search", "s2", 32724, "B02",
     "blue", 1e-4, -0.1, 0.0, [10.0, 0.0, 300000.0], [10980, 10980]),
    ("earth-search-v1/landsat-c2-l2/LC08_L2SP_033032_20231008_02_T1.json", "earth-search", "landsat", 32613, "LST",
     "lwir11", 0.00341802, 149.0, 0.0, [30.0, 0.0, 449085.0], [7831, 7711]),
    ("earth-search-v1/cop-dem-glo-30/Copernicus_DSM_COG_10_S90_00_W173_00_DEM.json", "earth-search", "dem", 4326,
     "ELEV", "data", 1.0, 0.0, None, [1 / 360, 0.0, -173.0013888888889], [3600, 360]),
    ("planetary-computer/sentinel-2-l2a-pc.json", "planetary-computer", "s2", 32647, "B02", "B02",
     1e-4, -0.1, 0.0, [10.0, 0.0, 399960.0], [10980, 10980]),  # baseline 05.10 and no raster:bands: the rule
    ("planetary-computer/sentinel-1-rtc-pc.json", "planetary-computer", "s1", 32633, "VV", "vv",
     1.0, 0.0, -32768.0, [10.0, 0.0, 373180.0], [12949, 27526]),  # 9-element proj:transform cut to 6
    ("planetary-computer/landsat-c2-l2-pc.json", "planetary-computer", "landsat", 32655, "LST", "lwir11",
     0.00341802, 149.0, 0.0, [30.0, 0.0, 520185.0], [7971, 7971]),
    ("planetary-computer/cop-dem-glo-30-pc.json", "planetary-computer", "dem", 4326, "ELEV", "data",
     1.0, 0.0, None, [1 / 360, 0.0, -180.0013888888889], [3600, 360]),
    ("earth-search-v0/S2A_28QCH_20200714_0_L2A.json", "earth-search-v0", "s2", 32628, "B02", "B02",
     1e-4, 0.0, 0.0, [10.0, 0.0, 300000.0], [10980, 10980]),  # baseline 02.14 (from the product id): no offset
    ("stactools-examples/Copernicus_DSM_COG_10_N53_00_W115_00_DEM.json", None, "dem", 4326, "ELEV", "data",
     1.0, 0.0, None, [0.00041666666666666664, 0.0, -115.00020833333333], [3600, 2400]),
]


@pytest.mark.parametrize(("rel", "provider", "sensor", "epsg", "band", "asset", "scale", "offset", "nodata", "tr", "shape"),
                         USABLE, ids=[u[0].split("/")[-1][:40] for u in USABLE])
def test_usable_items(rel: str, provider: str | None, sensor: str, epsg: int, band: str, asset: str, scale: float,
                      offset: float, nodata: float | None, tr: list[float], shape: list[int]) -> None:
    for item in _items(rel):  # Planetary Computer files hold 4 items each, on different UTM zones
        p = parse_item(item)
        assert p.usable, p.reason
        if provider:
            assert p.provider == provider
        assert p.sensor == sensor
    p = parse_item(_items(rel)[0])
    assert p.epsg == epsg
    b = p.bands[band]
    assert b.asset == asset
    assert b.href == _items(rel)[0]["assets"][asset]["href"]
    assert (b.scale, b.offset, b.nodata) == (pytest.approx(scale), pytest.approx(offset), nodata)
    assert b.transform is not None and b.transform[:3] == pytest.approx(tr)
    assert b.shape == shape


@pytest.mark.parametrize("rel", [
    "earth-search-v1/sentinel-1-grd/S1A_IW_GRDH_1SSH_20250731T135637_20250731T135702_060328_077F7E.json",
    "earth-search-v1/sentinel-1-grd/S1A_IW_GRDH_1SSH_20250731T135702_20250731T135722_060328_077F7E.json",
    "stactools-examples/sentinel1-grd_item.json",
])
def test_sentinel1_grd_in_radar_geometry_is_refused(rel: str) -> None:
    p = parse_item(_items(rel)[0])
    assert not p.usable and p.epsg == 4326
    assert "radar geometry" in str(p.reason) and "sentinel-1-rtc" in str(p.reason)


def test_landsatlook_sr_item_has_no_thermal_band() -> None:
    p = parse_item(_items("usgs-landsatlook/LC08_L2SP_028030_20200114_20200824_02_T1_SR.json")[0])
    assert p.provider == "usgs-landsatlook" and not p.usable
    assert "['lwir11'] missing" in str(p.reason)


def test_level1c_is_not_read() -> None:
    with pytest.raises(InputError, match=r"collection 'sentinel-2-l1c'.* is not a collection glacierscale reads"):
        parse_item(_items("earth-search-v1/sentinel-2-l1c/S2B_20EPT_20250731_0_L1C.json")[0])


def test_inspect_cli_prints_json_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "inspect", str(ITEMS / "planetary-computer/sentinel-1-rtc-pc.json")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out) == 4 and all(o["sensor"] == "s1" and o["bands"]["VH"]["asset"] == "vh" for o in out)
    grd = ITEMS / "earth-search-v1/sentinel-1-grd/S1A_IW_GRDH_1SSH_20250731T135637_20250731T135702_060328_077F7E.json"
    assert main(["catalog", "inspect", str(grd)]) == 1
    assert json.loads(capsys.readouterr().out)["usable"] is False
    assert main(["catalog", "inspect", str(ITEMS / "earth-search-v1/collections.json")]) == 2
    assert "not a STAC item" in capsys.readouterr().err


def test_real_landsat_thermal_scene_reads_as_kelvin() -> None:
    import pystac

    from glacierscale.catalog.provider import load_provider
    from glacierscale.cube.assemble import composite_sensor
    from glacierscale.inventory.units import WorkUnit

    root = REAL / "stactools-landsat-c2l2" / "LC08_L2SP_005009_20150710_20200908_02_T2"
    item = json.loads((root / "LC08_L2SP_005009_20150710_20200908_02_T2_ST_stac.json").read_text())
    for a in item["assets"].values():  # the real item, hrefs rewritten to the local files
        a["href"] = str(root / a["href"].rsplit("/", 1)[1])
    # the decimated scene (~515 m pixels, UTM 24N, x 365685-629415, y 7879185-8143815) seen through a
    # 600 x 600 px unit of 500 m at x 300000-600000, y 7800000-8100000
    unit = WorkUnit("greenland", 32624, 1, 26, 500.0, 600, ())
    assert unit.bounds == (300000.0, 7800000.0, 600000.0, 8100000.0)
    comp, clear = composite_sensor(load_provider("usgs-stac-legacy"), "landsat", [pystac.Item.from_dict(item)], unit)
    kelvin = comp[0][np.isfinite(comp[0])]
    assert kelvin.size > 40_000  # clear ice-sheet pixels survive the QA_PIXEL cloud mask
    assert np.percentile(kelvin, 1) > 230 and np.percentile(kelvin, 99) < 275
    assert 255 < np.median(kelvin) < 270
    assert int(clear.max()) == 1
