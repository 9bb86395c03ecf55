"""Reading RGI 7.0 zips and folders, RGI 6.0/5.0/4.0, GLIMS, national inventories; repairs; clear errors."""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Polygon, box

from glacierscale.errors import ConfigError, InputError
from glacierscale.inventory.readers import inventory_repairs, parse_column_map, read_outlines

HEF7 = "oggm-sample-data/hintereisferner/rgi7/rgi7g_hef_complex"


def rgi7_zip(real: Path, folder: Path, *, nested: bool = False) -> Path:
    """Pack the real RGI 7.0 HEF complex the way RGI 7.0 ships a region: shapefile + attributes CSV in a zip."""
    stem = "RGI2000-v7.0-G-11_central_europe"
    path = folder / f"{stem}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for ext in ("shp", "shx", "dbf", "prj", "cpg"):
            zf.write(real / f"{HEF7}.{ext}", f"{stem}/{stem}.{ext}" if nested else f"{stem}.{ext}")
        attrs = gpd.read_file(real / f"{HEF7}.shp").drop(columns="geometry").to_csv(index=False)
        zf.writestr(f"{stem}-attributes.csv", attrs)
    return path


@pytest.mark.parametrize("nested", [False, True])
def test_rgi7_region_zip(real: Path, tmp_path: Path, nested: bool) -> None:
    inv = read_outlines(rgi7_zip(real, tmp_path, nested=nested))
    assert len(inv) == 23
    assert inv.attrs["kind"] == "rgi7"
    assert inv["glacier_id"].str.match(r"^RGI2000-v7\.0-G-11-\d{5}$").all()
    assert set(inv["o1region"]) == {"11"} and set(inv["o2region"]) == {"11-01"}
    assert not inv.geometry.has_z.any()  # RGI 7.0 ships Polygon Z; planning works in 2-D


def test_folder_of_region_zips_reads_only_the_selected_regions(real: Path, tmp_path: Path) -> None:
    rgi7_zip(real, tmp_path)
    broken = tmp_path / "RGI2000-v7.0-G-06_iceland.zip"
    broken.write_bytes(b"not a zip at all")
    assert len(read_outlines(tmp_path, regions=("11",))) == 23  # region 06's file is never opened
    with pytest.raises(InputError, match=re.escape(f"inventory {broken} is not a readable zip file")):
        read_outlines(tmp_path)
    with pytest.raises(ConfigError, match=r"has no file of region\(s\) 13"):
        read_outlines(tmp_path, regions=("13",))


def test_folder_mixing_inventories_and_crs(real: Path, tmp_path: Path) -> None:
    for src in ("oggm-sample-data/iceland/RGI6_icecap", "glamos-sgi/sgi2010/SGI_2010"):
        for f in (real / src).parent.glob((real / src).name + ".*"):
            shutil.copy(f, tmp_path / f.name)
    inv = read_outlines(tmp_path)
    assert len(inv) == 61 + 1999
    assert inv.crs.to_epsg() == 4326  # parts in different CRSs meet in lon/lat
    assert inv["o1region"].value_counts(dropna=False).to_dict() == {None: 1999, "06": 61}


@pytest.mark.parametrize(("path", "first_id", "kind", "o1", "o2"), [
    ("oggm-sample-data/hintereisferner/Hintereisferner_RGI6.shp", "RGI60-11.00897", "rgi6", "11", "11-01"),
    ("oggm-sample-data/hintereisferner/Hintereisferner.shp", "RGI40-11.00897", "rgi4", "11", "11-01"),
    ("oggm-sample-data/iceland/RGI6_icecap.shp", "RGI60-06.00313", "rgi6", "06", "06-01"),
    ("geoutils-data-everest/15_rgi60_glacier_outlines.gpkg", "RGI60-15.03410", "rgi6", "15", "15-02"),
    ("glims-hochalmkees/glims_polygons.shp", "G013332E47020N", "glims", "11", "11-01"),
])
def test_rgi_and_glims_schemas(real: Path, path: str, first_id: str, kind: str, o1: str, o2: str) -> None:
    inv = read_outlines(real / path)
    assert inv["glacier_id"].iloc[0] == first_id
    assert inv.attrs["kind"] == kind
    assert (inv["o1region"].iloc[0], inv["o2region"].iloc[0]) == (o1, o2)


def test_region_from_rgi_ids_when_no_region_column(tmp_path: Path) -> None:
    path = tmp_path / "ids.gpkg"
    gpd.GeoDataFrame({"rgi_id": ["RGI2000-v7.0-G-01-00042", "RGI60-10.00001", "X-1"]},
                     geometry=[box(0, 0, 0.01, 0.01)] * 3, crs=4326).to_file(path)
    assert read_outlines(path)["o1region"].tolist() == ["01", "10", None]


def test_swiss_inventory_with_column_mapping(real: Path) -> None:
    path = real / "glamos-sgi/sgi2010/SGI_2010.shp"
    inv = read_outlines(path)
    assert inv["glacier_id"].iloc[0] == "A10g-05" and inv.attrs["kind"] == "other"  # the SGI column is known
    mapped = read_outlines(path, columns={"glacier_id": "OBJECTID"})
    assert mapped["glacier_id"].iloc[:3].tolist() == ["1", "2", "3"]
    with pytest.raises(InputError, match="has 26 outlines without a glacier id in column 'Parent1973'"):
        read_outlines(path, columns={"glacier_id": "Parent1973"})  # glaciers new since 1973 have no parent
    with pytest.raises(InputError, match=re.escape(f"inventory {path} has no column 'SGI_ID' (mapped to glacier_id)")):
        read_outlines(path, columns={"glacier_id": "SGI_ID"})


def test_mapped_region_columns(tmp_path: Path) -> None:
    path = tmp_path / "national.gpkg"
    gpd.GeoDataFrame({"CODE": ["N1", "N2"], "REG": [11, 11], "SUB": ["11-2", "1"]},
                     geometry=[box(0, 0, 0.01, 0.01)] * 2, crs=4326).to_file(path)
    inv = read_outlines(path, columns={"glacier_id": "CODE", "o1region": "REG", "o2region": "SUB"})
    assert inv[["glacier_id", "o1region", "o2region"]].values.tolist() == [["N1", "11", "11-02"], ["N2", "11", "11-01"]]


def test_column_map_text() -> None:
    assert parse_column_map("glacier_id=SGI, o1region=REG") == {"glacier_id": "SGI", "o1region": "REG"}
    with pytest.raises(ConfigError, match="unknown field\\(s\\) name"):
        parse_column_map("name=Name")
    with pytest.raises(ConfigError, match="must look like glacier_id=COLUMN"):
        parse_column_map("glacier_id")


def test_geoparquet_input(real: Path, tmp_path: Path) -> None:
    path = tmp_path / "everest.parquet"
    gpd.read_file(real / "geoutils-data-everest/15_rgi60_glacier_outlines.gpkg").to_parquet(path)
    inv = read_outlines(path)
    assert len(inv) == 86 and inv.crs.to_epsg() == 4326 and set(inv["o2region"]) == {"15-02"}


# --- repairs ---------------------------------------------------------------------------------------------------


def test_real_self_intersections_are_repaired_and_reported(real: Path) -> None:
    inv = read_outlines(real / "oggm-sample-data/oetztal/rgi_oetztal.shp")
    repairs = inventory_repairs(inv)
    assert [(r.glacier_id, r.action) for r in repairs] == [
        ("RGI50-11.00648", "repaired"), ("RGI50-11.00887", "repaired"), ("RGI50-11.00958", "repaired")]
    assert all(r.problem.startswith("Ring Self-intersection[") for r in repairs)
    assert len(inv) == 20 and inv.geometry.is_valid.all()


def test_constructed_bad_geometries(tmp_path: Path) -> None:
    path = tmp_path / "bad.gpkg"
    bowtie = Polygon([(10.0, 46.0), (10.02, 46.02), (10.02, 46.0), (10.0, 46.02)])
    flat = Polygon([(10.1, 46.0), (10.2, 46.0), (10.3, 46.0)])
    gpd.GeoDataFrame({"glacier_id": ["bowtie", "flat", "good", "none"]},
                     geometry=[bowtie, flat, box(10.5, 46.5, 10.51, 46.51), None], crs=4326).to_file(path)
    inv = read_outlines(path)
    assert inv["glacier_id"].tolist() == ["bowtie", "good"]
    fixed = inv.geometry.iloc[0]
    assert fixed.is_valid and fixed.geom_type == "MultiPolygon" and fixed.area == pytest.approx(0.0002)
    assert {(r.glacier_id, r.action, r.problem.split("[")[0]) for r in inventory_repairs(inv)} == {
        ("bowtie", "repaired", "Self-intersection"), ("flat", "dropped", "Self-intersection"),
        ("none", "dropped", "empty geometry")}


# --- files that are not inventories -----------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "what"), [
    ("oggm-sample-data/hintereisferner/rgi7/rgi7g_hef_intersects.shp", "holds LineString features, not glacier outlines"),
    ("glims-hochalmkees/glims_points.shp", "holds Point features, not glacier outlines"),
    ("oggm-sample-data/hintereisferner/hef_srtm.tif", "is not a readable vector file"),
])
def test_real_files_that_are_not_inventories(real: Path, path: str, what: str) -> None:
    with pytest.raises(InputError, match=re.escape(f"inventory {real / path} {what}")):
        read_outlines(real / path)


def test_other_non_inventories(tmp_path: Path) -> None:
    table = tmp_path / "areas.parquet"
    pd.DataFrame({"glacier_id": ["G1"], "area_km2": [1.0]}).to_parquet(table)
    with pytest.raises(InputError, match=re.escape(f"inventory {table} is not a readable vector file")):
        read_outlines(table)
    empty_zip = tmp_path / "RGI2000-v7.0-G-11_central_europe.zip"
    with zipfile.ZipFile(empty_zip, "w") as zf:
        zf.writestr("README.txt", "no outlines here")
    with pytest.raises(InputError, match=re.escape(f"inventory {empty_zip} is a zip without outline files")):
        read_outlines(empty_zip)
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "notes.txt").write_text("x")
    with pytest.raises(InputError, match=re.escape(f"inventory {folder} is a folder without outline files")):
        read_outlines(folder)
    no_ids = tmp_path / "noids.gpkg"
    gpd.GeoDataFrame({"glacier_id": [None, "G2"]}, geometry=[box(0, 0, 1, 1)] * 2, crs=4326).to_file(no_ids)
    with pytest.raises(InputError, match="has 1 outlines without a glacier id in column 'glacier_id'"):
        read_outlines(no_ids)
