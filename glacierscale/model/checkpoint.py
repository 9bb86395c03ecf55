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
from glacierscale.errors import CheckpointError

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
        """Return the bands the model needs that ``cube_bands`` lacks (bands of optional groups may be absent)."""
        from glacierscale.model.bands import group_of

        return [b for b in self.bands if b not in cube_bands and group_of(b) not in self.optional_groups]

    @property
    def temperature(self) -> float:
        """The calibration temperature (1.0 for an uncalibrated checkpoint)."""
        return float(self.config.get("calibration", {}).get("temperature", 1.0))

    def normalise(self, cube: np.ndarray, *, keep_nan: bool = False) -> np.ndarray:
        """Return (band, y, x) data normalised per band, NaN replaced by 0 (the band mean).

        With ``keep_nan`` missing values (NaN, ±inf) stay NaN, for a model that masks missing inputs itself.
        """
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
                    training: dict[str, Any], data_hash: str, *, optional_groups: list[str] | None = None) -> str:
    """Write a checkpoint directory; return the model hash.

    ``optional_groups`` names the sensor groups the model was trained to run without (their bands may be
    absent from a cube, or all-NaN).
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
        "classes": list(CLASSES), "nodata_class": NODATA_CLASS,
        "training": training, "data_hash": data_hash, "model_hash": model_hash,
    }
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
    return Checkpoint(path, model, bands, mean, std, list(config.get("classes", CLASSES)),
                      str(config.get("model_hash", "")), config)
