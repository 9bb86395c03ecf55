"""Per-pixel series of one tile over every archived year: temporal filter, gap filling, per-glacier estimates.

A run item sees one year; filling a cloud gap from the neighbouring years needs all years of the tile, so this
runs when a run publishes (``glacierscale.archive.temporal`` reads the tile's archived class and probability
rasters of every year and calls :func:`tile_series`). Per pixel and year the result is the expected ice
fraction ``e`` (0..1), its variance ``v`` and where it came from:

- **observed** (class != 255): ``e`` is the mapped class after the temporal filter below; ``v = p(1-p)`` from
  the calibrated glacier probability ``p`` of that pixel-year.
- **temporal filter**: an observed pixel whose nearest observed years before and after agree with each other and
  disagree with it (ice, rock, ice: a snow patch or cloud shadow read as rock) takes their class unless its own
  probability is strong evidence (``p ≥ strong`` for ice, ``p ≤ 1 - strong`` for rock). The first and last
  year have one side and are never changed. Real retreat (ice, rock, rock) is never touched.
- **years**: a nodata pixel observed in other years: linear interpolation in time between the nearest observed
  years before and after (ice 2021, rock 2023 → 0.5 in 2022, variance 0.25), or the one side there is
  (persistence, variance growing by ``persist_var_per_year`` per year of distance, at most 0.25).
- **nearby**: a pixel never observed in any year takes ``e`` of the nearest pixel observed that year (or filled
  from other years), variance 0.25 (an honest "don't know").

Ice is attributed to glaciers through the glacier polygons the reducer archived (its parts): a pixel belongs to
the glacier whose mapped ice covered it that year, else in the nearest year, else to the nearest mapped ice of
any year within ``reach_m`` (the reducer's attribution buffer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

NODATA = 255
OBSERVED, FILTERED, FROM_YEARS, FROM_NEARBY = 0, 1, 2, 3


@dataclass(frozen=True)
class TemporalOptions:
    """How the series of a tile is filtered and filled (config ``reduce``; see docs/products.md)."""

    filter: bool = True
    strong: float = 0.98  # probability at which one year's reading stands against its two neighbours
    persist_var_per_year: float = 0.05  # variance of a one-sided (persistence) fill per year of distance
    reach_m: float = 100.0  # attribution buffer: filled ice farther from every glacier's mapped ice is not counted
    correlation_px: float = 3.0  # side of the block within which model errors are correlated (model term)


@dataclass(frozen=True)
class TileSeries:
    """Per pixel and year of one tile: expected ice, its variance, its source and the glacier label."""

    ice: np.ndarray  # (years, y, x) float32, NaN where nothing at all is known
    var: np.ndarray  # (years, y, x) float32
    source: np.ndarray  # (years, y, x) uint8: OBSERVED, FILTERED, FROM_YEARS, FROM_NEARBY
    labels: np.ndarray  # (years, y, x) int32: glacier index + 1, 0 = none


@dataclass(frozen=True)
class GlacierYear:
    """One glacier's estimate in one tile-year (km², km, km⁴)."""

    area_km2: float  # observed (filtered) + filled
    observed_area_km2: float  # mapped ice on observed pixels as mapped (before the temporal filter)
    filled_km2: float  # expected ice on pixels not observed that year
    filled_nearby_km2: float  # of which from nearby pixels (never observed in any year)
    filtered_km2: float  # net change of observed ice made by the temporal filter
    perimeter_km: float  # boundary of the estimated ice (e ≥ 0.5), tile cuts excluded
    model_var_km4: float  # variance of the area from the calibrated probabilities and the fills


def _nearest_observed(obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return per (year, pixel) the index of the nearest observed year before and after it (-1 if none)."""
    n = obs.shape[0]
    before = np.full(obs.shape, -1, dtype=np.int16)
    after = np.full(obs.shape, -1, dtype=np.int16)
    last = np.full(obs.shape[1:], -1, dtype=np.int16)
    for i in range(n):
        before[i] = last
        last = np.where(obs[i], i, last)
    nxt = np.full(obs.shape[1:], -1, dtype=np.int16)
    for i in range(n - 1, -1, -1):
        after[i] = nxt
        nxt = np.where(obs[i], i, nxt)
    return before, after


def _take(stack: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Return stack[index[y, x], y, x] (index ≥ 0 expected where used)."""
    return np.take_along_axis(stack, np.clip(index, 0, None)[None].astype(np.intp), axis=0)[0]


def tile_series(years: list[int], classes: np.ndarray, probability: np.ndarray, ice_labels: np.ndarray,
                resolution: float, options: TemporalOptions = TemporalOptions()) -> TileSeries:
    """Return the filtered and filled series of one tile.

    ``classes``/``probability``: (years, y, x) uint8 as archived (255 = nodata; a gap year is all 255);
    ``ice_labels``: (years, y, x) int32, glacier index + 1 where that year's mapped ice of a glacier lies.
    ``years`` must be ascending (the time axis of the interpolation).
    """
    if list(years) != sorted(years) or len(set(years)) != len(years):
        raise ValueError(f"years must be ascending and distinct, got {years}")
    t = np.asarray(years, dtype=np.float32)
    obs = classes != NODATA
    ice = np.where(obs, np.isin(classes, (1, 2)), 0).astype(np.float32)
    p = np.where(obs & (probability != NODATA), probability, 0).astype(np.float32) / 100.0
    p = np.where(obs & (probability == NODATA), ice, p)
    var = np.where(obs, p * (1 - p), 0).astype(np.float32)
    source = np.where(obs, OBSERVED, FROM_NEARBY).astype(np.uint8)
    before, after = _nearest_observed(obs)
    n = len(years)
    if options.filter and n >= 3:
        for i in range(n):
            b, a = before[i], after[i]
            both = obs[i] & (b >= 0) & (a >= 0)
            if not both.any():
                continue
            ib, ia = _take(ice, b), _take(ice, a)
            agree = both & (ib == ia) & (ib != ice[i])
            weak = np.where(ice[i] > 0.5, p[i] < options.strong, p[i] > 1 - options.strong)
            flip = agree & weak
            if flip.any():
                ice[i] = np.where(flip, ib, ice[i])
                var[i] = np.where(flip, np.maximum(var[i], 0.25 * (1 - abs(p[i] - ib))), var[i])
                source[i] = np.where(flip, FILTERED, source[i])
    out = ice.copy()
    for i in range(n):
        miss = ~obs[i]
        if not miss.any():
            continue
        b, a = before[i], after[i]
        has_b, has_a = miss & (b >= 0), miss & (a >= 0)
        eb, ea = _take(ice, b), _take(ice, a)
        tb, ta = t[np.clip(b, 0, None)], t[np.clip(a, 0, None)]
        two = has_b & has_a
        w = np.where(two, (t[i] - tb) / np.where(two, ta - tb, 1.0), 0.0)
        interp = eb + (ea - eb) * w
        one_b, one_a = has_b & ~has_a, has_a & ~has_b
        dist = np.where(one_b, t[i] - tb, np.where(one_a, ta - t[i], 0.0))
        out[i] = np.where(two, interp, np.where(one_b, eb, np.where(one_a, ea, out[i])))
        v_two = interp * (1 - interp)
        v_one = np.minimum(0.25, options.persist_var_per_year * dist)
        var[i] = np.where(two, v_two, np.where(one_b | one_a, v_one, var[i]))
        source[i] = np.where(two | one_b | one_a, FROM_YEARS, source[i])
    ever = obs.any(axis=0)
    year_label, near_any = _labels(ice_labels, resolution, options.reach_m)
    # observed ice keeps the reducer's attribution of that year (unattributed ice stays unattributed)
    mapped = obs & np.isin(classes, (1, 2)) & (source == OBSERVED)
    labels = np.where(mapped, ice_labels, np.where(ever[None], year_label, near_any[None])).astype(np.int32)
    if not ever.all():
        if ever.any():
            _, (iy, ix) = ndimage.distance_transform_edt(~ever, return_indices=True)
            for i in range(n):
                out[i] = np.where(ever, out[i], out[i][iy, ix])
            var = np.where(ever[None], var, np.float32(0.25) * (out > 0))
        else:
            out[:] = np.nan
    return TileSeries(out.astype(np.float32), var.astype(np.float32), source, labels)


def _labels(ice_labels: np.ndarray, resolution: float, reach_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Return (per year the glacier of each pixel: that year's mapped ice, else the nearest year's;
    per pixel the glacier of the nearest mapped ice of any year within ``reach_m``)."""
    n = ice_labels.shape[0]
    out = ice_labels.astype(np.int32).copy()
    for i in range(n):
        for d in range(1, n):
            for j in (i - d, i + d):
                if 0 <= j < n:
                    out[i] = np.where(out[i] == 0, ice_labels[j], out[i])
    anyl = out.max(axis=0) if n else np.zeros(ice_labels.shape[1:], np.int32)
    near = anyl
    if reach_m > 0 and anyl.any() and not anyl.all():
        dist, (iy, ix) = ndimage.distance_transform_edt(anyl == 0, return_indices=True)
        near = np.where(dist * resolution <= reach_m, anyl[iy, ix], 0)
    return out, near


def _perimeters_km(mask_labels: np.ndarray, n: int, res_m: float) -> np.ndarray:
    """Return per label 0..n-1 the length (km) of pixel edges between it and any other label (tile cuts excluded)."""
    out = np.zeros(n, dtype=np.float64)
    padded = np.pad(mask_labels, 1, mode="edge")
    for a, b in ((padded[1:, 1:-1], padded[:-1, 1:-1]), (padded[1:-1, 1:], padded[1:-1, :-1])):
        edge = a != b
        out += np.bincount(a[edge].ravel(), minlength=n)[:n] + np.bincount(b[edge].ravel(), minlength=n)[:n]
    return out * res_m / 1000.0


def glacier_years(series: TileSeries, classes: np.ndarray, n_glaciers: int, resolution: float,
                  inside: np.ndarray | None = None,
                  options: TemporalOptions = TemporalOptions(),
                  pixel_km2: np.ndarray | None = None) -> list[dict[int, GlacierYear]]:
    """Return per year {glacier index: GlacierYear} for the glaciers with any ice or label in the tile.

    ``inside`` masks the pixels counted (the unit's CRS zone; see ``reduce.areas.zone_mask``); ``pixel_km2`` is
    each pixel's true ground area (``reduce.areas.pixel_areas_km2``; resolution² when None).
    """
    px = np.full(classes.shape[1:], resolution**2 / 1e6) if pixel_km2 is None else pixel_km2
    m = n_glaciers + 1
    block = max(1.0, options.correlation_px) ** 2
    out = []
    for i in range(series.ice.shape[0]):
        lab = series.labels[i] if inside is None else np.where(inside, series.labels[i], 0)
        e = np.nan_to_num(series.ice[i], nan=0.0)
        src = series.source[i]
        obs = classes[i] != NODATA
        raw = np.isin(classes[i], (1, 2)).astype(np.float64)

        def total(w: np.ndarray, lab: np.ndarray = lab) -> np.ndarray:
            return np.bincount(lab.ravel(), weights=w.ravel().astype(np.float64), minlength=m)[:m]

        area = total(e * px)
        observed = total(np.where(obs, raw, 0) * px)
        filled = total(np.where(obs, 0, e) * px)
        nearby = total(np.where(src == FROM_NEARBY, e, 0) * px)
        filtered = total(np.where(obs, e - raw, 0) * px)
        var = total(series.var[i] * px * px) * block
        hard = np.where(e >= 0.5, lab, 0)
        perim = _perimeters_km(hard, m, resolution)
        present = np.flatnonzero(np.bincount(lab.ravel(), minlength=m)[:m])
        out.append({int(k - 1): GlacierYear(float(area[k]), float(observed[k]), float(filled[k]), float(nearby[k]),
                                            float(filtered[k]), float(perim[k]), float(var[k]))
                    for k in present if k > 0})
    return out
