"""Marine-terminating glaciers: sea in front, ice mélange at the front, a calving-front line per year."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio import features
from scipy import ndimage
from shapely.geometry import box
from sim_helpers import read_band, read_items

from glacierscale.simulate import RegionSpec, SceneSet, build_region, simulate
from glacierscale.simulate.physics import Surface
from glacierscale.simulate.region import Region
from glacierscale.simulate.surfaces import paint_full

# a Svalbard-like fjord head in UTM 33N: land rises northwards from a coast at row 150; the sea south of it
# reads 0 m in the DEM, as Copernicus DEM tiles do; a 1.2 km wide glacier reaches 450 m past the coast
LEFT, TOP, RES = 500_000.0, 8_720_010.0, 30.0
SIZE, COAST_ROW, GLACIER_COLS, GLACIER_ROWS = 240, 150, (100, 140), (20, 165)


def _dem(path: Path) -> None:
    rows, cols = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    land = (COAST_ROW - rows) * 6.0 - 120.0 * np.exp(-(((cols - 120) / 25.0) ** 2))  # a valley down the middle
    z = np.where(rows < COAST_ROW, np.maximum(land, 20.0 + (COAST_ROW - rows) * 2.0), 0.0)
    c0, c1 = GLACIER_COLS
    r0, r1 = GLACIER_ROWS
    z[r0:r1, c0:c1] = 40.0 + (r1 - rows[r0:r1, c0:c1]) * 5.0  # the ice surface, a 40 m cliff at the front
    with rasterio.open(path, "w", driver="GTiff", width=SIZE, height=SIZE, count=1, dtype="float32",
                       crs="EPSG:32633", transform=Affine(RES, 0, LEFT, 0, -RES, TOP), nodata=-9999) as dst:
        dst.write(z.astype(np.float32), 1)


@pytest.fixture(scope="module")
def marine(tmp_path_factory: pytest.TempPathFactory) -> tuple[SceneSet, RegionSpec]:
    tmp = tmp_path_factory.mktemp("marine")
    _dem(tmp / "fjord.tif")
    (c0, c1), (r0, r1) = GLACIER_COLS, GLACIER_ROWS
    outline = box(LEFT + c0 * RES, TOP - r1 * RES, LEFT + c1 * RES, TOP - r0 * RES)
    # RGI 6 attributes: TermType 1 = marine-terminating
    gpd.GeoDataFrame({"RGIId": ["RGI60-07.99999"], "TermType": [1]}, geometry=[outline],
                     crs="EPSG:32633").to_crs("EPSG:4326").to_file(tmp / "tidewater.gpkg")
    # the whole DEM: 2.7 km of sea beyond the terminus, 3 km on either side of the glacier
    inset = box(LEFT + 100, TOP - SIZE * RES + 100, LEFT + SIZE * RES - 100, TOP - 100)
    w, s, e, n = (float(v) for v in gpd.GeoSeries([inset], crs="EPSG:32633").to_crs("EPSG:4326").total_bounds)
    spec = RegionSpec(dem=str(tmp / "fjord.tif"), outlines=(str(tmp / "tidewater.gpkg"),), years=(2021, 2022, 2023),
                      bbox=(w, s, e, n), s2_per_year=1, seed=3, name="fjord")
    return simulate(spec, tmp / "scenes", sensors=("s2",), progress=False), spec


def test_marine_glacier_has_a_calving_front_every_year_that_retreats(marine: tuple[SceneSet, RegionSpec]) -> None:
    scenes, _ = marine
    fronts = gpd.read_file(scenes.root / "truth" / "truth_calving_fronts.gpkg")
    outlines = gpd.read_file(scenes.truth_outlines)
    assert set(outlines["terminus_type"]) == {"marine"}
    assert sorted(fronts["year"]) == [2021, 2022, 2023]
    assert set(fronts["terminus_type"]) == {"marine"} and set(fronts["glacier_id"]) == {"RGI60-07.99999"}
    fronts = fronts.set_index("year")
    # the front is the ice edge that touches the sea: the 1.2 km terminus plus the flanks past the coast
    assert (fronts["length_m"] > 1200).all() and (fronts["length_m"] < 2400).all()
    for year, line in fronts.geometry.items():
        glacier = outlines[outlines["year"] == year].geometry.iloc[0]
        assert line.distance(glacier.boundary) < 1.0 and line.hausdorff_distance(glacier.boundary) > 1000
    # retreat from the terminus up: the front moves inland (north) year by year
    north = [fronts.geometry[y].centroid.y for y in (2021, 2022, 2023)]
    assert north[0] < north[1] < north[2]


def test_sea_and_ice_melange_in_front_of_the_glacier(marine: tuple[SceneSet, RegionSpec]) -> None:
    scenes, spec = marine
    region = build_region(spec)
    year = 2022
    sea, melange = region.sea[year], region.melange[year]
    glacier, _ = region.masks[year]
    assert sea.sum() > 10_000 and not (sea & glacier).any()
    front = features.rasterize([(region.fronts[year]["RGI60-07.99999"].buffer(30), 1)], out_shape=region.shape,
                               transform=region.transform).astype(bool)
    dist = ndimage.distance_transform_edt(~front) * region.spec.resolution
    assert melange[sea & (dist < 200)].mean() > 0.6, "dense mélange at the front"
    assert melange[sea & (dist > 1600)].max() == 0, "open sea beyond ~1.5 km"
    # optically: mélange (icebergs, sea ice) is bright, the open sea dark (PHYSICS.md §1, §7)
    (item,) = [it for it in read_items(scenes.root, "sentinel-2-l2a") if it["properties"]["datetime"].startswith("2022")]
    surf = paint_full(region, year, item["properties"]["glacierscale:snow_line_m"], item["properties"][
        "glacierscale:fresh_snow"])
    assert (surf[sea & (dist < 200)] == Surface.MELANGE).mean() > 0.9
    # the truth calls the sea water, mélange and all: the class the calving-front product traces
    with rasterio.open(scenes.root / "truth" / f"truth_classes_{year}.tif") as src:
        classes = src.read(1)
    assert ((classes == 3) == (sea & (classes != 255))).all()
    assert (classes[melange > 0.6] == 3).all()
    green = read_band(item["assets"]["green"]["href"]).astype(float) * 1e-4 - 0.1  # baseline ≥ 04.00
    scl = np.kron(read_band(item["assets"]["scl"]["href"]), np.ones((2, 2), dtype=np.uint8))
    clear = ~np.isin(scl, (0, 3, 8, 9, 10))
    near, far = clear & sea & (dist < 200), clear & sea & (dist > 1600)
    assert near.sum() > 500 and far.sum() > 500  # this seed's clouds leave both in view
    assert np.median(green[near]) > 0.3 and np.median(green[far]) < 0.1


# --- procedural tidewater glaciers (RegionSpec.marine) -------------------------------------------------------
MARINE = RegionSpec(center_lon=-137.5, center_lat=58.9, ela_m=1000.0, size_px=768, years=(2021, 2022), seed=903,
                    physics="full", marine=True, cloud_climate="maritime")


@pytest.fixture(scope="module")
def fjord_region() -> Region:
    return build_region(MARINE)


def test_the_lowest_glacier_of_a_marine_region_calves_into_the_sea(fjord_region: Region) -> None:
    from glacierscale.simulate.fjord import CLIFF_M

    r = fjord_region
    kinds = [g.terminus_type for g in r.glaciers]
    assert kinds.count("marine") == 1 and kinds.count("lake") == 1  # the lake goes to another glacier
    gid = r.glaciers[kinds.index("marine")].glacier_id
    z = r.terrain.elevation
    for year in r.years:
        front = r.fronts[year][gid]
        assert front.length > 300  # metres of the outline touching the sea
    ice = r.masks[r.years[0]][0]
    sea = r.sea[r.years[0]]
    assert np.all(z[sea & ~ndimage.binary_dilation(ice, iterations=3)] <= 0.5)  # the sea reads 0 m, as in DEMs
    # the tongue ends in a cliff of about CLIFF_M above the sea it touches (roughness and the surface's smoothing)
    touching = ice & ndimage.binary_dilation(sea, iterations=1)
    assert touching.sum() > 20 and 0.3 * CLIFF_M < float(np.median(z[touching])) < 3 * CLIFF_M
    # the terrain and the ELA came down together: the glaciers keep their accumulation areas
    assert r.ela_m < MARINE.ela_m - 100
    assert 0.2 < float((z[ice] > r.ela_m).mean()) < 0.9  # as in the same region without the sea (0.28)
    assert r.melange[r.years[0]].any()  # ice mélange in front of the calving front


def test_a_marine_region_needs_full_physics_and_no_real_inputs(tmp_path: Path) -> None:
    from glacierscale.cli import main
    from glacierscale.errors import ConfigError

    with pytest.raises(ConfigError, match="marine needs physics='full'"):
        build_region(RegionSpec(marine=True))
    assert main(["simulate", "--marine", "--physics", "classic", "--out", str(tmp_path / "s"), "--quiet"]) == 2
    assert not (tmp_path / "s").exists()


def test_a_region_without_marine_is_built_as_before() -> None:
    """The lake still goes to the second-largest glacier and no glacier is marine (the training data's regions)."""
    r = build_region(RegionSpec(physics="full", seed=903, size_px=768, years=(2021,)))
    kinds = [g.terminus_type for g in r.glaciers]
    assert "marine" not in kinds and kinds.count("lake") == 1 and not r.sea
    areas = [r.outlines[2021][g.glacier_id].area for g in r.glaciers]
    assert kinds.index("lake") == int(np.argsort(areas)[-2])
