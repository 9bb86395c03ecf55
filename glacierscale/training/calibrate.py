"""Calibrated glacier probability: temperature scaling fitted on validation pixels, and its ECE.

The network's softmax is over-confident; dividing the logits by one temperature T (fitted by minimising
the negative log-likelihood on held-out pixels) keeps every argmax and makes the glacier probability
(1 − p_background) mean what it says. ECE is measured on that binary probability with 15 equal bins.
"""

from __future__ import annotations

import numpy as np

ECE_BINS = 15


def expected_calibration_error(prob: np.ndarray, truth: np.ndarray, bins: int = ECE_BINS) -> float:
    """Return the ECE of binary probabilities ``prob`` against boolean ``truth`` (equal-width bins)."""
    prob, truth = prob.ravel().astype(np.float64), truth.ravel().astype(np.float64)
    if prob.size == 0:
        return float("nan")
    idx = np.minimum((prob * bins).astype(int), bins - 1)
    count = np.bincount(idx, minlength=bins)
    conf = np.bincount(idx, weights=prob, minlength=bins)
    acc = np.bincount(idx, weights=truth, minlength=bins)
    used = count > 0
    return float(np.sum(np.abs(conf[used] - acc[used])) / prob.size)


def softmax(logits: np.ndarray, temperature: float = 1.0, axis: int = 0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def fit_temperature(logits: np.ndarray, labels: np.ndarray, max_pixels: int = 400_000, seed: int = 0) -> float:
    """Return the temperature minimising the NLL of ``labels`` (n,) under ``logits`` (n, classes)."""
    from scipy.optimize import minimize_scalar

    if len(labels) > max_pixels:
        pick = np.random.default_rng(seed).choice(len(labels), max_pixels, replace=False)
        logits, labels = logits[pick], labels[pick]
    rows = np.arange(len(labels))

    def nll(log_t: float) -> float:
        p = softmax(logits, float(np.exp(log_t)), axis=1)
        return float(-np.mean(np.log(np.clip(p[rows, labels], 1e-12, None))))

    res = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(res.x))
