"""Overlapping-patch inference with blending: every pixel is a weighted mean of the patches that see it.

Patch edges see less context than patch centres, so their predictions get lower weight (a linear ramp over
the overlap); the sum of weights is never zero because every pixel lies in some patch's interior ramp.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from glacierscale.errors import CheckpointMismatchError, InputError
from glacierscale.infer.options import InferOptions, forward_fn
from glacierscale.model.bands import optional_optical_indices, required_indices
from glacierscale.model.checkpoint import NODATA_CLASS, Checkpoint

DEFAULT_PATCH = 128  # inference windows of a checkpoint that does not record its training patch size


def patch_starts(size: int, patch: int, overlap: int) -> list[int]:
    """Return patch start offsets covering [0, size): stride patch - overlap, the last flush with the end."""
    if size <= patch:
        return [0]
    stride = patch - overlap
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    return starts


def blend_weights(patch: int, overlap: int) -> np.ndarray:
    """Return the (patch, patch) blending weight: 1 inside, a linear ramp over ``overlap`` at the edges."""
    ramp = np.ones(patch, dtype=np.float32)
    if overlap > 0:
        edge = (np.arange(overlap, dtype=np.float32) + 1) / (overlap + 1)
        ramp[:overlap] = edge
        ramp[-overlap:] = edge[::-1]
    return np.outer(ramp, ramp)


def select_bands(ckpt: Checkpoint, cube: np.ndarray, cube_bands: list[str]) -> np.ndarray:
    """Return the cube's bands in the checkpoint's order; CheckpointMismatchError when some are absent.

    Bands of a group the checkpoint can run without (``optional_groups``: trained with that group dropped)
    may be absent from the cube altogether (a provider without that sensor); they come back all-NaN, as
    bands of a sensor with no scene in the window do.
    """
    if cube.shape[0] != len(cube_bands):
        raise InputError(f"the cube has {cube.shape[0]} bands but {len(cube_bands)} band names {cube_bands}")
    absent = [b for b in ckpt.bands if b not in cube_bands]
    fatal = ckpt.absent_bands(cube_bands)
    if fatal:
        raise CheckpointMismatchError(
            f"checkpoint {ckpt.path} expects bands {ckpt.bands} but the cube has {cube_bands} (missing {fatal})")
    if not absent:
        return cube[[cube_bands.index(b) for b in ckpt.bands]]
    out = np.full((len(ckpt.bands), *cube.shape[1:]), np.nan, dtype=np.float32)
    for i, b in enumerate(ckpt.bands):
        if b in cube_bands:
            out[i] = cube[cube_bands.index(b)]
    return out


def valid_pixels(ckpt: Checkpoint, data: np.ndarray, *, optical_required: bool = True) -> np.ndarray:
    """Return (y, x) True where the checkpoint can map a pixel: every required (optical) band is finite.

    With ``optical_required=False`` and a checkpoint trained to map without optical data
    (``ckpt.optical_optional``), a pixel with every band of either imaging group (optical or SAR) finite counts.
    """
    if not optical_required and ckpt.optical_optional:
        ok = np.zeros(data.shape[1:], dtype=bool)
        for idx in optional_optical_indices(ckpt.bands):
            ok |= np.isfinite(data[idx]).all(axis=0)
        return ok
    return np.asarray(np.isfinite(data[required_indices(ckpt.bands)]).all(axis=0))


def inference_window(ckpt: Checkpoint, patch: int | None = None, overlap: int | None = None) -> tuple[int, int]:
    """Return the (patch, overlap) inference windows use: by default the patch size the checkpoint was trained on
    (128 px for a checkpoint that does not say), overlapping by a quarter of it."""
    size = patch if patch is not None else (ckpt.patch_size or DEFAULT_PATCH)
    return size, overlap if overlap is not None else size // 4


def predict_probabilities(ckpt: Checkpoint, data: np.ndarray, *, patch: int | None = None, overlap: int | None = None,
                          batch_size: int = 8, device: str = "cpu", temperature: float | None = None,
                          logits_out: bool = False, forward: Callable[[Any], Any] | None = None,
                          blend_on_device: bool | None = None) -> np.ndarray:
    """Return blended class probabilities (n_classes, y, x) for (band, y, x) data in the checkpoint's bands.

    Probabilities use the checkpoint's calibrated temperature unless ``temperature`` is given; with
    ``logits_out`` the blended logits are returned instead (for calibration). ``forward`` runs the network
    on a batch (``glacierscale.infer.options.forward_fn``: bf16, channels-last, torch.compile); by default
    the checkpoint's model in fp32 on ``device``. Windows default to ``inference_window`` (the training patch
    size, a quarter of it overlapping). On an accelerator (or with ``blend_on_device``) the tile is
    uploaded once and patches are cut, softmaxed and blended on the device, with one copy back per tile: host
    round trips per patch batch would otherwise cost most of a GPU's time.
    """
    t = ckpt.temperature if temperature is None else temperature
    patch, overlap = inference_window(ckpt, patch, overlap)
    import torch

    if data.ndim != 3 or data.shape[0] != len(ckpt.bands):
        raise CheckpointMismatchError(f"checkpoint {ckpt.path} expects {len(ckpt.bands)} bands {ckpt.bands} but the "
                                      f"data has shape {data.shape}; pick the bands with select_bands")
    _, h, w = data.shape
    # a model that takes missing inputs (per-group fusion stems) sees NaN and masks the group itself
    x = ckpt.normalise(data, keep_nan=bool(getattr(ckpt.model, "accepts_missing", False)))
    ph, pw = max(h, patch), max(w, patch)
    if (ph, pw) != (h, w):  # small tiles: pad with the band mean (0 after normalisation)
        x = np.pad(x, ((0, 0), (0, ph - h), (0, pw - w)))
    weight = blend_weights(patch, overlap if min(h, w) > patch else 0)
    n_classes = len(ckpt.classes)
    acc = np.zeros((n_classes, ph, pw), dtype=np.float32)
    wsum = np.zeros((ph, pw), dtype=np.float32)
    windows = [(r, c) for r in patch_starts(ph, patch, overlap) for c in patch_starts(pw, patch, overlap)]
    if forward is None:
        forward = forward_fn(ckpt.model, device, InferOptions(precision="fp32"))
    if blend_on_device if blend_on_device is not None else not device.startswith("cpu"):
        return _blend_on_device(x, windows, weight, forward, n_classes, patch=patch, batch_size=batch_size,
                                device=device, temperature=t, logits_out=logits_out)[:, :h, :w]
    with torch.inference_mode():
        for i in range(0, len(windows), batch_size):
            batch = windows[i:i + batch_size]
            tiles = np.stack([x[:, r:r + patch, c:c + patch] for r, c in batch])
            logits = forward(torch.from_numpy(tiles).to(device))
            probs = (logits if logits_out else torch.softmax(logits / t, dim=1)).cpu().numpy()
            for (r, c), p in zip(batch, probs, strict=True):
                acc[:, r:r + patch, c:c + patch] += p * weight
                wsum[r:r + patch, c:c + patch] += weight
    return (acc / wsum)[:, :h, :w]


def _blend_on_device(x: np.ndarray, windows: list[tuple[int, int]], weight: np.ndarray, forward: Callable[[Any], Any],
                     n_classes: int, *, patch: int, batch_size: int, device: str, temperature: float,
                     logits_out: bool) -> np.ndarray:
    """Blend patch predictions of the (band, y, x) normalised tile ``x`` entirely on ``device``."""
    import torch

    with torch.inference_mode():
        tile = torch.from_numpy(np.ascontiguousarray(x)).to(device, non_blocking=True)
        w = torch.from_numpy(weight).to(device)
        acc = torch.zeros((n_classes, *tile.shape[1:]), dtype=torch.float32, device=device)
        wsum = torch.zeros(tile.shape[1:], dtype=torch.float32, device=device)
        for i in range(0, len(windows), batch_size):
            batch = windows[i:i + batch_size]
            logits = forward(torch.stack([tile[:, r:r + patch, c:c + patch] for r, c in batch]))
            probs = logits if logits_out else torch.softmax(logits / temperature, dim=1)
            for (r, c), pr in zip(batch, probs, strict=True):
                acc[:, r:r + patch, c:c + patch] += pr * w
                wsum[r:r + patch, c:c + patch] += w
        return (acc / wsum).cpu().numpy()


def classify(probs: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Return uint8 classes (argmax), NODATA_CLASS where the input had no valid optical data.

    A pixel whose probabilities are not finite is nodata too: it is never mapped as glacier.
    """
    classes = probs.argmax(axis=0).astype(np.uint8)
    classes[~(valid & np.isfinite(probs).all(axis=0))] = NODATA_CLASS
    return classes


def predict_classes(ckpt: Checkpoint, data: np.ndarray, *, optical_required: bool = True,
                    **kwargs: object) -> tuple[np.ndarray, np.ndarray]:
    """Return (classes with NODATA_CLASS where a required band is NaN, class probabilities) of (band, y, x) data.

    ``data`` is in the checkpoint's band order (see ``select_bands``); ``optical_required=False`` maps pixels
    without optical data too where the checkpoint can (``valid_pixels``); keywords go to predict_probabilities.
    """
    probs = predict_probabilities(ckpt, data, **kwargs)  # type: ignore[arg-type]
    return classify(probs, valid_pixels(ckpt, data, optical_required=optical_required)), probs
