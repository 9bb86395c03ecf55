"""``glacierscale train``: fit the ViT-U-Net on simulated regions; validate on held-out regions.

Labels come from the simulator's truth (inventory outlines plus debris zones) resampled onto cubes built by
the same catalog and cube code the pipeline uses. Patches are sampled class-balanced (glacier and debris
centres are over-drawn), augmented with flips, rotations and optical brightness, and fitted with
cross-entropy + Dice. Validation is by region, never by random pixels.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from rich.progress import Progress

from glacierscale.config import build_model, load_yaml
from glacierscale.model.checkpoint import NODATA_CLASS, save_checkpoint
from glacierscale.model.data import Sample, band_statistics, data_hash, region_samples
from glacierscale.simulate import RegionSpec

OPTICAL = ("B02", "B03", "B04", "B08", "B11", "B12")


class RegionEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    seed: int
    center_lon: float = 10.78
    center_lat: float = 46.80
    ela_m: float = 3000.0


class TrainConfig(BaseModel):
    """What ``glacierscale train CONFIG`` reads."""

    model_config = ConfigDict(extra="forbid")
    out: str
    workdir: str = "train-work"
    regions: list[RegionEntry]
    validation: list[str] = Field(description="names of regions held out for validation")
    years: list[int] = [2021, 2022, 2023]
    resolution: float = 20.0
    tile_size: int = 384
    steps: int = Field(600, ge=1)
    batch_size: int = Field(8, ge=1)
    patch_size: int = Field(128, ge=32)
    lr: float = 2e-3
    seed: int = 0
    threads: int = 2
    # modality dropout: per patch, the chance that a whole sensor group is missing (as when a sensor had no
    # scene in the window), so one checkpoint runs without SAR (before 2014, the S1B gap) or thermal
    sensor_dropout: dict[str, float] = {"sar": 0.3, "thermal": 0.3, "dem": 0.1}


def load_train_config(path: str | Path) -> TrainConfig:
    cfg = build_model(TrainConfig, load_yaml(path), str(path))
    base = Path(path).resolve().parent
    updates = {k: str((base / getattr(cfg, k)).resolve()) for k in ("out", "workdir") if not Path(getattr(cfg, k)).is_absolute()}
    return cfg.model_copy(update=updates)


def _sample_patch(s: Sample, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    h, w = s.labels.shape
    u = rng.random()
    target = 2 if u < 0.25 else (1 if u < 0.55 else None)  # class-balanced centres
    cand = np.argwhere(s.labels == target) if target is not None else np.empty((0, 2))
    if len(cand):
        cy, cx = cand[rng.integers(len(cand))]
        r = int(np.clip(cy - size // 2 + rng.integers(-size // 4, size // 4 + 1), 0, h - size))
        c = int(np.clip(cx - size // 2 + rng.integers(-size // 4, size // 4 + 1), 0, w - size))
    else:
        r, c = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
    return s.data[:, r:r + size, c:c + size], s.labels[r:r + size, c:c + size]


def _augment(x: np.ndarray, y: np.ndarray, optical_idx: list[int], rng: np.random.Generator,
             dropout: dict[tuple[int, ...], float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    k = int(rng.integers(4))
    x, y = np.rot90(x, k, axes=(1, 2)), np.rot90(y, k)
    if rng.random() < 0.5:
        x, y = x[:, :, ::-1], y[:, ::-1]
    x = x.copy()
    x[optical_idx] *= rng.uniform(0.85, 1.15)  # illumination / calibration spread
    for idx, p in (dropout or {}).items():
        if idx and rng.random() < p:
            x[list(idx)] = np.nan  # the group is missing: normalisation turns it into 0, as at inference
    return x, y.copy()


def iou_scores(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Return IoU of glacier (clean ∪ debris), clean and debris, ignoring nodata truth."""
    ok = truth != NODATA_CLASS
    p, t = pred[ok], truth[ok]

    def iou(a: np.ndarray, b: np.ndarray) -> float:
        union = np.logical_or(a, b).sum()
        return float(np.logical_and(a, b).sum() / union) if union else float("nan")

    return {"glacier": iou(p > 0, t > 0), "clean": iou(p == 1, t == 1), "debris": iou(p == 2, t == 2)}


def train(cfg: TrainConfig, progress: bool = True) -> dict[str, Any]:
    """Train, validate, write the checkpoint; return a summary (losses, validation IoU, timing)."""
    import torch

    from glacierscale.infer.patches import predict_classes
    from glacierscale.model.checkpoint import load_checkpoint
    from glacierscale.model.vitunet import ModelSpec, ViTUNet

    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    workdir = Path(cfg.workdir)
    samples: list[Sample] = []
    for r in cfg.regions:
        spec = RegionSpec(center_lon=r.center_lon, center_lat=r.center_lat, ela_m=r.ela_m, seed=r.seed,
                          name=r.name, years=tuple(cfg.years), grid_m=cfg.tile_size * cfg.resolution)
        samples += region_samples(spec, workdir, cfg.years, cfg.resolution, cfg.tile_size)
    train_set = [s for s in samples if s.region not in cfg.validation]
    val_set = [s for s in samples if s.region in cfg.validation]
    bands = [str(b) for b in _bands_of(cfg, workdir)]
    mean, std = band_statistics(train_set)
    optical_idx = [bands.index(b) for b in OPTICAL if b in bands]
    from glacierscale.model.bands import GROUPS

    dropout = {tuple(bands.index(b) for b in GROUPS[g] if b in bands): p for g, p in cfg.sensor_dropout.items()}
    model = ViTUNet(ModelSpec(in_channels=len(bands)))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.1)
    class_w = torch.tensor([1.0, 1.0, 2.0])
    losses: list[float] = []
    t0 = time.perf_counter()
    model.train()
    with Progress(disable=not progress) as bar:
        task = bar.add_task("train", total=cfg.steps)
        for _step in range(cfg.steps):
            xs, ys = [], []
            for _ in range(cfg.batch_size):
                s = train_set[int(rng.integers(len(train_set)))]
                x, y = _augment(*_sample_patch(s, cfg.patch_size, rng), optical_idx, rng, dropout)
                xs.append(np.nan_to_num((x - mean[:, None, None]) / std[:, None, None]))
                ys.append(y)
            xb = torch.from_numpy(np.stack(xs).astype(np.float32))
            yb = torch.from_numpy(np.stack(ys).astype(np.int64))
            logits = model(xb)
            loss = torch.nn.functional.cross_entropy(logits, yb, weight=class_w, ignore_index=NODATA_CLASS)
            loss = loss + _dice_loss(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
            bar.update(task, advance=1, description=f"train loss {np.mean(losses[-20:]):.3f}")
    train_s = time.perf_counter() - t0
    out = Path(cfg.out)
    summary: dict[str, Any] = {"steps": cfg.steps, "train_seconds": round(train_s, 1),
                               "loss_first20": float(np.mean(losses[:20])), "loss_last20": float(np.mean(losses[-20:]))}
    save_checkpoint(out, model, bands, mean, std, {**cfg.model_dump(), **summary}, data_hash(samples))
    ckpt = load_checkpoint(out)
    scores = []
    for s in val_set:
        classes, _ = predict_classes(ckpt, s.data, patch=cfg.patch_size, overlap=32)
        scores.append(iou_scores(classes, s.labels))
    summary["validation_iou"] = {k: float(np.nanmean([sc[k] for sc in scores])) for k in ("glacier", "clean", "debris")}
    save_checkpoint(out, model, bands, mean, std, {**cfg.model_dump(), **summary}, data_hash(samples))
    np.savetxt(out / "loss.csv", np.asarray(losses), fmt="%.5f", header="loss per step", comments="")
    from glacierscale.model.evaluate import calibrate

    summary["calibration"] = calibrate(out, [workdir / name for name in cfg.validation], tile_size=cfg.tile_size,
                                       resolution=cfg.resolution)
    from glacierscale.plots import training_curve

    training_curve(np.asarray(losses), out / "training-curve.png")
    return summary


def _bands_of(cfg: TrainConfig, workdir: Path) -> list[str]:
    from glacierscale.catalog.provider import load_provider
    from glacierscale.cube.assemble import cube_bands

    return cube_bands(load_provider("local"))


def _dice_loss(logits: Any, target: Any) -> Any:
    import torch

    probs = torch.softmax(logits, dim=1)
    valid = (target != NODATA_CLASS).unsqueeze(1)
    onehot = torch.nn.functional.one_hot(target.clamp(max=probs.shape[1] - 1), probs.shape[1]).permute(0, 3, 1, 2)
    probs, onehot = probs * valid, onehot * valid
    inter = (probs * onehot).sum(dim=(0, 2, 3))
    denom = probs.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3))
    return 1 - ((2 * inter + 1) / (denom + 1)).mean()
