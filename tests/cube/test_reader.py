"""The single-warp reader gives the pixels stackstac's own reader gives, nodata and footprint edges included."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
import stackstac
from affine import Affine
from rasterio.enums import Resampling
from stackstac.rio_reader import AutoParallelRioReader

from glacierscale.cube.reader import SingleWarpReader

# a 3 × 3 km file in UTM 33N near 12.1° E, read onto a UTM 32N grid that reaches past its western edge
LEFT, TOP = 280_000.0, 5_190_000.0


def _item(tmp: Path, name: str, data: np.ndarray, nodata: float | None) -> pystac.Item:
    path = tmp / f"{name}.tif"
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
                       dtype=data.dtype, crs="EPSG:32633", transform=Affine(10, 0, LEFT, 0, -10, TOP),
                       nodata=nodata, tiled=True, blockxsize=256, blockysize=256) as dst:
        dst.write(data, 1)
    w, s, e, n = 12.11, 46.80, 12.16, 46.83
    item = pystac.Item(name, {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
                       [w, s, e, n], datetime(2022, 8, 1), {"proj:epsg": 32633})
    item.add_asset("data", pystac.Asset(str(path), media_type=pystac.MediaType.COG))
    return item


@pytest.fixture(scope="module")
def items(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pystac.Item]:
    tmp = tmp_path_factory.mktemp("reader")
    rng = np.random.default_rng(0)
    dn = rng.integers(1, 5000, size=(300, 300)).astype(np.uint16)
    dn[100:140, 50:90] = 0  # a nodata hole inside the file
    height = (2000 + rng.normal(0, 50, size=(300, 300))).astype(np.float32)
    height[200:230, 10:60] = np.nan
    return {"uint16-nodata-0": _item(tmp, "a", dn, 0), "float-no-nodata": _item(tmp, "b", height, None),
            "float-nodata-nan": _item(tmp, "c", height, float("nan"))}


@pytest.mark.parametrize("kind", ["uint16-nodata-0", "float-no-nodata", "float-nodata-nan"])
@pytest.mark.parametrize("resampling", ["bilinear", "nearest"])
def test_same_pixels_as_stackstacs_reader(items: dict[str, pystac.Item], kind: str, resampling: str) -> None:
    def stack(reader: type) -> np.ndarray:
        # a 20 m grid in UTM 32N that covers the file's western half and the ground west of it
        bounds = (736_000.0, 5_188_000.0, 739_200.0, 5_191_200.0)
        arr = stackstac.stack([items[kind]], assets=["data"], epsg=32632, resolution=20.0, bounds=bounds,
                              dtype=np.dtype("float32"), fill_value=np.float32(np.nan), rescale=False,
                              resampling=getattr(Resampling, resampling), errors_as_nodata=(), snap_bounds=False,
                              reader=reader)
        return np.asarray(arr.compute(scheduler="threads", num_workers=2))

    theirs, ours = stack(AutoParallelRioReader), stack(SingleWarpReader)
    assert 0.1 < np.isnan(ours).mean() < 0.9, "the grid reaches past the file: NaN outside, values inside"
    np.testing.assert_array_equal(ours, theirs)  # NaN positions included
    if kind == "uint16-nodata-0":
        assert np.nanmin(ours) >= 1, "nodata 0 never comes through as a value"
