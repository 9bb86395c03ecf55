"""CLI contract: every command listed, clear errors for bad config, missing checkpoint, planned commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from glacierscale.cli import build_parser, main

CONTRACT = ("demo", "simulate", "plan", "run", "update", "train", "evaluate", "query", "catalog", "bench", "doctor")


def test_help_lists_every_command_of_the_contract(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    for cmd in CONTRACT:
        assert f"    {cmd}" in out


def test_malformed_config_names_field_and_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("catalog: {url: /nowhere}\ninventory: inv.gpkg\nyears: 2021:2022\narchive: a\n"
                   "infer: {patch_size: 128, overlap: 'lots'}\ncolour: blue\n")
    assert main(["run", str(cfg), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(cfg) in err
    assert "infer.overlap" in err and "colour: unknown field" in err


def test_missing_checkpoint_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from glacierscale.simulate import RegionSpec, simulate

    scenes = simulate(RegionSpec(size_px=128, years=(2021,), s2_per_year=1, s1_per_year=1, seed=5), tmp_path / "cat",
                      progress=False)
    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"catalog: {{url: {scenes.root}}}\ninventory: {scenes.inventory}\nyears: [2021]\n"
                   f"archive: {tmp_path / 'arch'}\nmodel: {{checkpoint: {tmp_path / 'no-such-ckpt'}}}\n")
    assert main(["run", str(cfg), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"checkpoint {tmp_path / 'no-such-ckpt'} does not exist" in err
    assert not (tmp_path / "arch").exists()


def test_run_flags_alone_make_a_config(tmp_path: Path) -> None:
    from glacierscale.config import load_run_config

    cfg = load_run_config(None, {"catalog": str(tmp_path), "inventory": "inv.gpkg", "years": "2016:2018",
                                 "archive": "s3://bucket/archive"})
    assert cfg.years == [2016, 2017, 2018]
    assert cfg.catalog.url == str(tmp_path)
    assert cfg.resolved_cube_store() == "s3://bucket/archive-cubes"
