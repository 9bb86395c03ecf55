"""Checkpoint format: a directory with ``model.safetensors`` and ``config.json``.

``config.json`` holds the architecture, the cube bands the model expects (in order), per-band
normalisation, class names, the training configuration, a hash of the training data and the model hash
(sha256 of the weights) used downstream as the version key of every mapped product.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from glacierscale.classes import CLASSES, NODATA_CLASS
from glacierscale.errors import CheckpointError, CheckpointMismatchError

WEIGHTS = "model.safetensors"
CONFIG = "config.json"


@dataclass
class Checkpoint:
    """A loaded checkpoint: the torch module (eval mode) plus everything needed to feed it."""

    path: Path
    model: Any  # ViTUNet
    bands: list[str]
    mean: np.ndarray
    std: np.ndarray
    classes: list[str]
    model_hash: str
    config: dict[str, Any]

    @property
    def optional_groups(self) -> list[str]:
        """Sensor groups the model was trained to run without (modality dropout); their bands may be absent."""
        return [str(g) for g in self.config.get("optional_groups", [])]

    def absent_bands(self, cube_bands: list[str]) -> list[str]:
        """Return the bands the model needs that ``cube_bands`` lacks (bands of optional groups may be absent).

        Optical bands are always needed: a checkpoint trained with cloud-shaped optical gaps maps clouded pixels
        from SAR when asked to, but a cube without an optical band is a catalog that does not deliver it.
        """
        from glacierscale.model.bands import REQUIRED_GROUP, group_of

        return [b for b in self.bands if b not in cube_bands
                and (group_of(b) == REQUIRED_GROUP or group_of(b) not in self.optional_groups)]

    @property
    def resolution_m(self) -> float | None:
        """The grid resolution (m) the model was trained on (None for a checkpoint that does not say)."""
        value = self.config.get("resolution_m", self.config.get("training", {}).get("resolution"))
        return float(value) if value is not None else None

    @property
    def patch_size(self) -> int | None:
        """The patch size (px) the model was trained on (None for a checkpoint that does not say)."""
        value = self.config.get("patch_size", self.config.get("training", {}).get("patch_size"))
        return int(value) if value is not None else None

    @property
    def relative_elevation(self) -> bool:
        """Whether the model reads elevation relative to the tile's median (model/bands.py)."""
        return bool(self.config.get("relative_elevation", False))

    @property
    def optical_optional(self) -> bool:
        """Whether the model was trained to map pixels without optical data (cloud-shaped optical gaps)."""
        return "optical" in self.optional_groups

    @property
    def temperature(self) -> float:
        """The calibration temperature (1.0 for an uncalibrated checkpoint)."""
        return float(self.config.get("calibration", {}).get("temperature", 1.0))

    def normalise(self, cube: np.ndarray, *, keep_nan: bool = False) -> np.ndarray:
        """Return (band, y, x) data normalised per band, NaN replaced by 0 (the band mean).

        With ``keep_nan`` missing values (NaN, ±inf) stay NaN, for a model that masks missing inputs itself.
        """
        if self.relative_elevation:
            from glacierscale.model.bands import relative_elevation

            cube = relative_elevation(cube, self.bands)
        out = ((cube - self.mean[:, None, None]) / self.std[:, None, None]).astype(np.float32)
        if keep_nan:
            out[~np.isfinite(out)] = np.nan
            return out
        return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


def default_checkpoint_path() -> Path:
    """Return the directory of the checkpoint shipped with glacierscale."""
    return Path(str(resources.files("glacierscale") / "checkpoints" / "default"))


def resolve_checkpoint(name: str) -> Path:
    """Return the directory of ``default`` or of a path."""
    return default_checkpoint_path() if name == "default" else Path(name)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_checkpoint(path: Path, model: Any, bands: list[str], mean: np.ndarray, std: np.ndarray,
                    training: dict[str, Any], data_hash: str, *, optional_groups: list[str] | None = None,
                    resolution_m: float | None = None, patch_size: int | None = None,
                    relative_elevation: bool = False) -> str:
    """Write a checkpoint directory; return the model hash.

    ``optional_groups`` names the sensor groups the model was trained to run without (their bands may be
    absent from a cube, or all-NaN); ``resolution_m`` and ``patch_size`` record the training grid and patch
    (taken from ``training`` when not given), which :func:`check_resolution` holds runs to;
    ``relative_elevation`` says the model reads elevation relative to the tile's median (``normalise`` applies it).
    """
    from safetensors.torch import save_file

    from glacierscale.model.bands import bands_by_group

    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(path / WEIGHTS))
    model_hash = sha256_file(path / WEIGHTS)[:16]
    config = {
        "format": "glacierscale-checkpoint/1",
        "architecture": {"name": "vitunet", **model.spec.to_dict()},
        "bands": bands, "groups": bands_by_group(bands), "optional_groups": list(optional_groups or []),
        "normalisation": {"mean": mean.tolist(), "std": std.tolist()},
        "classes": list(CLASSES[:model.spec.n_classes]), "nodata_class": NODATA_CLASS,
        "relative_elevation": bool(relative_elevation),
        "training": training, "data_hash": data_hash, "model_hash": model_hash,
    }
    res = resolution_m if resolution_m is not None else training.get("resolution")
    size = patch_size if patch_size is not None else training.get("patch_size")
    if res is not None:
        config["resolution_m"] = float(res)
    if size is not None:
        config["patch_size"] = int(size)
    (path / CONFIG).write_text(json.dumps(config, indent=1))
    return model_hash


def load_checkpoint(location: str | Path) -> Checkpoint:
    """Load a checkpoint directory; CheckpointError says what is missing or corrupt."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from glacierscale.model.vitunet import ModelSpec, ViTUNet

    path = resolve_checkpoint(str(location))
    if not path.is_dir():
        raise CheckpointError(f"checkpoint {path} does not exist (expected a directory with {WEIGHTS} and {CONFIG})")
    for name in (WEIGHTS, CONFIG):
        if not (path / name).is_file():
            raise CheckpointError(f"checkpoint {path} has no {name}")
    try:
        config = json.loads((path / CONFIG).read_text())
        spec = ModelSpec.from_dict(config["architecture"])
        bands = list(config["bands"])
        mean = np.asarray(config["normalisation"]["mean"], dtype=np.float32)
        std = np.asarray(config["normalisation"]["std"], dtype=np.float32)
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint {path}/{CONFIG} is malformed: {err}") from None
    if len(bands) != spec.in_channels or len(mean) != len(bands) or len(std) != len(bands):
        raise CheckpointError(f"checkpoint {path}: {len(bands)} bands but {spec.in_channels} input channels")
    expected = str(config.get("model_hash", ""))
    if expected and sha256_file(path / WEIGHTS)[: len(expected)] != expected:
        raise CheckpointError(f"checkpoint {path}/{WEIGHTS} is corrupt: its sha256 does not match model_hash "
                              f"{expected} in {CONFIG}")
    try:
        state = load_file(str(path / WEIGHTS))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"checkpoint {path}/{WEIGHTS} is corrupt: {err}") from None
    import torch

    bad = sorted(k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all())
    if bad:  # NaN weights would map every pixel to an arbitrary class
        raise CheckpointError(f"checkpoint {path}/{WEIGHTS} is corrupt: non-finite values in {', '.join(bad[:5])}")
    model = ViTUNet(spec)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(f"checkpoint {path}/{WEIGHTS} does not fit its architecture: {err}") from None
    model.eval()
    return Checkpoint(path, model, bands, mean, std, list(config.get("classes", CLASSES[:spec.n_classes])),
                      str(config.get("model_hash", "")), config)


RESOLUTION_TOLERANCE = 1.5  # training randomises 20-30 m effective resolution: within ×1.5 the model maps as is


def check_resolution(ckpt: Checkpoint, resolution_m: float, *, tolerance: float = RESOLUTION_TOLERANCE) -> None:
    """Refuse (CheckpointMismatchError) a grid more than ``tolerance`` times finer or coarser than training's.

    A ViT-U-Net sees objects at a fixed size in pixels: a 20 m model run on a 10 m grid sees every glacier
    twice as large and its patch covers a quarter of the ground it was trained on. A checkpoint that does not
    record its resolution is accepted.
    """
    trained = ckpt.resolution_m
    if trained is None or resolution_m <= 0:
        return
    if max(trained / resolution_m, resolution_m / trained) > tolerance:
        patch = f", patches of {ckpt.patch_size} px = {ckpt.patch_size * trained / 1000:g} km" if ckpt.patch_size else ""
        raise CheckpointMismatchError(
            f"checkpoint {ckpt.path} was trained on a {trained:g} m grid{patch}; this run's grid is "
            f"{resolution_m:g} m. Set grid.resolution: {trained:g} in the run config (it maps grids of "
            f"{trained / tolerance:.3g}-{trained * tolerance:.3g} m as they are), or use a checkpoint trained at "
            f"{resolution_m:g} m")
