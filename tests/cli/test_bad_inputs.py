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
