"""Bad input a new user might give: exit status 2, a message naming the input and what is wrong, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from glacierscale.cli import main


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err and "panicked" not in err
    return code, err


def test_query_on_a_file_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "results.csv"
    target.write_text("glacier,area\n")
    code, err = run_cli(["query", str(target), "--glacier", "RGI60-01.00570"], capsys)
    assert code == 2
    assert f"archive {target} is a file, not a change archive folder" in err


@pytest.mark.parametrize(("content", "says"), [
    (None, "is a folder, not a STAC item file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "is not a STAC item: a binary file"),
    (b'{"type": "FeatureCollection", "features": 3}', "'features' must be a list of STAC items"),
])
def test_catalog_inspect_refuses_what_is_not_an_item(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      content: bytes | None, says: str) -> None:
    target = tmp_path / "item"
    if content is None:
        target.mkdir()
    else:
        target.write_bytes(content)
    code, err = run_cli(["catalog", "inspect", str(target)], capsys)
    assert code == 2
    assert f"{target}" in err and says in err


def test_an_icechunk_panic_on_open_becomes_an_archive_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    import icechunk

    class PanicException(BaseException):  # pyo3_runtime.PanicException: a BaseException, not an Exception
        pass

    def panic(storage: object) -> bool:
        raise PanicException("failed to create object store: ICError { kind: Other(...) }, context: SpanTrace [...]")

    monkeypatch.setattr(icechunk.Repository, "exists", staticmethod(panic))
    code, err = run_cli(["query", str(tmp_path), "--glacier", "G1"], capsys)
    assert code == 2
    assert f"cannot open archive {tmp_path}: failed to create object store" in err
    assert "SpanTrace" not in err


@pytest.mark.parametrize("argv", [
    ["simulate", "--out", "OUT", "--bbox", "-147.2,61.08,-146.98,61.22"],
    ["plan", "--inventory", "rgi.gpkg", "--bbox", "-147.2,61.08,-146.98,61.22"],
    ["query", "ARCH", "--bbox", "-147.2,61.08,-146.98,61.22"],
    ["export", "ARCH", "--outlines", "o.parquet", "--bbox", "-147.2,61.08,-146.98,61.22"],
])
def test_a_western_hemisphere_bbox_is_a_value_not_an_option(argv: list[str]) -> None:
    from glacierscale.cli import build_parser, join_negative_values

    args = build_parser().parse_args(join_negative_values(argv))
    bbox = args.bbox if isinstance(args.bbox, tuple) else tuple(float(v) for v in args.bbox.split(","))
    assert bbox == (-147.2, 61.08, -146.98, 61.22)


@pytest.mark.parametrize("command", [["plan", "--inventory", "rgi.gpkg"], ["query", "ARCH"]])
def test_a_bbox_across_the_antimeridian_is_accepted(command: list[str]) -> None:
    from glacierscale.cli import build_parser, join_negative_values

    args = build_parser().parse_args(join_negative_values([*command, "--bbox", "179.5,51,-179.5,52"]))
    assert args.bbox == (179.5, 51.0, -179.5, 52.0)


def test_plan_selects_glaciers_on_both_sides_of_the_antimeridian(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import geopandas as gpd
    from shapely.geometry import box

    inv = tmp_path / "aleutians.gpkg"
    gpd.GeoDataFrame({"RGIId": ["RGI60-01.00001", "RGI60-01.00002", "RGI60-01.00003"], "O1Region": ["1", "1", "1"]},
                     geometry=[box(179.6, 51.5, 179.62, 51.51), box(-179.62, 51.5, -179.6, 51.51),
                               box(-170.0, 51.5, -169.98, 51.51)], crs=4326).to_file(inv)
    out = tmp_path / "plan.parquet"
    code, err = run_cli(["plan", "--inventory", str(inv), "--years", "2021", "--bbox", "179.5,51,-179.5,52",
                         "--out", str(out)], capsys)
    assert code == 0, err
    assert sorted(set(gpd.read_parquet(out)["glacier_ids"].explode())) == ["RGI60-01.00001", "RGI60-01.00002"]


def test_demo_refuses_a_workdir_that_is_not_a_demo_workdir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "archive").mkdir()
    (tmp_path / "notes.txt").write_text("mine")
    code, err = run_cli(["demo", "--workdir", str(tmp_path), "--quiet"], capsys)
    assert code == 2
    assert f"--workdir {tmp_path} is a folder with other files in it, not a demo workdir" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive", "notes.txt"]  # nothing written


def test_demo_refuses_a_file_as_workdir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "work"
    target.write_text("x")
    code, err = run_cli(["demo", "--workdir", str(target), "--quiet"], capsys)
    assert code == 2
    assert f"--workdir {target} is a file" in err


def test_demo_accepts_its_own_workdir_and_an_empty_one(tmp_path: Path) -> None:
    from glacierscale.cli.demo import _check_workdir

    _check_workdir(tmp_path)  # empty
    (tmp_path / "catalog").mkdir()
    (tmp_path / "catalog" / "simulation.json").write_text("{}")
    (tmp_path / "demo.yaml").write_text("name: demo\n")
    (tmp_path / "archive").mkdir()
    _check_workdir(tmp_path)  # a previous demo's


def test_errors_inherit_the_builtin_they_resemble() -> None:
    import glacierscale.errors as errors

    for name in ("CatalogError", "CubeError", "ArchiveError", "EmptySearchError", "ArchiveConflictError"):
        assert issubclass(getattr(errors, name), OSError), name
    assert issubclass(errors.CheckpointMismatchError, ValueError)
    assert not hasattr(errors, "NotAvailableError")
    assert str(errors.CubeError("cube x cannot be written")) == "cube x cannot be written"
