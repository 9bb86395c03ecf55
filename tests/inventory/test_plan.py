"""The plan: GeoParquet of work units (tile × time window), its summary, and `glacierscale plan`."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import yaml
from shapely.geometry import box

from glacierscale.cli import main
from glacierscale.errors import ConfigError, InputError
from glacierscale.inventory.plan import PLAN_COLUMNS, PlanSpec, default_years, make_plan, read_plan, write_plan
from glacierscale.inventory.regions import Selection
from glacierscale.inventory.units import plan_units, read_inventory

ICELAND = "oggm-sample-data/iceland/RGI6_icecap.shp"


@pytest.fixture(scope="module")
def iceland_plan(real: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, gpd.GeoDataFrame]:
    plan = make_plan(real / ICELAND, PlanSpec(years=(2020, 2021)))
    path = write_plan(plan, tmp_path_factory.mktemp("plan") / "iceland.parquet")
    return path, gpd.read_parquet(path)


def test_plan_file_has_one_row_per_tile_and_year(iceland_plan: tuple[Path, gpd.GeoDataFrame]) -> None:
    _, table = iceland_plan
    assert tuple(table.columns) == PLAN_COLUMNS
    assert table.crs.to_epsg() == 4326
    assert len(table) == 26 * 2 and table["unit_id"].nunique() == 26
    assert table["work_id"].is_unique
    assert table["work_id"].iloc[0] == f"{table['unit_id'].iloc[0]}_2020"
    assert set(table["epsg"]) == {32627} and set(table["crs_kind"]) == {"utm"} and set(table["region"]) == {"06"}
    assert {str(d) for d in table["window_start"]} == {"2020-07-15", "2021-07-15"}
    assert {str(d) for d in table["window_end"]} == {"2020-09-30", "2021-09-30"}
    assert set(table["hemisphere"]) == {"north"}
    assert (table["n_glaciers"] == table["glacier_ids"].map(len)).all()
    assert (table["maxx"] - table["minx"] == 10240.0).all() and set(table["overlap_px"]) == {32}
    # every glacier is listed, and every footprint lies over Mýrdalsjökull / Eyjafjallajökull
    listed = {g for ids in table["glacier_ids"] for g in ids}
    assert len(listed) == 61
    w, s, e, n = table.total_bounds
    assert -20.0 < w < e < -18.5 and 63.4 < s < n < 64.2


def test_plan_file_gives_back_the_units_of_plan_units(real: Path, iceland_plan: tuple[Path, gpd.GeoDataFrame]) -> None:
    path, _ = iceland_plan
    units, years = read_plan(path)
    assert years == [2020, 2021]
    assert units == plan_units(read_inventory(real / ICELAND), 10.0, 1024, 1000.0)  # what `run` will address


def test_summary_counts_regions_and_area(real: Path) -> None:
    plan = make_plan(real / ICELAND, PlanSpec(years=(2020, 2021, 2022)))
    s = plan.summary()
    assert (s.tiles, s.work_units, s.glaciers) == (26, 78, 61)
    assert s.area_km2 == pytest.approx(706.19, abs=0.05)  # RGI 6.0 'Area' of these outlines sums to 706.19 km²
    row = s.by_region.iloc[0]
    assert (row["region"], row["name"], row["glaciers"], row["tiles"], row["work_units"]) == ("06", "Iceland", 61, 26, 78)
    assert s.by_crs[["epsg", "crs_kind", "tiles"]].values.tolist() == [[32627, "utm", 26]]
    assert [r.glacier_id for r in plan.repairs] == ["RGI60-06.00328"]


def test_southern_and_antimeridian_units() -> None:
    nz = box(170.1, -43.6, 170.2, -43.5)
    chukotka = box(179.95, 65.6, 180.05, 65.65)
    inv = gpd.GeoDataFrame({"glacier_id": ["nz", "chukotka"], "o1region": ["18", "10"]}, geometry=[nz, chukotka],
                           crs=4326)
    table = pd.DataFrame(make_plan(inv, PlanSpec(years=(2020,)), Selection()).table().to_pandas())
    south = table[table["region"] == "18"]
    assert set(south["hemisphere"]) == {"south"} and {str(d) for d in south["window_start"]} == {"2020-01-15"}
    footprints = shapely.from_wkb(table.loc[table["region"] == "10", "geometry"])
    assert {g.geom_type for g in footprints} == {"MultiPolygon", "Polygon"}  # tiles on the line are cut at 180
    assert all(g.bounds[0] >= -180 and g.bounds[2] <= 180 for g in footprints)


def test_min_area_is_applied_after_tiling(real: Path) -> None:
    plan = make_plan(real / ICELAND, PlanSpec(years=(2020,)), Selection(min_area_km2=5.0))
    assert len(plan.glaciers) == 20 and (plan.glaciers["outline_km2"] >= 5).all()
    assert plan.summary().tiles == 21
    with pytest.raises(ConfigError, match=re.escape("leaves no glacier of inventory") + ".*>= 5000 km²"):
        make_plan(real / ICELAND, PlanSpec(), Selection(min_area_km2=5000.0))


def test_read_plan_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=re.escape(f"plan {tmp_path / 'x.parquet'} does not exist")):
        read_plan(tmp_path / "x.parquet")
    other = tmp_path / "areas.parquet"
    pd.DataFrame({"glacier_id": ["G1"]}).to_parquet(other)
    with pytest.raises(InputError, match=re.escape(f"plan {other} is not a glacierscale plan")):
        read_plan(other)


def test_default_years() -> None:
    import datetime as dt

    assert default_years(dt.date(2026, 3, 1)) == tuple(range(2016, 2026))


# --- glacierscale plan ------------------------------------------------------------------------------------------


def test_cli_plans_with_defaults_from_inventory_alone(real: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "plan.parquet"
    assert main(["plan", "--inventory", str(real / ICELAND), "--years", "2020:2021", "--out", str(out)]) == 0
    text = re.sub(r"\s+", " ", capsys.readouterr().out)
    assert "work units per RGI region" in text and "06 │ Iceland │ 61 │ 706.2 │ 26 │ 52" in text
    assert "32627 │ utm │ 26 │ 52" in text
    assert "61 outlines read, 61 glaciers selected (all glaciers), 706.2 km² of ice" in text
    assert "26 tiles of 1024 px at 10 m (10.24 km, margin 1000 m, overlap 32 px)" in text
    assert "repaired 1 invalid outlines, dropped 0: RGI60-06.00328 repaired (Ring Self-intersection" in text
    assert gpd.read_parquet(out)["unit_id"].nunique() == 26


def test_cli_selection_flags(real: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("RGI60-06.00313\nRGI60-06.00314\n")
    out = tmp_path / "p.parquet"
    assert main(["plan", "--inventory", str(real / ICELAND), "--regions", "6", "--ids", f"@{ids}", "--years", "2020",
                 "--resolution", "20", "--tile-size", "512", "--margin", "0", "--out", str(out)]) == 0
    table = gpd.read_parquet(out)
    assert set(g for ids_ in table["glacier_ids"] for g in ids_) == {"RGI60-06.00313", "RGI60-06.00314"}
    assert table["unit_id"].str.match(r"^32627_20m_512_\d+_\d+$").all()
    assert "(regions 06; 2 glacier ids)" in re.sub(r"\s+", " ", capsys.readouterr().out)


@pytest.mark.parametrize(("argv", "message"), [
    (["--regions", "23"], "unknown RGI region code '23'"),
    (["--regions", "13"], "the selection (regions 13) leaves no glacier of inventory"),
    (["--bbox", "170,60,171,61"], "the selection (bbox 170,60,171,61) leaves no glacier"),
    (["--ids", "RGI60-06.99999"], "1 of 1 requested glacier ids are not in inventory"),
    (["--columns", "glacier_id=NOPE"], "has no column 'NOPE' (mapped to glacier_id)"),
    (["--years", "2020:2019"], "--years: years must look like 2016:2020"),
    (["--tile-size", "0"], "--tile-size must be positive, got 0"),
])
def test_cli_errors(real: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    out = tmp_path / "p.parquet"
    assert main(["plan", "--inventory", str(real / ICELAND), "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("glacierscale plan: error: ") and message in err
    assert not out.exists()


def test_cli_needs_an_inventory(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan"]) == 2
    assert "plan needs a CONFIG or --inventory FILE" in capsys.readouterr().err


def test_cli_not_an_inventory(real: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = real / "oggm-sample-data/hintereisferner/rgi7/rgi7g_hef_intersects.shp"
    assert main(["plan", "--inventory", str(lines), "--out", str(tmp_path / "p.parquet")]) == 2
    assert f"inventory {lines} holds LineString features, not glacier outlines" in capsys.readouterr().err


def test_cli_uses_the_run_config(real: Path, tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({
        "catalog": {"url": "earth-search"}, "inventory": str(real / ICELAND), "years": "2019:2020",
        "archive": str(tmp_path / "archive"),
        "grid": {"resolution": 20.0, "tile_size": 256, "margin_m": 0.0, "overlap_px": 8},
        "season": {"start": "08-01", "end": "09-15"}, "regions": ["06"]}))
    out = tmp_path / "p.parquet"
    assert main(["plan", str(config), "--out", str(out)]) == 0
    table = gpd.read_parquet(out)
    assert table["unit_id"].str.startswith("32627_20m_256_").all()
    assert sorted(table["year"].unique()) == [2019, 2020]
    assert {str(d) for d in table["window_start"]} == {"2019-08-01", "2020-08-01"}
    assert np.all(table["margin_m"] == 0.0) and np.all(table["overlap_px"] == 8)
    assert set(table["region"]) == {"06"}
    config.write_text(config.read_text().replace("- '06'", "- '07'"))  # the config's regions select
    assert main(["plan", str(config), "--out", str(out)]) == 2
