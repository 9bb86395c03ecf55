"""Debris on some eligible tongues only (RegionSpec.debris_probability): big flat tongues are not always debris."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from glacierscale.simulate.region import RegionSpec, build_region

# a procedural full-physics region whose large, gentle tongues are eligible for debris
SPEC = RegionSpec(size_px=384, years=(2022,), seed=301, physics="full", ela_m=3000.0, debris_min_area_km2=0.2,
                  debris_max_slope_deg=25.0)


def test_every_eligible_tongue_is_debris_covered_by_default_and_none_at_probability_zero() -> None:
    everyone = build_region(SPEC)
    covered = [g.glacier_id for g in everyone.glaciers if g.debris_covered]
    assert len(covered) >= 2 and everyone.masks[2022][1].sum() > 0
    none = build_region(replace(SPEC, debris_probability=0.0))
    assert not any(g.debris_covered for g in none.glaciers) and none.masks[2022][1].sum() == 0
    # the glaciers themselves are the same: only the cover of their tongues changed
    assert np.array_equal(none.masks[2022][0], everyone.masks[2022][0])
    assert [g.glacier_id for g in none.glaciers] == [g.glacier_id for g in everyone.glaciers]


def test_a_probability_keeps_about_that_share_of_tongues_debris_covered_and_is_reproducible() -> None:
    eligible = covered = 0
    for seed in range(301, 309):
        spec = replace(SPEC, seed=seed)
        everyone = {g.glacier_id for g in build_region(spec).glaciers if g.debris_covered}
        drawn = {g.glacier_id for g in build_region(replace(spec, debris_probability=0.5)).glaciers
                 if g.debris_covered}
        assert drawn <= everyone  # only eligible tongues carry debris
        eligible, covered = eligible + len(everyone), covered + len(drawn)
        if seed == 301:
            again = {g.glacier_id for g in build_region(replace(spec, debris_probability=0.5)).glaciers
                     if g.debris_covered}
            assert again == drawn  # the same seed draws the same tongues
    assert eligible >= 10 and 0.2 < covered / eligible < 0.8
    assert RegionSpec().debris_probability == 1.0


def test_classic_physics_refuses_a_probability_it_cannot_honour(tmp_path: object,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A classic region gives its longest glacier debris whatever the probability: a value below 1 there was once
    silently ignored (a training config set 0.4 on five classic regions and changed nothing); now it is refused."""
    from glacierscale.cli import main
    from glacierscale.errors import ConfigError

    with pytest.raises(ConfigError, match=r"RegionSpec\.debris_probability 0\.4 needs physics='full'"):
        build_region(RegionSpec(size_px=256, years=(2022,), seed=101, debris_probability=0.4))
    assert build_region(RegionSpec(size_px=256, years=(2022,), seed=101)).masks[2022][1].sum() > 0  # 1.0 is fine
    code = main(["simulate", "--physics", "classic", "--debris-probability", "0.4", "--out", f"{tmp_path}/o"])
    assert code == 2
    assert "--debris-probability 0.4 needs --physics full" in capsys.readouterr().err
