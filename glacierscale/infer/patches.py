"""Overlapping-patch inference with blending: every pixel is a weighted mean of the patches that see it.

Patch edges see less context than patch centres, so their predictions get lower weight (a linear ramp over
the overlap); the sum of weights is never zero because every pixel lies in some patch's interior ramp.
"""

from __future__ import annotations

import numpy as np

from glacierscale.errors import CheckpointError
from glacierscale.model.checkpoint import NODATA_CLASS, Checkpoint


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
    """Return the cube's bands in the checkpoint's order; CheckpointError when some are absent."""
    absent = [b for b in ckpt.bands if b not in cube_bands]
    if absent:
        raise CheckpointError(
            f"checkpoint {ckpt.path} expects bands {ckpt.bands} but the cube has {cube_bands} (missing {absent})")
    return cube[[cube_bands.index(b) for b in ckpt.bands]]


def predict_probabilities(ckpt: Checkpoint, data: np.ndarray, *, patch: int = 128, overlap: int = 32,
                          batch_size: int = 8, device: str = "cpu", temperature: float | None = None,
                          logits_out: bool = False) -> np.ndarray:
    """Return blended class probabilities (n_classes, y, x) for (band, y, x) data in the checkpoint's bands.

    Probabilities use the checkpoint's calibrated temperature unless ``temperature`` is given; with
    ``logits_out`` the blended logits are returned instead (for calibration).
    """
    t = ckpt.temperature if temperature is None else temperature
    import torch

    _, h, w = data.shape
    x = ckpt.normalise(data)
    ph, pw = max(h, patch), max(w, patch)
    if (ph, pw) != (h, w):  # small tiles: pad with the band mean (0 after normalisation)
        x = np.pad(x, ((0, 0), (0, ph - h), (0, pw - w)))
    weight = blend_weights(patch, overlap if min(h, w) > patch else 0)
    n_classes = len(ckpt.classes)
    acc = np.zeros((n_classes, ph, pw), dtype=np.float32)
    wsum = np.zeros((ph, pw), dtype=np.float32)
    windows = [(r, c) for r in patch_starts(ph, patch, overlap) for c in patch_starts(pw, patch, overlap)]
    model = ckpt.model.to(device)
    with torch.inference_mode():
        for i in range(0, len(windows), batch_size):
            batch = windows[i:i + batch_size]
            tiles = np.stack([x[:, r:r + patch, c:c + patch] for r, c in batch])
            logits = model(torch.from_numpy(tiles).to(device)).float()
            probs = (logits if logits_out else torch.softmax(logits / t, dim=1)).cpu().numpy()
            for (r, c), p in zip(batch, probs, strict=True):
                acc[:, r:r + patch, c:c + patch] += p * weight
                wsum[r:r + patch, c:c + patch] += weight
    return (acc / wsum)[:, :h, :w]


def classify(probs: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Return uint8 classes (argmax), NODATA_CLASS where the input had no valid optical data."""
    classes = probs.argmax(axis=0).astype(np.uint8)
    classes[~valid] = NODATA_CLASS
    return classes
