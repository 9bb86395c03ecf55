"""``glacierscale train``: fit the ViT-U-Net on simulated regions; validate on held-out regions.

Labels come from the simulator's truth (inventory outlines plus debris zones) resampled onto cubes built by
the same catalog and cube code the pipeline uses. Regions are procedural or built over real DEMs and
outlines (full physics, any sensors). Patches are sampled class-balanced, augmented (flips, rotations,
optical brightness, whole-group sensor dropout) and fitted with cross-entropy + Dice by the step code of
:mod:`glacierscale.training.steps` — in this process, or on Ray Train workers (``workers: N``). Validation is
by region, never by random pixels.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from glacierscale.classes import CLASSES
from glacierscale.config import build_model, load_yaml
from glacierscale.model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from glacierscale.simulate import RegionSpec
from glacierscale.simulate.region import CLASSIC_DEBRIS, ignores_debris_probability
from glacierscale.training.data import Sample, align_bands, band_statistics, data_hash, region_samples
from glacierscale.training.finetune import check_fits, onto_bands_of, starting_point
from glacierscale.training.randomise import Randomisation
from glacierscale.training.sources import CatalogSource
from glacierscale.training.steps import BlindDebris

SENSORS = ("s2", "s1", "landsat", "dem")


class RegionEntry(BaseModel):
    """One simulated training or validation region: procedural, or a window over a real DEM and outlines."""

    model_config = ConfigDict(extra="forbid")
    name: str
    seed: int
    center_lon: float = 10.78
    center_lat: float = 46.80
    ela_m: float = 3000.0
    physics: str = Field("classic", pattern="^(classic|full)$")
    dem: str | None = None  # real DEM (relative paths are relative to the config file)
    outlines: list[str] = []  # real outlines, "FILE" or "YEAR=FILE"
    sensors: list[str] = ["s2", "s1", "dem"]
    debris_share: float = 0.3
    debris_probability: float = Field(1.0, ge=0.0, le=1.0, description="share of the large, flat tongues that "
                                      "carry debris (simulate.region.RegionSpec)")
    forefield_m: float = Field(0.0, ge=0.0, description="full physics: unvegetated moraines and outwash this far "
                               "around the glaciers (simulate.surfaces.forefield)")
    marine: bool = Field(False, description="full physics, procedural: the lowest glacier calves into a fjord "
                         "(simulate.fjord)")
    headwalls: bool = Field(False, description="outlines without a DEM: glacier heads climb a headwall on the "
                            "fitted terrain (simulate.fitted)")

    @model_validator(mode="after")
    def _classic_keeps_its_debris(self) -> RegionEntry:
        if ignores_debris_probability(self.physics, self.debris_probability, bool(self.dem or self.outlines)):
            raise ValueError(f"region {self.name}: debris_probability {self.debris_probability:g} needs physics: full "
                             f"({CLASSIC_DEBRIS})")
        if self.marine and (self.physics != "full" or self.dem or self.outlines):
            raise ValueError(f"region {self.name}: marine needs physics: full and a procedural region (a real "
                             "region's terminus types come from its outlines)")
        return self


class TrainConfig(BaseModel):
    """What ``glacierscale train CONFIG`` reads."""

    model_config = ConfigDict(extra="forbid")
    out: str
    workdir: str = "train-work"
    regions: list[RegionEntry] = []
    # catalogs + inventories read as `glacierscale run` reads them; labels from outlines (training/sources.py)
    catalogs: list[CatalogSource] = []
    validation: list[str] = Field([], description="names of regions (or catalog sources) held out for validation")
    years: list[int] = [2021, 2022, 2023]
    resolution: float = 20.0
    tile_size: int = 384
    steps: int = Field(600, ge=1)
    batch_size: int = Field(8, ge=1)
    patch_size: int = Field(128, ge=32)
    lr: float = 2e-3
    seed: int = 0
    threads: int = 2
    workers: int = Field(1, ge=1, description="Ray Train workers (1: train in this process)")
    stem_width: int = 12
    # modality dropout: per patch, the chance that a whole sensor group is missing (as when a sensor had no
    # scene in the window), so one checkpoint runs without SAR (before 2014, the S1B gap) or thermal
    sensor_dropout: dict[str, float] = {"sar": 0.3, "thermal": 0.3, "dem": 0.1}
    # sensor groups the model reads (optical is required); fewer groups train e.g. the optical-only model
    # that `evaluate --ablation --versus DIR` compares with the fusion model
    groups: list[str] = Field(default_factory=lambda: ["optical", "sar", "thermal", "dem"])
    # domain randomisation of the optical bands (processing, brightness/contrast, illumination, haze, 20-30 m
    # resampling, noise: training/randomise.py); false keeps the old ±15 % brightness only
    randomise: bool = True
    # the per-scene brightness gain of that randomisation, one factor for every optical band drawn uniformly in
    # [low, high]; wider than the ×0.7 / ×1.3 brightness ablation so that a brighter or darker scene is in range
    brightness_gain: tuple[float, float] = Randomisation.gain
    # its additive atmospheric residual at B02 (falling as λ⁻² to the other bands), drawn uniformly in [low, high];
    # negative: over-corrected aerosol, as HLS's blue band reads below zero over dark ground
    haze: tuple[float, float] = Randomisation.haze
    # brightness consistency: per batch, this many patches are repeated with every optical band ×g (g in 0.7-1.3,
    # the brightness ablation's range) and the loss asks the same classes of both (symmetric KL, times the weight);
    # at most half the batch; 0: off
    consistency_pairs: int = Field(0, ge=0)
    consistency_weight: float = Field(1.0, ge=0.0)
    # the label of debris-covered ice in patches whose input holds neither SAR nor thermal: "debris", or
    # "background" (optical + DEM alone do not tell it from bare rock; the model then maps no debris without them)
    blind_debris: BlindDebris = "debris"
    # share of patches whose optical bands are missing under cloud-shaped masks (some fully overcast): the labels
    # stay, so SAR + DEM (+ thermal) learn to map cloud-covered pixels; > 0 makes optical an optional group
    optical_clouds: float = Field(0.0, ge=0.0, le=1.0)
    # elevation relative to each tile's median (model/bands.py): no region is judged by its absolute height
    relative_elevation: bool = False
    clip_grad_norm: float = Field(1.0, ge=0.0, description="gradient-norm clipping per step (0: none)")
    # share of patches that lose SAR and thermal together (optical + DEM only, e.g. a Landsat/HLS scene with a
    # DEM), beside sensor_dropout; patches without both are not centred on debris nor up-weighted there
    blind_share: float = Field(0.0, ge=0.0, le=1.0)
    # decay of an exponential moving average of the weights that the checkpoint carries (0: the last weights)
    ema: float = Field(0.0, ge=0.0, lt=1.0)
    # a checkpoint to start from (fine-tuning, e.g. the shipped one on your own catalogs or larger patches): its
    # weights, bands and band normalisation are kept; the model width and elevation mode must match this config
    init: str | None = None

    @model_validator(mode="after")
    def _randomisation_ranges(self) -> TrainConfig:
        low, high = self.brightness_gain
        if not 0 < low <= high:
            raise ValueError(f"brightness_gain: [{low}, {high}] is not a range of positive gains (0 < low <= high)")
        if not -0.2 <= self.haze[0] <= self.haze[1] <= 0.2:
            raise ValueError(f"haze: [{self.haze[0]}, {self.haze[1]}] is not a range of offsets within ±0.2 (low <= high)")
        if self.consistency_pairs > self.batch_size // 2:
            raise ValueError(f"consistency_pairs: {self.consistency_pairs} is more than half the batch "
                             f"(batch_size {self.batch_size}): each pair needs an original and its copy")
        return self


def load_train_config(path: str | Path) -> TrainConfig:
    """Load a training config; ``out``, ``workdir`` and real input paths are relative to its folder."""
    cfg = build_model(TrainConfig, load_yaml(path), str(path))
    base = Path(path).resolve().parent
    updates: dict[str, Any] = {k: str((base / getattr(cfg, k)).resolve()) for k in ("out", "workdir", "init")
                               if getattr(cfg, k) is not None and not Path(getattr(cfg, k)).is_absolute()}

    def resolve(p: str) -> str:
        year, sep, file = p.rpartition("=") if "=" in p else ("", "", p)
        return f"{year}{sep}{(base / file).resolve()}"

    updates["regions"] = [r.model_copy(update={"dem": resolve(r.dem) if r.dem else None,
                                               "outlines": [resolve(o) for o in r.outlines]}) for r in cfg.regions]
    updates["catalogs"] = [resolve_source(c, base, i) for i, c in enumerate(cfg.catalogs)]
    names = [r.name for r in cfg.regions] + [c.name for c in updates["catalogs"]]
    unknown = sorted(set(cfg.validation) - set(names))
    twice = sorted({n for n in names if names.count(n) > 1})
    if not names or twice:
        from glacierscale.errors import ConfigError

        raise ConfigError(f"{path}: " + (f"region and catalog names {twice} are used twice" if twice else
                                         "no training data: give regions (simulated) or catalogs "
                                         "(catalog + inventory + years)"))
    bad = sorted({s for r in cfg.regions for s in r.sensors} - set(SENSORS))
    bad_groups = group_problem(cfg.groups)
    if unknown or bad or bad_groups:
        from glacierscale.errors import ConfigError

        raise ConfigError(f"{path}: " + "; ".join(
            ([f"validation names unknown regions {unknown}"] if unknown else [])
            + ([f"regions.sensors: unknown {bad} (choose from {', '.join(SENSORS)})"] if bad else [])
            + ([bad_groups] if bad_groups else [])))
    return cfg.model_copy(update=updates)


def resolve_source(source: CatalogSource, base: Path, index: int) -> CatalogSource:
    """Return a catalog source with its name set and its local paths relative to ``base`` made absolute."""
    from glacierscale.catalog.provider import provider_names

    def local(p: str) -> str:
        return p if "://" in p or Path(p).is_absolute() else str((base / p).resolve())

    catalog = source.catalog
    if "://" not in catalog and not (catalog in provider_names() and not (base / catalog).exists()):
        catalog = local(catalog)
    return source.model_copy(update={"name": source.name or f"catalog-{index + 1}", "catalog": catalog,
                                     "inventory": local(source.inventory)})


def group_problem(groups: list[str]) -> str:
    """Return what is wrong with a ``groups`` list ("" when nothing is)."""
    from glacierscale.model.bands import GROUPS, REQUIRED_GROUP

    unknown = sorted(set(groups) - set(GROUPS))
    if unknown or REQUIRED_GROUP not in groups:
        return (f"groups {groups}: " + (f"unknown {unknown}; " if unknown else "")
                + f"choose from {', '.join(GROUPS)}, {REQUIRED_GROUP} included")
    return ""


def region_spec(r: RegionEntry, cfg: TrainConfig) -> RegionSpec:
    """Return the simulator spec of a configured region (snapped to the training tile grid)."""
    span = cfg.tile_size * cfg.resolution
    real = {"dem": r.dem, "outlines": tuple(r.outlines), "window_m": span} if (r.dem or r.outlines) else {}
    return RegionSpec(center_lon=r.center_lon, center_lat=r.center_lat, ela_m=r.ela_m, seed=r.seed, name=r.name,
                      years=tuple(cfg.years), grid_m=span, size_px=round(span / 10.0), physics=r.physics,
                      debris_share=r.debris_share, debris_probability=r.debris_probability,
                      forefield_m=r.forefield_m, marine=r.marine, headwalls=r.headwalls, **real)  # type: ignore[arg-type]


def load_samples(cfg: TrainConfig, regions: list[RegionEntry | CatalogSource] | None = None,
                 progress: bool = True) -> list[Sample]:
    """Return the cubes + labels of the configured regions and catalog sources (built once, then cached)."""
    from rich.progress import Progress

    from glacierscale.training.sources import source_samples

    sources = cfg.catalogs if regions is None else [c for c in regions if isinstance(c, CatalogSource)]
    simulated = cfg.regions if regions is None else [r for r in regions if isinstance(r, RegionEntry)]
    samples: list[Sample] = []
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("simulate + cube regions, cube catalogs", total=len(simulated) + len(sources))
        for r in simulated:
            samples += region_samples(region_spec(r, cfg), Path(cfg.workdir), cfg.years, cfg.resolution, cfg.tile_size,
                                      sensors=tuple(r.sensors))
            bar.advance(task)
        for c in sources:
            samples += source_samples(c, Path(cfg.workdir), cfg.resolution, cfg.tile_size)
            bar.advance(task)
    return align_bands(samples)


def only_groups(sample: Sample, groups: list[str]) -> Sample:
    """Return the sample with only the bands of ``groups`` (the sample itself when it has no others)."""
    from dataclasses import replace

    from glacierscale.model.bands import group_of

    keep = [i for i, b in enumerate(sample.bands) if group_of(b) in groups]
    if not sample.bands or len(keep) == len(sample.bands):
        return sample
    return replace(sample, data=sample.data[keep], bands=tuple(sample.bands[i] for i in keep))


def train(cfg: TrainConfig, progress: bool = True) -> dict[str, Any]:
    """Train, validate, calibrate, write the checkpoint; return a summary (losses, validation IoU, timing)."""
    import torch

    from glacierscale.catalog.provider import load_provider
    from glacierscale.cube.assemble import cube_bands
    from glacierscale.model.bands import GROUPS
    from glacierscale.model.vitunet import ModelSpec
    from glacierscale.training.steps import StepSettings

    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    # the checkpoint to fine-tune, loaded before the data is made: a misfit is refused at once
    start = starting_point(cfg.init, cfg.relative_elevation) if cfg.init else None
    t0 = time.perf_counter()
    samples = [only_groups(s, cfg.groups) for s in load_samples(cfg, progress=progress)]
    if cfg.relative_elevation:  # before the band statistics: the model reads elevation as normalise() gives it
        from dataclasses import replace

        from glacierscale.model.bands import relative_elevation

        samples = [replace(s, data=relative_elevation(s.data, list(s.bands))) for s in samples]
    if start is not None:  # the checkpoint's band list (a band the data lacks is NaN, as a missing sensor)
        samples = onto_bands_of(str(cfg.init), start, samples)
    data_s = time.perf_counter() - t0
    train_set = [s for s in samples if s.region not in cfg.validation]
    val_set = [s for s in samples if s.region in cfg.validation]
    bands = list(samples[0].bands) or cube_bands(load_provider("local"))
    spec = ModelSpec.for_bands(bands, stem_width=cfg.stem_width, n_classes=len(CLASSES))
    if start is not None:
        check_fits(str(cfg.init), start, spec, cfg.stem_width)
    # fine-tuned weights read inputs normalised as they were trained on
    mean, std = (start.mean, start.std) if start is not None else band_statistics(train_set)
    settings = StepSettings(steps=cfg.steps, batch_size=cfg.batch_size, patch_size=cfg.patch_size, lr=cfg.lr,
                            seed=cfg.seed, sensor_dropout=dict(cfg.sensor_dropout), randomise=cfg.randomise,
                            optical_clouds=cfg.optical_clouds, clip_grad_norm=cfg.clip_grad_norm,
                            blind_share=cfg.blind_share, ema=cfg.ema, brightness_gain=cfg.brightness_gain,
                            haze=cfg.haze, consistency_pairs=cfg.consistency_pairs,
                            consistency_weight=cfg.consistency_weight, blind_debris=cfg.blind_debris)
    t0 = time.perf_counter()
    if cfg.workers > 1:
        model, losses = _fit_on_ray(cfg, spec, train_set, bands, mean, std, settings, start)
    else:
        model, losses = _fit_here(spec, train_set, bands, mean, std, settings, progress, start)
    train_s = time.perf_counter() - t0
    out = Path(cfg.out)
    optional = sorted({g for g, p in cfg.sensor_dropout.items() if p > 0 and g in GROUPS and g in cfg.groups}
                      | ({"optical"} if cfg.optical_clouds > 0 else set()))
    summary: dict[str, Any] = {"steps": cfg.steps, "workers": cfg.workers, "train_seconds": round(train_s, 1),
                               "data_seconds": round(data_s, 1),
                               "init_model_hash": start.model_hash if start is not None else None,
                               "loss_first20": float(np.mean(losses[:20])),
                               "loss_last20": float(np.mean(losses[-20:])),
                               "regions": {"train": sorted({s.region for s in train_set}),
                                           "validation": sorted({s.region for s in val_set})}}
    if val_set:
        summary["validation_iou"] = validate(model, out, bands, mean, std, val_set, cfg, optional)
    # the config's region definitions stay under "regions"; the summary's train/validation split goes to "split"
    record = {**cfg.model_dump(), **{k: v for k, v in summary.items() if k != "regions"}, "split": summary["regions"]}
    save_checkpoint(out, model, bands, mean, std, record, data_hash(samples), optional_groups=optional,
                    resolution_m=cfg.resolution, patch_size=cfg.patch_size,
                    relative_elevation=cfg.relative_elevation)
    np.savetxt(out / "loss.csv", np.asarray(losses), fmt="%.5f", header="loss per step", comments="")
    # the temperature is fitted on per-class labels: not on outline labels, which do not say clean or debris
    from glacierscale.training.sources import GLACIER_LABEL, NOT_GLACIER_LABEL

    per_class = [s for s in val_set if not np.isin(s.labels, (GLACIER_LABEL, NOT_GLACIER_LABEL)).any()]
    if per_class:
        from glacierscale.training.evaluate import calibrate

        summary["calibration"] = calibrate(out, [], samples=per_class)
    from glacierscale.plots import training_curve

    training_curve(np.asarray(losses), out / "training-curve.png")
    return summary


def _fit_here(spec: Any, train_set: list[Sample], bands: list[str], mean: np.ndarray, std: np.ndarray,
              settings: Any, progress: bool, start: Checkpoint | None = None) -> tuple[Any, list[float]]:
    from rich.progress import Progress

    from glacierscale.model.vitunet import ViTUNet
    from glacierscale.training.steps import PatchBatches, fit_steps

    model = ViTUNet(spec)
    if start is not None:
        model.load_state_dict(start.model.state_dict())
    batches = PatchBatches(train_set, bands, mean, std, settings, np.random.default_rng(settings.seed))
    recent: list[float] = []
    with Progress(disable=not progress) as bar:
        task = bar.add_task("train", total=settings.steps)

        def on_step(step: int, loss: float) -> None:
            recent.append(loss)
            bar.update(task, advance=1, description=f"train loss {np.mean(recent[-20:]):.3f}")

        losses = fit_steps(model, batches, settings, on_step)
    return model, losses


def _fit_on_ray(cfg: TrainConfig, spec: Any, train_set: list[Sample], bands: list[str], mean: np.ndarray,
                std: np.ndarray, settings: Any, start: Checkpoint | None = None) -> tuple[Any, list[float]]:
    import logging
    import os

    import ray

    from glacierscale.model.vitunet import ViTUNet
    from glacierscale.training.distributed import fit_distributed

    started = not ray.is_initialized()
    if started:
        address = os.environ.get("RAY_ADDRESS")
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(address="local", num_cpus=max(cfg.workers, os.cpu_count() or 1), include_dashboard=False,
                     logging_level=logging.ERROR)
    try:
        state, losses = fit_distributed(spec, train_set, bands, mean, std, settings, workers=cfg.workers,
                                        threads=max(1, cfg.threads // cfg.workers),
                                        storage=Path(cfg.workdir) / "ray-train",
                                        init_state=start.model.state_dict() if start is not None else None)
    finally:
        if started:
            ray.shutdown()
    model = ViTUNet(spec)
    model.load_state_dict(state)
    return model.eval(), losses


def validate(model: Any, out: Path, bands: list[str], mean: np.ndarray, std: np.ndarray, val_set: list[Sample],
             cfg: TrainConfig, optional: list[str]) -> dict[str, Any]:
    """Return IoU on the held-out regions: pooled over them and per region."""
    from glacierscale.infer.patches import predict_classes, select_bands
    from glacierscale.training.evaluate import IoUCounter
    from glacierscale.training.sources import GLACIER_LABEL, NOT_GLACIER_LABEL

    save_checkpoint(out, model, bands, mean, std, {}, "", optional_groups=optional,
                    relative_elevation=cfg.relative_elevation)
    ckpt = load_checkpoint(out)
    pooled, per_region = IoUCounter(), dict[str, IoUCounter]()
    for s in val_set:
        classes, _ = predict_classes(ckpt, select_bands(ckpt, s.data, list(s.bands) or bands), patch=cfg.patch_size)
        # outline labels score glacier against the rest (their clean/debris/water IoUs mean nothing)
        labels = np.where(s.labels == GLACIER_LABEL, 1, np.where(s.labels == NOT_GLACIER_LABEL, 0, s.labels))
        pooled.add(classes, labels)
        per_region.setdefault(s.region, IoUCounter()).add(classes, labels)
    return {**pooled.result(), "by_region": {k: c.result() for k, c in per_region.items()}}
