"""Training and evaluation samples from simulated scene sets: the run's tiles over the simulated window."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from glacierscale.errors import InputError
from glacierscale.simulate import RegionSpec, simulate
from glacierscale.training.data import scene_samples


def test_a_svalbard_region_is_sampled_on_the_runs_polar_tiles(tmp_path: Path) -> None:
    """The simulator grids in UTM up to 84° N as Sentinel-2 does; the run tiles polar stereographic from 72° N.
    Before, no tile matched the simulation's CRS and evaluate failed with "need at least one array"."""
    simulate(RegionSpec(center_lon=12.1, center_lat=78.9, years=(2022,), s2_per_year=1, s1_per_year=1,
                        landsat_per_year=1, seed=5, ela_m=500.0, name="svalbard"), tmp_path / "s", progress=False)
    samples = scene_samples(tmp_path / "s", [2022], 20.0, 128)
    assert len(samples) == 6  # 2.56 km tiles of EPSG:3413 lying mostly inside the 7.68 km UTM 33X window
    glacier = [int(np.isin(s.labels, (1, 2)).sum()) for s in samples]
    assert sum(glacier) > 10_000 and all(s.data.shape == (13, 128, 128) for s in samples)


def test_a_window_smaller_than_one_tile_is_refused_naming_the_folder(tmp_path: Path) -> None:
    simulate(RegionSpec(size_px=128, years=(2022,), s2_per_year=1, s1_per_year=1, seed=5), tmp_path / "tiny",
             progress=False)
    with pytest.raises(InputError, match=r"tiny: no tile of the run's grid \(128 px × 20 m\)"):
        scene_samples(tmp_path / "tiny", [2022], 20.0, 128)


@pytest.mark.parametrize(("field", "changed", "value"), [
    ("revisit", {"revisit": "real"}, "real"),
    ("cloud_climate", {"physics": "full", "cloud_climate": "maritime"}, "maritime"),
    ("forefield_m", {"physics": "full", "forefield_m": 600.0}, 600.0),
])
def test_a_training_cache_from_before_a_spec_field_is_kept(field: str, changed: dict, value: object, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Scenes simulated before a RegionSpec field existed are the field's default; another value simulates again."""
    from glacierscale.training import data

    spec = RegionSpec(size_px=128, years=(2022,), s2_per_year=1, s1_per_year=1, seed=3, name="old")
    simulate(spec, tmp_path / "old", sensors=("s2", "s1", "dem"), progress=False)
    meta = tmp_path / "old" / "simulation.json"
    stored = json.loads(meta.read_text())
    del stored[field]  # as written before the field existed
    meta.write_text(json.dumps(stored, indent=1))
    calls: list[object] = []
    monkeypatch.setattr(data, "simulate", lambda s, *a, **k: calls.append(getattr(s, field)))
    monkeypatch.setattr(data, "cached_samples", lambda *a, **k: [])
    monkeypatch.setattr(data, "refresh_truth", lambda *a, **k: False)
    data.region_samples(spec, tmp_path, [2022], 10.0, 128)
    assert calls == [] and meta.is_file(), "scenes simulated before the field are still this spec's"
    data.region_samples(replace(spec, **changed), tmp_path, [2022], 10.0, 128)
    assert calls == [value], f"another {field} simulates again"
