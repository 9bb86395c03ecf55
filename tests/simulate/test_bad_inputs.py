"""Bad inputs fail early with a clear error that names the file."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import rasterio
from affine import Affine
from shapely.geometry import box

from glacierscale.cli import main
from glacierscale.errors import ConfigError, InputError
from glacierscale.simulate import RegionSpec, simulate

LOCAL_GRID = pyproj.CRS.from_wkt('ENGCRS["site grid",EDATUM["site"],CS[Cartesian,2],AXIS["x",east,LENGTHUNIT["metre",1]],'
                                 'AXIS["y",north,LENGTHUNIT["metre",1]]]')


@pytest.fixture
def dem(tmp_path: Path) -> Path:
    """A small real-looking DEM: 3 × 3 km at 30 m in UTM 32N near the Ötztal."""
    path = tmp_path / "dem.tif"
    z = (2500 + 300 * np.sin(np.linspace(0, 3, 100))[None, :] + np.linspace(600, 0, 100)[:, None]).astype("float32")
    with rasterio.open(path, "w", driver="GTiff", width=100, height=100, count=1, dtype="float32", crs="EPSG:32632",
                       transform=Affine(30, 0, 630_000, 0, -30, 5_186_000), nodata=-9999) as dst:
        dst.write(z, 1)
    return path


def outlines(tmp_path: Path, name: str, geom: object, crs: object) -> Path:
    path = tmp_path / name
    gpd.GeoDataFrame({"glacier_id": ["G1"]}, geometry=[geom], crs=crs).to_file(path)
    return path


def simulate_inputs(tmp_path: Path, dem: Path | None = None, lines: tuple[str, ...] = ()) -> None:
    spec = RegionSpec(dem=str(dem) if dem else None, outlines=lines, years=(2022,), s2_per_year=1)
    simulate(spec, tmp_path / "out", sensors=("s2",), progress=False)


def test_dem_and_outlines_that_do_not_overlap(tmp_path: Path, dem: Path) -> None:
    far = outlines(tmp_path, "far.gpkg", box(76.4, 35.7, 76.45, 35.75), "EPSG:4326")  # Karakoram, not Alps
    with pytest.raises(InputError, match="do not overlap") as err:
        simulate_inputs(tmp_path, dem, (str(far),))
    assert str(dem) in str(err.value) and str(far) in str(err.value)


def test_outlines_in_a_crs_that_cannot_be_transformed(tmp_path: Path) -> None:
    local = outlines(tmp_path, "local.gpkg", box(0, 0, 500, 800), LOCAL_GRID)
    with pytest.raises(InputError, match="cannot transform") as err:
        simulate_inputs(tmp_path, lines=(str(local),))
    assert str(local) in str(err.value)


def test_outlines_without_crs(tmp_path: Path) -> None:
    path = outlines(tmp_path, "nocrs.shp", box(10.7, 46.7, 10.8, 46.8), "EPSG:4326")
    path.with_suffix(".prj").unlink()
    with pytest.raises(InputError, match="no CRS") as err:
        simulate_inputs(tmp_path, lines=(str(path),))
    assert str(path) in str(err.value)


def test_a_dem_that_is_not_a_raster(tmp_path: Path) -> None:
    vector = outlines(tmp_path, "glacier.gpkg", box(10.7, 46.7, 10.8, 46.8), "EPSG:4326")
    text = tmp_path / "dem.tif"
    text.write_text("not a GeoTIFF")
    for bad in (vector, text):
        with pytest.raises(InputError, match="not a raster") as err:
            simulate_inputs(tmp_path, bad)
        assert str(bad) in str(err.value)


def test_an_empty_outline_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.gpkg"
    gpd.GeoDataFrame({"glacier_id": []}, geometry=gpd.GeoSeries([], crs="EPSG:4326")).to_file(empty)
    with pytest.raises(InputError, match="holds no glacier outlines") as err:
        simulate_inputs(tmp_path, lines=(str(empty),))
    assert str(empty) in str(err.value)


def test_missing_files_and_unreadable_outlines(tmp_path: Path, dem: Path) -> None:
    with pytest.raises(InputError, match="no such file") as err:
        simulate_inputs(tmp_path, tmp_path / "nope.tif")
    assert "nope.tif" in str(err.value)
    with pytest.raises(InputError, match="not a readable vector file") as err:
        simulate_inputs(tmp_path, lines=(str(dem),))
    assert str(dem) in str(err.value)


def test_outline_arguments_must_be_one_file_or_year_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="YEAR=FILE"):
        simulate_inputs(tmp_path, lines=("a.gpkg", "2016=b.gpkg"))


def test_cli_prints_the_error_and_exits_2(tmp_path: Path, dem: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.gpkg"
    gpd.GeoDataFrame({"glacier_id": []}, geometry=gpd.GeoSeries([], crs="EPSG:4326")).to_file(empty)
    rc = main(["simulate", "--dem", str(dem), "--outlines", str(empty), "--out", str(tmp_path / "o"), "--quiet"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "glacierscale simulate: error:" in err and str(empty) in err
    assert not (tmp_path / "o").exists(), "nothing is written for bad inputs"
