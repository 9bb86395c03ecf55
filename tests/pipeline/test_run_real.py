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
