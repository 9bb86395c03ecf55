"""Loss/gain rasters between two archive years: values, ground areas, consecutive pairs, bad input."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import RES, plan, product, unit

from glacierscale.archive.lossgain import GAIN, LOSS, NODATA, change_map, write_changes
from glacierscale.archive.query import open_archive
from glacierscale.archive.run import open_run
from glacierscale.classes import GLACIER_CLASSES
from glacierscale.cli import main

GROUND = 2e-3  # ground area of a UTM pixel is within 0.2 % of resolution² (reduce.areas.pixel_areas_km2)
U1 = unit(410, 4000, ("G1", "G2"))
PX = RES * RES / 1e6
ICE = {2020: 20, 2022: 12, 2023: 11}  # square side in pixels; 2021 has no view at all


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp = tmp_path_factory.mktemp("lossgain")
    arch = str(tmp / "archive")
    w = open_run(arch, "r1", plan("r1", [U1], [2020, 2021, 2022, 2023]), staging=str(tmp / "staging"))
    w.checkpoint([w.stage(product(U1, y, ice_px=ICE[y]) if y in ICE else product(U1, y, status="gap"))
                  for y in (2020, 2021, 2022, 2023)])
    w.publish({})
    return arch


def _ice(year: int) -> np.ndarray:
    classes = product(U1, year, ice_px=ICE[year]).classes
    assert classes is not None
    return np.isin(classes, GLACIER_CLASSES)


def test_change_map_codes_and_nodata() -> None:
    a = np.array([[1, 1, 0, 255], [2, 0, 0, 1]], np.uint8)
    b = np.array([[0, 1, 2, 1], [1, 0, 255, 0]], np.uint8)
    assert change_map(a, b).tolist() == [[LOSS, 0, GAIN, NODATA], [0, 0, NODATA, LOSS]]


def test_first_to_last_year_raster_and_areas(archive: str, tmp_path: Path) -> None:
    (pair,) = write_changes(open_archive(archive), tmp_path / "changes")
    assert (pair.from_year, pair.to_year) == (2020, 2023)
    assert [p.name for p in pair.paths] == [f"{U1.epsg}_2020-2023_{U1.col // 32}_{U1.row // 32}.tif"]
    a, b = _ice(2020), _ice(2023)
    with rasterio.open(pair.paths[0]) as src:
        change = src.read(1)
        assert src.crs.to_epsg() == U1.epsg and src.nodata == NODATA and src.dtypes[0] == "int8"
        assert src.transform.c == pytest.approx(U1.bounds[0]) and src.transform.f == pytest.approx(U1.bounds[3])
    # 2023's G2 square (cols 15–25) lies over 2020's G1 (cols 2–21), the gap between them (22–23) and G2 (24–43)
    assert (change == LOSS).sum() == (a & ~b).sum() == 800 - 121 - 77 - 22
    assert (change == GAIN).sum() == (~a & b).sum() == 22
    assert (change == 0).sum() == change.size - 580 - 22
    assert pair.loss_km2 == pytest.approx((a & ~b).sum() * PX, rel=GROUND)
    assert pair.stable_ice_km2 == pytest.approx((a & b).sum() * PX, rel=GROUND)
    assert pair.gain_km2 == pytest.approx(22 * PX, rel=GROUND) and pair.unobserved_km2 == 0
    assert pair.net_km2 == pytest.approx((22 - 580) * PX, rel=GROUND)


def test_consecutive_pairs_skip_the_gap_year(archive: str, tmp_path: Path) -> None:
    pairs = write_changes(open_archive(archive), tmp_path / "c", consecutive=True)
    assert [(p.from_year, p.to_year) for p in pairs] == [(2020, 2022), (2022, 2023)]
    a, b = _ice(2022), _ice(2023)
    assert pairs[1].loss_km2 == pytest.approx((a & ~b).sum() * PX, rel=GROUND)
    assert pairs[1].gain_km2 == pytest.approx((~a & b).sum() * PX, rel=GROUND) and pairs[1].gain_km2 > 0


def test_cli_prints_areas_and_refuses_bad_input(archive: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", archive, "--changes", str(tmp_path / "c"), "--years", "2020:2022"]) == 0
    out = capsys.readouterr()
    row = next(line for line in out.out.splitlines() if line.startswith("2020→2022"))
    a, b = _ice(2020), _ice(2022)
    assert float(row.split()[1]) == pytest.approx((a & ~b).sum() * PX, abs=1e-3)  # lost km², printed to 3 decimals
    assert "1 loss/gain COGs written" in out.err
    assert main(["export", archive, "--changes", str(tmp_path / "p"), "--consecutive", "--plot"]) == 0
    assert "2 loss/gain COGs written to" in capsys.readouterr().err
    pngs = sorted(p.name for p in (tmp_path / "p").glob("*.png"))
    assert pngs == [f"{U1.epsg}_2020-2022_{U1.col // 32}_{U1.row // 32}.png",
                    f"{U1.epsg}_2022-2023_{U1.col // 32}_{U1.row // 32}.png"]
    assert main(["export", archive, "--changes", str(tmp_path / "d"), "--years", "2023:2023"]) == 2
    assert "loss/gain needs two mapped years in 2023–2023; the archive holds [2020, 2022, 2023]" in capsys.readouterr().err
    assert main(["export", archive, "--changes", str(tmp_path / "f"), "--bbox", "-60,-10,-59,-9"]) == 2
    assert "--bbox -60,-10,-59,-9: no tile of archive" in capsys.readouterr().err
    assert main(["export", archive, "--rasters", str(tmp_path / "e"), "--consecutive"]) == 2
    assert "--consecutive goes with --changes DIR" in capsys.readouterr().err
    assert main(["export", archive, "--outlines", str(tmp_path / "o.gpkg"), "--plot"]) == 2
    assert "--plot goes with --changes DIR" in capsys.readouterr().err
