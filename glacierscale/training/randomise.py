"""Domain randomisation of the optical bands of a training patch, so that no class is separable by brightness.

Each patch stands for one scene as another sensor, processor, atmosphere and date would have delivered it:

- **processing**: HLS-like (Landsat OLI bandpass adjusted to MSI, BRDF-normalised: one c-factor for all
  bands and slightly different SWIR gains) or Sen2Cor-like (per-band calibration jitter of ~3 %);
- **per-scene brightness and contrast**: one gain for all optical bands (0.65-1.35, wider than the ×0.7 /
  ×1.3 brightness ablation of the shortcut audit) and a contrast stretch about the patch mean;
- **illumination**: a smooth multiplicative field (thin cloud, haze and slope-correction residuals);
- **atmospheric residuals**: an additive path-radiance offset falling off as λ⁻² from the blue band;
- **resampling**: a blur that turns the 20 m grid into 20-30 m effective resolution (Landsat, or S2 20 m bands
  resampled);
- **sensor noise**: Gaussian noise of 0-0.01 reflectance.

NaN pixels (no optical data) stay NaN. The functions work on raw reflectance, before normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

WAVELENGTH_NM = np.array([490.0, 560.0, 665.0, 842.0, 1610.0, 2190.0], dtype=np.float32)  # B02 ... B12
# HLS L30: OLI → MSI bandpass adjustment slopes (HLS v2 user guide order of magnitude: 0.98-1.0)
HLS_BANDPASS = np.array([0.98, 0.99, 0.99, 0.98, 1.0, 1.0], dtype=np.float32)


@dataclass(frozen=True)
class Randomisation:
    """Ranges of the per-patch draws (see the module docstring)."""

    probability: float = 0.85  # share of patches randomised (the rest keep the simulator's scene as it is)
    gain: tuple[float, float] = (0.65, 1.35)
    contrast: tuple[float, float] = (0.8, 1.2)
    illumination: float = 0.12  # amplitude of the smooth multiplicative field
    haze: tuple[float, float] = (-0.02, 0.05)  # additive offset at B02
    blur_sigma_px: tuple[float, float] = (0.0, 0.7)  # 0.7 px ≈ a 30 m footprint on the 20 m grid
    noise: tuple[float, float] = (0.0, 0.01)
    hls: float = 0.5  # chance of HLS-like rather than Sen2Cor-like processing


def randomise_optical(x: np.ndarray, rng: np.random.Generator, r: Randomisation = Randomisation()) -> np.ndarray:
    """Return the optical bands (band, y, x) of one patch as another scene would show them (a new array)."""
    x = np.array(x, dtype=np.float32)
    if rng.random() >= r.probability:
        return x
    n = x.shape[0]
    wl = WAVELENGTH_NM[:n] if n <= len(WAVELENGTH_NM) else np.full(n, 665.0, np.float32)
    if rng.random() < r.hls:  # HLS-like: bandpass-adjusted, one BRDF c-factor, SWIR gains differ a little
        gains: np.ndarray = HLS_BANDPASS[:n] * rng.uniform(0.93, 1.07)
        gains = gains * np.where(wl > 1000, rng.uniform(0.95, 1.05, n), 1.0)
    else:  # Sen2Cor-like: per-band absolute-calibration and aerosol-retrieval jitter
        gains = np.asarray(rng.normal(1.0, 0.03, n))
    x *= (gains * rng.uniform(*r.gain)).astype(np.float32)[:, None, None]
    finite = np.isfinite(x)
    if finite.any():
        mean = np.nanmean(x, axis=(1, 2), keepdims=True)
        x = mean + (x - mean) * np.float32(rng.uniform(*r.contrast))
    h, w = x.shape[1:]
    coarse = rng.standard_normal((4, 4)).astype(np.float32)
    field = ndimage.zoom(coarse, (h / 4, w / 4), order=1)[:h, :w]
    x *= (1 + r.illumination * field)[None]
    x += (rng.uniform(*r.haze) * (WAVELENGTH_NM[0] / wl) ** 2).astype(np.float32)[:, None, None]
    sigma = rng.uniform(*r.blur_sigma_px)
    if sigma > 0.15:
        filled = np.where(finite, x, 0.0)
        weight = ndimage.gaussian_filter(finite.astype(np.float32), (0, sigma, sigma))
        x = ndimage.gaussian_filter(filled, (0, sigma, sigma)) / np.maximum(weight, 1e-6)
    x += rng.normal(0, rng.uniform(*r.noise), x.shape).astype(np.float32)
    x[~finite] = np.nan
    return x.astype(np.float32, copy=False)
