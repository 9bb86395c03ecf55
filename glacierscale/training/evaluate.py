"""``glacierscale evaluate``: IoU per class, calibration and sensor ablations on simulated scene sets.

Scenes are cubed by the same catalog and cube code the pipeline runs; truth comes from the simulator.
IoU sums intersections and unions over every evaluated pixel (not a mean of per-scene IoUs). Ablations
withhold whole sensor groups from the same checkpoint (their bands become missing, as in a cube whose
sensor had no scene).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from glacierscale.classes import WATER, glacier_probability, is_glacier
from glacierscale.errors import InputError
from glacierscale.infer.options import InferOptions, forward_fn
from glacierscale.model.bands import GROUPS
from glacierscale.model.checkpoint import NODATA_CLASS, Checkpoint, load_checkpoint

__all__ = ["ABLATIONS", "GROUPS", "IoUCounter", "calibrate", "evaluate", "scene_sets"]
ABLATIONS = {
    "optical": ("optical",),
    "optical+dem": ("optical", "dem"),
    "optical+dem+sar": ("optical", "dem", "sar"),
    "all": ("optical", "dem", "sar", "thermal"),
    "all-minus-sar": ("optical", "dem", "thermal"),
    "all-minus-thermal": ("optical", "dem", "sar"),
    "all-minus-dem": ("optical", "sar", "thermal"),
    # every pixel under cloud: SAR + DEM + thermal only (checkpoints trained with optical gaps; others map nothing)
    "no-optical": ("sar", "dem", "thermal"),
}
UNDER_CLOUDS = "no-optical"  # the ablation whose calibration is reported too (infer.map_under_clouds reads it)
# the brightness part of the shortcut audit: every optical band scaled alike (a brighter or darker scene)
BRIGHTNESS = {"optical×0.7": 0.7, "optical×1.3": 1.3}


def scene_sets(root: Path) -> list[Path]:
    """Return the simulate outputs at ``root`` (itself, or its sub-folders)."""
    if (root / "simulation.json").is_file():
        return [root]
    found = sorted(p.parent for p in root.glob("*/simulation.json"))
    if not found:
        raise InputError(f"{root} is not a scene set written by `glacierscale simulate` (no simulation.json)")
    return found


class IoUCounter:
    """Accumulate intersections and unions of glacier, clean, debris and background."""

    def __init__(self) -> None:
        self.inter: dict[str, int] = {}
        self.union: dict[str, int] = {}
        self.truth: dict[str, int] = {}  # truth pixels per class: an IoU of 0 with none means false alarms only

    def add(self, pred: np.ndarray, truth: np.ndarray) -> None:
        ok = truth != NODATA_CLASS
        p, t = pred[ok], truth[ok]
        for name, (a, b) in {"glacier": (is_glacier(p), is_glacier(t)), "clean": (p == 1, t == 1),
                             "debris": (p == 2, t == 2), "background": (p == 0, t == 0),
                             "water": (p == WATER, t == WATER)}.items():
            self.inter[name] = self.inter.get(name, 0) + int(np.logical_and(a, b).sum())
            self.union[name] = self.union.get(name, 0) + int(np.logical_or(a, b).sum())
            self.truth[name] = self.truth.get(name, 0) + int(b.sum())

    def result(self) -> dict[str, float]:
        return {k: (self.inter[k] / self.union[k] if self.union[k] else float("nan")) for k in self.inter}


def _withhold(data: np.ndarray, bands: list[str], groups: tuple[str, ...]) -> np.ndarray:
    keep = {b for g in groups for b in GROUPS[g]}
    out = data.copy()
    for i, b in enumerate(bands):
        if b not in keep:
            out[i] = np.nan
    return out


def evaluate(checkpoint: str | Path, scenes: Path, *, ablation: bool = False, tile_size: int = 384,
             resolution: float = 20.0, versus: tuple[str | Path, ...] = (),
             options: InferOptions | None = None) -> dict[str, Any]:
    """Return {"iou", "by_region" (IoU per scene set), "truth_pixels" (per scene set and class), "ece": {"before",
    "after"}, "temperature", "pixels", "band_ratio", ["ablation"], ["versus"]}.

    ``band_ratio`` holds, per scene set, the red/SWIR1 ratio baseline on the same pixels: its threshold tuned on
    that scene set by grid search, the glacier IoU there, and the glacier IoU at the classic threshold of 2
    (:mod:`glacierscale.training.baseline`).

    ``versus`` names separately trained checkpoints (e.g. an optical-only model, ``groups: [optical]`` in its
    training config) evaluated on the same pixels: ``versus[<their groups joined by +>]`` holds their IoU.
    ``options``: how the network runs (e.g. ``InferOptions(flips=True)``, test-time augmentation); default fp32.
    """
    from glacierscale.catalog.provider import load_provider
    from glacierscale.cube.assemble import cube_bands
    from glacierscale.infer.patches import classify, select_bands, valid_pixels
    from glacierscale.infer.patches import predict_probabilities as predict
    from glacierscale.training.baseline import RatioBaseline
    from glacierscale.training.calibrate import expected_calibration_error, softmax
    from glacierscale.training.data import scene_samples

    ckpt: Checkpoint = load_checkpoint(checkpoint)
    names = cube_bands(load_provider("local"))
    forward = forward_fn(ckpt.model, "cpu", options or InferOptions(precision="fp32"))

    def predict_probabilities(c: Checkpoint, data: np.ndarray, *, logits_out: bool = False) -> np.ndarray:
        return predict(c, data, logits_out=logits_out, forward=forward if c is ckpt else None)

    counter, probs_before, probs_after, truths = IoUCounter(), [], [], []
    cloud_probs: list[np.ndarray] = []
    cloud_truths: list[np.ndarray] = []
    by_region: dict[str, IoUCounter] = {}
    ablations = {k: IoUCounter() for k in (*ABLATIONS, *BRIGHTNESS)} if ablation else {}
    optical = [i for i, b in enumerate(names) if b in GROUPS["optical"]]
    red, swir1 = names.index("B04"), names.index("B11")
    ratios: dict[str, RatioBaseline] = {}
    others = [load_checkpoint(v) for v in versus]
    other_counts = [IoUCounter() for _ in others]
    n_px = 0
    for folder in scene_sets(Path(scenes)):
        years = json.loads((folder / "simulation.json").read_text())["years"]
        for s in scene_samples(folder, years, resolution, tile_size):
            data = select_bands(ckpt, s.data, names)
            valid = valid_pixels(ckpt, data)
            logits = predict_probabilities(ckpt, data, logits_out=True)
            counter.add(classify(logits, valid), s.labels)
            by_region.setdefault(folder.name, IoUCounter()).add(classify(logits, valid), s.labels)
            ratios.setdefault(folder.name, RatioBaseline()).add(s.data[red], s.data[swir1], s.labels, valid)
            ok = valid & (s.labels != NODATA_CLASS)
            n_px += int(ok.sum())
            truths.append(is_glacier(s.labels[ok]))
            probs_before.append(glacier_probability(softmax(logits, 1.0))[ok])
            probs_after.append(glacier_probability(softmax(logits, ckpt.temperature))[ok])
            for other, count in zip(others, other_counts, strict=True):
                count.add(classify(predict_probabilities(other, select_bands(other, s.data, names)), valid), s.labels)
            for key, groups in ABLATIONS.items() if ablation else ():
                part = select_bands(ckpt, _withhold(s.data, names, groups), names)
                # the same pixels as every other entry (those with optical data in the full cube), mapped from
                # what the ablation leaves; a checkpoint that requires optical data maps none of them
                usable = valid & valid_pixels(ckpt, part, optical_required="optical" in groups)
                probs = predict_probabilities(ckpt, part)
                ablations[key].add(classify(probs, usable), s.labels)
                if key == UNDER_CLOUDS and usable.any():  # what a run that maps under clouds reads there
                    cloud_probs.append(glacier_probability(probs)[ok & usable])
                    cloud_truths.append(is_glacier(s.labels[ok & usable]))
            for key, gain in BRIGHTNESS.items() if ablation else ():
                scaled = s.data.copy()
                scaled[optical] *= gain
                ablations[key].add(classify(predict_probabilities(ckpt, select_bands(ckpt, scaled, names)), valid),
                                   s.labels)
    truth = np.concatenate(truths)
    out: dict[str, Any] = {
        "checkpoint": str(ckpt.path), "model_hash": ckpt.model_hash, "pixels": n_px, "iou": counter.result(),
        "temperature": ckpt.temperature, "by_region": {k: c.result() for k, c in by_region.items()},
        "truth_pixels": {k: c.truth for k, c in by_region.items()},
        "band_ratio": {k: r.result() for k, r in ratios.items()},
        "ece": {"before": expected_calibration_error(np.concatenate(probs_before), truth),
                "after": expected_calibration_error(np.concatenate(probs_after), truth)},
    }
    if others:
        out["versus"] = {"+".join(o.config.get("groups", {})) or str(o.path): {
            "checkpoint": str(o.path), "model_hash": o.model_hash, **c.result()} for o, c in zip(others, other_counts,
                                                                                                 strict=True)}
    if ablation:
        out["ablation"] = {k: {m: c.result()[m] for m in ("glacier", "debris", "water")} for k, c in ablations.items()}
        if cloud_probs:
            p, t = np.concatenate(cloud_probs), np.concatenate(cloud_truths)
            full = np.concatenate(probs_after)
            out["under_clouds"] = {"ece": expected_calibration_error(p, t), "pixels": len(p),
                                   "confidence": float(np.maximum(p, 1 - p).mean()),
                                   "confidence_all_sensors": float(np.maximum(full, 1 - full).mean())}
        out["ablation_note"] = ("optical×G: every optical band scaled by G (scene brightness); "
                                "bands of withheld groups are set missing; groups the checkpoint was not trained "
                                f"with have no effect (checkpoint bands: {', '.join(ckpt.bands)})")
    return out


def calibrate(checkpoint: str | Path, scenes: list[Path], *, tile_size: int = 384, resolution: float = 20.0,
              samples: list[Any] | None = None) -> dict[str, Any]:
    """Fit the temperature on held-out scene sets (or ready ``samples``) and store it, with ECE before/after."""
    from glacierscale.catalog.provider import load_provider
    from glacierscale.cube.assemble import cube_bands
    from glacierscale.infer.patches import predict_probabilities, select_bands, valid_pixels
    from glacierscale.model.checkpoint import CONFIG
    from glacierscale.training.calibrate import expected_calibration_error, fit_temperature, softmax
    from glacierscale.training.data import scene_samples

    ckpt = load_checkpoint(checkpoint)
    names = cube_bands(load_provider("local"))
    if samples is None:
        samples = []
        for folder in scenes:
            years = json.loads((folder / "simulation.json").read_text())["years"]
            samples += scene_samples(folder, years, resolution, tile_size)
    logits_all, labels_all = [], []
    for s in samples:
        data = select_bands(ckpt, s.data, list(s.bands) or names)
        ok = valid_pixels(ckpt, data) & (s.labels != NODATA_CLASS)
        logits = predict_probabilities(ckpt, data, logits_out=True)
        logits_all.append(logits[:, ok].T)
        labels_all.append(s.labels[ok].astype(np.int64))
    logits, labels = np.concatenate(logits_all), np.concatenate(labels_all)
    t = fit_temperature(logits, labels)
    truth = is_glacier(labels)
    result = {"temperature": t,
              "ece_before": expected_calibration_error(glacier_probability(softmax(logits, 1.0, axis=1), axis=1), truth),
              "ece_after": expected_calibration_error(glacier_probability(softmax(logits, t, axis=1), axis=1), truth),
              "pixels": len(labels), "scenes": sorted({str(s.region) for s in samples})}
    config = json.loads((ckpt.path / CONFIG).read_text())
    config["calibration"] = result
    (ckpt.path / CONFIG).write_text(json.dumps(config, indent=1))
    return result

