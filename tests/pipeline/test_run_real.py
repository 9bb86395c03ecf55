"""The real run (rustac STAC API, stackstac cubes, the shipped model on a local Ray, icechunk) on simulated catalogs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from glacierscale.archive import open_archive
from glacierscale.cli import main
from glacierscale.simulate import SceneSet

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default_sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`glacierscale simulate --out S` with every default (full physics, clouds, 3 years, 4 glaciers)."""
    out = tmp_path_factory.mktemp("default-sim") / "S"
    assert main(["simulate", "--out", str(out), "--quiet"]) == 0
    return out


def test_default_simulation_runs_with_partial_views(default_sim: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Tiles the region only partly covers, and cloud gaps, are mapped from what there is: exit 0."""
    archive = tmp_path / "archive"
    code = main(["run", "--catalog", str(default_sim), "--inventory", str(default_sim / "inventory.gpkg"),
                 "--years", "2021:2023", "--archive", str(archive), "--quiet"])
    assert code == 0, capsys.readouterr().err[-3000:]
    table = open_archive(str(archive)).table()
    assert len(table) == 4 * 3 and sorted(set(table["year"])) == [2021, 2022, 2023]
    assert table["area_km2"].gt(0.3).all() and table["observed_fraction"].between(0, 1).all()
    partial = table[table["observed_fraction"] < 0.9]
    assert len(partial) >= 1 and set(partial["quality"]) == {"partial"}  # flagged, not silently smaller
    assert set(table.loc[table["observed_fraction"] >= 0.9, "quality"]) <= {"ok"}


def test_mapping_under_clouds_observes_the_clouded_ice_and_says_how_much_rests_on_sar(
        default_sim: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same region twice: clouded glacier-years are observed from SAR + DEM, counted in radar_fraction."""
    flags = ["--catalog", str(default_sim), "--inventory", str(default_sim / "inventory.gpkg"), "--years", "2021:2023",
             "--quiet"]
    assert main(["run", *flags, "--archive", str(tmp_path / "optical")]) == 0, capsys.readouterr().err[-3000:]
    assert main(["run", *flags, "--archive", str(tmp_path / "radar"), "--map-under-clouds"]) == 0
    optical = open_archive(str(tmp_path / "optical")).table().set_index(["glacier_id", "year"])
    radar = open_archive(str(tmp_path / "radar")).table().set_index(["glacier_id", "year"])
    assert (optical["radar_fraction"] == 0).all() and not optical["area_source"].str.contains("radar").any()
    clouded = optical.index[optical["observed_fraction"] < 0.9]
    assert len(clouded) >= 1
    gained = radar.loc[clouded, "observed_fraction"] - optical.loc[clouded, "observed_fraction"]
    assert (gained > 0.05).all()  # the clouded part is read, not left to the other years
    assert (radar.loc[clouded, "radar_fraction"] >= gained - 1e-6).all()  # and said to rest on SAR
    assert radar.loc[clouded, "area_source"].str.contains("radar").all()
    assert set(radar["model_hash"]) == {f"{h}+under-clouds" for h in set(optical["model_hash"])}
    # against the simulator's true outlines, the SAR reading of the clouded parts is at least as good as
    # carrying the neighbouring years' ice into them (0.6 % vs 0.5 % mean error: docs/products.md)
    import geopandas as gpd

    truth = gpd.read_file(default_sim / "truth" / "truth_outlines.gpkg").set_index(["glacier_id", "year"])["area_km2"]
    err = {k: float((t["area_km2"] / truth.loc[t.index] - 1).abs().mean()) for k, t in (("optical", optical),
                                                                                        ("radar", radar))}
    assert err["radar"] <= err["optical"] + 0.002 and err["radar"] < 0.02


def test_a_corrupt_cog_fails_its_item_only(scene_set: SceneSet, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """One unreadable Sentinel-2 asset of 2022: 2021 is archived, 2022 fails naming the file, exit 1."""
    cat = tmp_path / "catalog"
    shutil.copytree(scene_set.root, cat)
    for listing in cat.glob("*/items.ndjson"):  # point the copy's items at the copy's files
        listing.write_text(listing.read_text().replace(str(scene_set.root), str(cat)))
    items = [json.loads(line) for line in (cat / "sentinel-2-l2a" / "items.ndjson").read_text().splitlines() if line]
    victim = next(it for it in items if it["properties"]["datetime"].startswith("2022"))
    path = Path(victim["assets"]["green"]["href"])
    assert cat in path.parents
    path.write_bytes(b"this is not a TIFF" * 100)
    cfg = {"name": "corrupt", "catalog": {"url": str(cat)}, "inventory": str(cat / "inventory.gpkg"),
           "years": "2021:2022", "archive": str(tmp_path / "archive"), "cube_store": str(tmp_path / "cubes"),
           "grid": {"resolution": 20, "tile_size": 128, "margin_m": 0, "overlap_px": 0},
           "selection": {"max_scenes": 4}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    code = main(["run", str(tmp_path / "run.yaml"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 1
    assert path.name in out and "failed" in out
    table = open_archive(str(tmp_path / "archive")).table()
    assert set(table["year"]) == {2021} and len(table) == 4
    assert main(["status", str(tmp_path / "run.yaml"), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert {f["year"] for f in status["failures"]} == {2022}
    assert all(Path(f["file"]).name == path.name for f in status["failures"])
