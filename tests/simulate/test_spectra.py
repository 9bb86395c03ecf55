"""The spectra check: simulated full-physics pixels against real hand-labelled Sentinel-2 spectra."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from glacierscale.simulate.spectra import HIGH_PCT, LOW_PCT, check_spectra, real_spectra, simulated_spectra

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real" / "aberle-glacier-spectra"


@pytest.fixture(scope="module")
def real() -> dict[str, np.ndarray]:
    if not (REAL / "Sentinel-2_SR_training_data.csv").is_file():
        pytest.skip(f"real labelled spectra not found at {REAL} (../shared/data/real/aberle-glacier-spectra)")
    return real_spectra(REAL)


def test_every_class_median_lies_inside_the_real_distribution(real: dict[str, np.ndarray]) -> None:
    checks = {c.name: c for c in check_spectra(real, simulated_spectra(dates=2))}
    assert set(checks) == {"snow", "shadowed snow", "ice", "rock", "water", "debris"}
    for c in checks.values():
        assert c.n_sim > 100, c.name
        assert c.passed, (c.name, c.sim_median, c.real_median, c.percentile)
    # the shortcut the shipped model learnt is gone: summer snow is as bright as real glacier snow (0.81-0.83)
    assert checks["snow"].sim_median[2] > 0.75
    assert all(LOW_PCT <= p <= HIGH_PCT for p in checks["ice"].percentile)


def test_a_large_mismatch_fails_its_class(real: dict[str, np.ndarray]) -> None:
    sim = simulated_spectra(dates=1)
    # the old simulator's glacier snow: 0.62 visible, 0.47 NIR (real snow medians 0.81-0.83 / 0.69)
    dark = {**sim, "snow": sim["snow"] * (0.62 / 0.83)}
    checks = {c.name: c for c in check_spectra(real, dark)}
    assert not checks["snow"].passed
    assert checks["snow"].percentile[2] < LOW_PCT
    assert checks["ice"].passed
