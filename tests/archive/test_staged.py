"""Staged products keep every part number, radar-mapped outline included; files staged before it still read."""

from __future__ import annotations

import dataclasses
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import plan, product, unit

from glacierscale.archive.query import open_archive
from glacierscale.archive.run import open_run
from glacierscale.archive.staged import read_product, write_product
from glacierscale.archive.staging import UnitProduct

U1 = unit(400, 4000, ("G1", "G2"))


def _radar(p: UnitProduct, share: float) -> UnitProduct:
    """``p`` with ``share`` of each part's observed outline read from SAR alone."""
    return dataclasses.replace(p, parts=tuple(dataclasses.replace(g, radar_km2=g.observed_km2 * share) for g in p.parts))


def test_a_staged_product_keeps_its_radar_mapped_area(tmp_path: Path) -> None:
    p = _radar(product(U1, 2021), 0.25)
    url = str(tmp_path / "staging" / "r" / "2021" / U1.unit_id)
    write_product(p, url)
    back = read_product(url)
    assert [g.radar_km2 for g in back.parts] == pytest.approx([g.observed_km2 * 0.25 for g in p.parts])
    assert back.parts == p.parts


def test_a_product_staged_before_radar_km2_existed_reads_with_none_mapped_from_sar(tmp_path: Path) -> None:
    url = str(tmp_path / "old" / U1.unit_id)
    write_product(product(U1, 2021), url)
    npz = Path(url + ".npz")
    with np.load(npz) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["parts"] = arrays["parts"][:, :6]  # the six columns a staged file had before
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    npz.write_bytes(buf.getvalue())
    back = read_product(url)
    assert [g.radar_km2 for g in back.parts] == [0.0, 0.0]
    assert back.parts[0].soft_area_km2 == pytest.approx(product(U1, 2021).parts[0].soft_area_km2)
    assert json.loads(Path(url + ".done").read_text())["unit_id"] == U1.unit_id


def test_the_glacier_table_says_how_much_of_a_year_rests_on_sar(tmp_path: Path) -> None:
    arch = tmp_path / "archive"
    w = open_run(str(arch), "r1", plan("r1", [U1], [2020, 2021]), staging=str(tmp_path / "staging"))
    items = [w.stage(product(U1, 2020)), w.stage(_radar(product(U1, 2021), 0.4))]
    w.checkpoint(items)
    w.publish({"seconds": 1.0})
    table = open_archive(str(arch)).table().set_index(["glacier_id", "year"])
    assert table.loc[("G1", 2021), "radar_fraction"] == pytest.approx(0.4)
    assert table.loc[("G1", 2020), "radar_fraction"] == pytest.approx(0.0)
    assert table.loc[("G1", 2021), "area_source"] == "observed+radar"
    assert table.loc[("G1", 2020), "area_source"] == "observed"
    assert table.loc[("G1", 2021), "observed_fraction"] == pytest.approx(1.0)  # radar-mapped pixels are observed
