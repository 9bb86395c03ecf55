"""What `glacierscale run` maps: the config's regions and plan decide the glaciers and work units."""

from __future__ import annotations

from pathlib import Path

import pytest

from glacierscale.config import GridConfig, build_run_config
from glacierscale.errors import ConfigError, InputError
from glacierscale.inventory import grid
from glacierscale.inventory.plan import PlanSpec, make_plan, write_plan
from glacierscale.inventory.units import plan_units, read_inventory
from glacierscale.pipeline import plan_run

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
OETZTAL = REAL / "oggm-sample-data" / "oetztal" / "rgi_oetztal.shp"
EVEREST = REAL / "geoutils-data-everest" / "15_rgi60_glacier_outlines.gpkg"


@pytest.fixture(scope="module", autouse=True)
def _real_data() -> None:
    if not OETZTAL.is_file():
        pytest.skip(f"{OETZTAL} is missing (../shared/data/real beside the repository)")


def _cfg(tmp_path: Path, **fields: object) -> object:
    return build_run_config({"catalog": {"url": str(tmp_path)}, "inventory": str(OETZTAL), "years": [2021],
                             "archive": str(tmp_path / "archive"), **fields}, "test")


def test_grid_defaults_are_the_planners() -> None:
    g = GridConfig()
    assert (g.resolution, g.tile_size, g.margin_m, g.overlap_px) == (
        grid.DEFAULT_RESOLUTION_M, grid.DEFAULT_TILE_PX, grid.DEFAULT_MARGIN_M, grid.DEFAULT_OVERLAP_PX)


def test_regions_are_normalised_and_unknown_codes_name_the_field(tmp_path: Path) -> None:
    assert _cfg(tmp_path, regions="11,11-1").regions == ["11", "11-01"]  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=r"regions: .*unknown RGI region code '42'"):
        _cfg(tmp_path, regions=["42"])


def test_without_regions_every_glacier_is_planned_on_the_config_grid(tmp_path: Path) -> None:
    inventory, units = plan_run(_cfg(tmp_path))  # type: ignore[arg-type]
    assert len(inventory) == 20
    assert {u.overlap_px for u in units} == {32} and {u.size_px for u in units} == {1024}
    assert {g for u in units for g in u.glacier_ids} == set(inventory["glacier_id"])


def test_regions_select_glaciers_and_a_region_without_any_is_an_error(tmp_path: Path) -> None:
    inventory, _ = plan_run(_cfg(tmp_path, regions=["11"]))  # type: ignore[arg-type]
    assert len(inventory) == 20  # Ötztal is all in region 11, Central Europe
    with pytest.raises(ConfigError, match=r"selection \(regions 13\) leaves no glacier of inventory .*rgi_oetztal"):
        plan_run(_cfg(tmp_path, regions=["13"]))  # type: ignore[arg-type]


def test_a_written_plan_gives_the_units_planning_gives(tmp_path: Path) -> None:
    plan = make_plan(OETZTAL, PlanSpec(resolution=20.0, tile_size=256, margin_m=500.0, overlap_px=16, years=(2021,)))
    path = write_plan(plan, tmp_path / "plan.parquet")
    inventory, units = plan_run(_cfg(tmp_path, plan=str(path)))  # type: ignore[arg-type]
    direct = plan_units(read_inventory(OETZTAL), 20.0, 256, 500.0, overlap_px=16)
    assert [u.unit_id for u in units] == [u.unit_id for u in direct]
    assert units == direct and len(inventory) == 20


def test_a_plan_from_another_inventory_is_refused(tmp_path: Path) -> None:
    if not EVEREST.is_file():
        pytest.skip(f"{EVEREST} is missing")
    path = write_plan(make_plan(EVEREST, PlanSpec(years=(2021,))), tmp_path / "everest.parquet")
    with pytest.raises(InputError, match=r"plan .*everest.parquet lists 86 glaciers that inventory .*rgi_oetztal"):
        plan_run(_cfg(tmp_path, plan=str(path)))  # type: ignore[arg-type]


@pytest.mark.parametrize("how", ["inventory", "regions", "plan"])
def test_repaired_outlines_reach_the_run_summary(tmp_path: Path, how: str) -> None:
    import geopandas as gpd
    from shapely.geometry import Polygon, box

    bow_tie = Polygon([(10.0, 46.0), (10.02, 46.02), (10.02, 46.0), (10.0, 46.02)])  # self-intersecting
    inv = tmp_path / "inv.gpkg"
    gpd.GeoDataFrame({"RGIId": ["RGI60-11.00001", "RGI60-11.00002"], "O1Region": ["11", "11"]},
                     geometry=[bow_tie, box(10.05, 46.0, 10.07, 46.02)], crs=4326).to_file(inv)
    fields: dict[str, object] = {"catalog": {"url": str(tmp_path)}, "inventory": str(inv), "years": [2021],
                                 "archive": str(tmp_path / "archive")}
    if how == "regions":
        fields["regions"] = ["11"]
    if how == "plan":
        fields["plan"] = str(write_plan(make_plan(inv, PlanSpec(years=(2021,))), tmp_path / "plan.parquet"))
    glaciers, _ = plan_run(build_run_config(fields))
    repairs = glaciers.attrs.get("repairs", [])
    assert [(r.glacier_id, r.action) for r in repairs] == [("RGI60-11.00001", "repaired")]
    assert "Self-intersection" in repairs[0].problem
