"""Calibration (temperature scaling, ECE), evaluation with ablations, and FLOP counting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from glacierscale.training.calibrate import expected_calibration_error, fit_temperature, softmax


def test_ece_is_zero_when_confidence_matches_frequency() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 200_000)
    truth = rng.uniform(0, 1, p.size) < p  # events happen exactly as often as predicted
    assert expected_calibration_error(p, truth) < 0.01
    assert expected_calibration_error(np.clip(p * 1.5, 0, 1), truth) > 0.05  # over-confident


def test_fit_temperature_recovers_the_true_temperature() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, (50_000, 3))
    true_t = 2.5
    p = softmax(logits, true_t, axis=1)
    labels = np.array([rng.choice(3, p=row) for row in p])
    assert fit_temperature(logits, labels) == pytest.approx(true_t, rel=0.1)


def test_evaluate_reports_iou_ece_and_ablations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from glacierscale.simulate import RegionSpec, simulate
    from glacierscale.training.evaluate import evaluate

    # a region the size of the training regions (7.68 km), one year; the model never saw seed 61
    simulate(RegionSpec(years=(2022,), s2_per_year=2, s1_per_year=1, seed=61, grid_m=7680),
             tmp_path / "scenes", progress=False)
    r = evaluate("default", tmp_path / "scenes", ablation=True, tile_size=384, versus=("default",))
    assert r["pixels"] > 50_000
    assert set(r["iou"]) == {"glacier", "clean", "debris", "background", "water"}
    assert r["iou"]["glacier"] > 0.8 and r["iou"]["background"] > 0.9
    truth = r["truth_pixels"]["scenes"]  # per scene set: how many truth pixels each IoU stands on
    assert truth["glacier"] == truth["clean"] + truth["debris"] and truth["debris"] > 0
    assert truth["glacier"] + truth["background"] + truth["water"] == r["pixels"]
    assert 0 <= r["ece"]["after"] < 0.05
    assert set(r["ablation"]) == {"optical", "optical+dem", "optical+dem+sar", "all", "all-minus-sar",
                                  "all-minus-thermal", "all-minus-dem", "no-optical", "optical×0.7", "optical×1.3"}
    assert r["ablation"]["all"]["glacier"] == pytest.approx(r["iou"]["glacier"], abs=0.02)
    # trained with cloud-shaped optical gaps, the shipped checkpoint maps a clouded scene from SAR + DEM alone
    # (0.834 on the classic demo region, 0.80-0.99 on the full-physics test regions: docs/model.md)
    assert 0.6 < r["ablation"]["no-optical"]["glacier"] <= r["iou"]["glacier"] + 0.02
    # what a run that maps under clouds reads there: calibrated, and less sure of itself than with optical data
    clouds = r["under_clouds"]
    print(f"\nno-optical: ECE {clouds['ece']:.4f}, confidence {clouds['confidence']:.3f} vs "
          f"{clouds['confidence_all_sensors']:.3f} with every sensor, {clouds['pixels']:,} px")
    assert clouds["pixels"] > 0.5 * r["pixels"] and clouds["ece"] < 0.05  # SAR layover and shadow are nodata
    assert clouds["confidence"] < clouds["confidence_all_sensors"]
    # a separately trained checkpoint is scored on the same pixels: the shipped one against itself agrees
    same = r["versus"]["optical+sar+thermal+dem"]
    assert same["model_hash"] == r["model_hash"]
    assert same["glacier"] == pytest.approx(r["ablation"]["all"]["glacier"])  # both blend probabilities
    assert same["debris"] == pytest.approx(r["ablation"]["all"]["debris"])
    # the red/SWIR1 baseline on the same pixels, its threshold tuned on them: the model must beat it (debris)
    ratio = r["band_ratio"]["scenes"]
    assert 1.0 <= ratio["threshold"] <= 64.0 and ratio["glacier"] >= ratio["glacier_at_2"] - 1e-12
    assert r["iou"]["glacier"] > ratio["glacier"]
    # `evaluate --flips` maps the same pixels through four flipped views: as good, and no worse calibrated
    import json

    from glacierscale.cli import main

    capsys.readouterr()
    assert main(["evaluate", "--scenes", str(tmp_path / "scenes"), "--flips", "--json"]) == 0
    flipped = json.loads(capsys.readouterr().out)
    assert flipped["pixels"] == r["pixels"]
    assert flipped["iou"]["glacier"] >= r["iou"]["glacier"] - 0.005 and flipped["ece"]["after"] < 0.05


def test_flops_per_pixel_of_the_shipped_model() -> None:
    from glacierscale.model.bench import model_flops_per_pixel
    from glacierscale.model.checkpoint import load_checkpoint

    flops = model_flops_per_pixel(load_checkpoint("default"))
    assert 50e3 < flops < 150e3  # ≈ 82 kFLOP per pixel: a CPU-sized network
