"""Candidate glaciers: ice beyond every outline's buffer kept with its own id, through the reducer and the archive."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely import wkb
from shapely.geometry import box

from glacierscale.infer.actors import TileResult
from glacierscale.inventory.units import WorkUnit, unit_id
from glacierscale.reduce.candidates import candidate_id, candidate_location, is_candidate
from glacierscale.reduce.tasks import reduce_item

GROUND = 2e-3  # pixel ground area vs resolution² in UTM (reduce.areas.pixel_areas_km2)
RES, SIZE, PAD = 20.0, 64, 8


def _unit(col: int, ids: tuple[str, ...] = ("A",)) -> WorkUnit:
    return WorkUnit(unit_id(32632, RES, SIZE, col, 4000), 32632, col, 4000, RES, SIZE, ids, overlap_px=PAD)


U1, U2 = _unit(300), _unit(301)
X0, Y0 = U1.bounds[0], U1.bounds[1]  # x 384000, y 5120000 (about 7.5° E, 46.2° N)


def _glacier() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"glacier_id": ["A"]}, geometry=[box(X0 + 100, Y0 + 100, X0 + 400, Y0 + 400)], crs=32632)


def _tile(unit: WorkUnit, ice: list[tuple[float, float, float, float]], year: int = 2021) -> TileResult:
    """A padded tile with clean ice over the given (x0, y0, x1, y1) boxes (metres)."""
    n = unit.read_size_px
    left, top = unit.padded_bounds()[0], unit.padded_bounds()[3]
    classes = np.zeros((n, n), np.uint8)
    for x0, y0, x1, y1 in ice:
        r0, r1 = max(0, int((top - y1) / RES)), max(0, int((top - y0) / RES))
        c0, c1 = max(0, int((x0 - left) / RES)), max(0, int((x1 - left) / RES))
        classes[r0:r1, c0:c1] = 1
    prob = np.where(classes > 0, 90, 5).astype(np.uint8)
    return TileResult(unit.unit_id, year, classes, prob, 0.1, {"s2": False})


def _reduce(unit: WorkUnit, tile: TileResult, min_km2: float | None = 0.01):
    return reduce_item(unit, tile, _glacier(), input_hash="i", model_hash="m", scenes={}, max_distance_m=100.0,
                       min_object_km2=0.0, candidate_min_km2=min_km2)


# a 200 m × 200 m snow field 450 m north-east of glacier A (beyond its 100 m buffer), centred at 7.508° E 46.231° N
FIELD = (X0 + 850, Y0 + 700, X0 + 1050, Y0 + 900)
FIELD_ID = "cand-G007510E46230N"
GLACIER_ICE = (X0 + 100, Y0 + 100, X0 + 400, Y0 + 400)


def test_ids_are_glims_style_codes_rounded_to_a_hundredth_of_a_degree() -> None:
    assert candidate_id(-117.3204, 52.2003) == "cand-G242680E52200N"
    assert candidate_id(170.12, -43.456) == "cand-G170120E43460S"
    assert candidate_location("cand-G242680E52200N") == pytest.approx((-117.32, 52.2))
    assert candidate_location("cand-G170120E43460S") == pytest.approx((170.12, -43.46))
    assert is_candidate("cand-G170120E43460S") and not is_candidate("RGI2000-v7.0-G-11-01234")
    with pytest.raises(ValueError, match=r"'RGI60-11\.00001' is not a candidate id"):
        candidate_location("RGI60-11.00001")


def test_ice_beyond_every_buffer_becomes_a_candidate_part_with_its_area_and_polygon() -> None:
    p = _reduce(U1, _tile(U1, [GLACIER_ICE, FIELD]))
    parts = {g.glacier_id: g for g in p.parts}
    assert set(parts) == {"A", FIELD_ID}
    cand = parts[FIELD_ID]
    assert cand.area_km2 == pytest.approx(0.04, rel=GROUND)  # 200 m × 200 m
    assert cand.outline_km2 == pytest.approx(cand.area_km2) and cand.observed_km2 == pytest.approx(cand.area_km2)
    assert wkb.loads(cand.outline_wkb).area == pytest.approx(40_000.0)
    assert parts["A"].area_km2 == pytest.approx(0.09, rel=GROUND)
    assert p.unattributed_km2 == 0.0  # nothing is dropped: the field is a candidate


def test_candidates_off_or_too_small_stay_unattributed() -> None:
    off = _reduce(U1, _tile(U1, [GLACIER_ICE, FIELD]), min_km2=None)
    assert [g.glacier_id for g in off.parts] == ["A"] and off.unattributed_km2 == pytest.approx(0.04, rel=GROUND)
    small = _reduce(U1, _tile(U1, [GLACIER_ICE, FIELD]), min_km2=0.05)
    assert [g.glacier_id for g in small.parts] == ["A"] and small.unattributed_km2 == pytest.approx(0.04, rel=GROUND)


def test_a_candidate_keeps_its_id_when_its_edge_moves() -> None:
    shrunk = (FIELD[0] + 40, FIELD[1], FIELD[2], FIELD[3] - 40)  # two pixels lost on two sides the next year
    ids = [[g.glacier_id for g in _reduce(U1, _tile(U1, [GLACIER_ICE, f], y)).parts if is_candidate(g.glacier_id)]
           for f, y in ((FIELD, 2021), (shrunk, 2022))]
    assert ids[0] == ids[1] and len(ids[0]) == 1


def test_a_candidate_cut_by_a_tile_edge_has_one_id_and_its_whole_area_over_both_tiles() -> None:
    edge = U1.bounds[2]  # x of the boundary between U1 and U2
    field = (edge - 100, Y0 + 600, edge + 60, Y0 + 800)  # 160 m × 200 m, 5 px in U1 and 3 px in U2
    parts = [g for u in (U1, U2) for g in _reduce(u, _tile(u, [GLACIER_ICE, field])).parts if is_candidate(g.glacier_id)]
    assert len({g.glacier_id for g in parts}) == 1 and len(parts) == 2
    assert sum(g.area_km2 for g in parts) == pytest.approx(0.032, rel=GROUND)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> str:
    from glacierscale.archive.run import open_run
    from glacierscale.archive.staging import RunPlan

    tmp = tmp_path_factory.mktemp("candidates")
    inventory = _glacier().assign(rgi_id="RGI2000-v7.0-G-11-00001", lon=7.5, lat=46.2)
    run = open_run(str(tmp / "archive"), "r1", RunPlan("r1", [U1], [2021, 2022], inventory.drop(columns="geometry"),
                   config={}, checkpoint_hash="c", code_version="t"), staging=str(tmp / "staging"))
    items = [run.stage(_reduce(U1, _tile(U1, [GLACIER_ICE, FIELD], y))) for y in (2021, 2022)]
    run.checkpoint(items)
    run.publish({})
    return str(tmp / "archive")


def test_candidates_are_archived_with_their_location_and_listed_apart(archive: str) -> None:
    from glacierscale.archive.query import open_archive

    arch = open_archive(archive)
    cands = arch.candidates()
    assert sorted(cands["year"]) == [2021, 2022]
    assert set(cands["glacier_id"]) == {FIELD_ID}
    assert cands["area_km2"].to_numpy() == pytest.approx([0.04, 0.04], rel=GROUND)
    assert cands["lon"].iloc[0] == pytest.approx(7.51) and cands["lat"].iloc[0] == pytest.approx(46.23)
    assert (cands["quality"] == "ok").all() and cands["rgi_id"].eq("").all()
    assert set(arch.table()["glacier_id"]) == {"A", FIELD_ID}


def test_cli_lists_candidates_and_refuses_changes_with_them(archive: str, capsys: pytest.CaptureFixture[str]) -> None:
    from glacierscale.cli import main

    assert main(["query", archive, "--candidates", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith(FIELD_ID + ",") for line in lines[1:])
    assert float(lines[1].split(",")[2]) == pytest.approx(0.04, rel=GROUND)
    assert main(["query", archive, "--candidates", "--changes"]) == 2
    assert "--changes with --candidates" in capsys.readouterr().err
