"""Assemble one work unit's multi-sensor cube for one year: stackstac stacks → harmonised composite.

Each sensor is stacked lazily on the unit's grid (explicit epsg, resolution, bounds, float32), harmonised
(raster:bands scale/offset via stackstac's rescale; SAR to dB; DEM to elevation + slope), masked (SCL),
composited (median of clear observations) and aligned into one ``(band, y, x)`` array.
A sensor with no scene in the window becomes all-NaN bands flagged ``missing``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from glacierscale.catalog.provider import Provider, SensorDef
from glacierscale.errors import CubeError, InputError
from glacierscale.inventory.units import WorkUnit
from glacierscale.redact import redact

SENSOR_ORDER = ("s2", "s1", "landsat", "dem")
REMOTE_HREF = re.compile(r"'(https?://[^'\s]+)'")  # the asset a failed read names
SORTING_NETWORK_MAX = 12  # observations per composite up to which nan_median sorts element-wise


def cube_bands(provider: Provider) -> list[str]:
    """Return the cube's band names in order: each sensor's bands, plus SLOPE and ASPECT after the DEM."""
    names: list[str] = []
    for sensor in SENSOR_ORDER:
        if sensor in provider.sensors:
            names += list(provider.sensors[sensor].bands)
            if sensor == "dem":
                names += ["SLOPE", "ASPECT"]
    return names


@dataclass(frozen=True)
class YearComposite:
    """One year of one unit: the band stack and per-sensor bookkeeping."""

    data: np.ndarray  # (band, y, x) float32, NaN = no data
    bands: list[str]
    clear_count: np.ndarray  # (y, x) clear optical observations
    missing: dict[str, bool]
    scenes: dict[str, list[str]]


def _stack(items: list[Any], assets: list[str], unit: WorkUnit, resampling: str, rescale: bool,
           gdal: dict[str, str] | None = None) -> xr.DataArray:
    import pystac
    import stackstac
    from rasterio.enums import Resampling

    from glacierscale.catalog.search import detach_item
    from glacierscale.cube.reader import SingleWarpReader

    try:
        return stackstac.stack(
            [pystac.Item.from_dict(detach_item(it)) for it in items], assets=assets, epsg=unit.epsg,
            resolution=unit.resolution, bounds=unit.padded_bounds(),
            dtype=np.dtype("float32"), fill_value=np.float32(np.nan), rescale=rescale,
            resampling=getattr(Resampling, resampling), chunksize=unit.read_size_px,
            # a failed read must fail loudly, not turn into NaN pixels that look like clouds
            errors_as_nodata=(), snap_bounds=False,
            gdal_env=stackstac.DEFAULT_GDAL_ENV.updated(always=gdal or {}),
            reader=SingleWarpReader,  # the same pixels, without warping every asset twice
        )
    except Exception as err:
        reason = f"{err}"
    # raised outside the handler, redacted: the original's text (and its chain) holds the signed hrefs, and an
    # exception whose context holds reader objects cannot be sent back from a Ray task
    ids = [detach_item(it)["id"] for it in items]
    raise CubeError(redact(f"cannot stack {assets} of {ids} for unit {unit.unit_id}: {reason}"))


def _compute(arr: xr.DataArray, what: str, unit: WorkUnit, timeout_s: float = 60.0) -> np.ndarray:
    from glacierscale.catalog.access import unreachable

    try:
        return np.asarray(arr.compute(scheduler="threads", num_workers=2))
    except Exception as err:
        reason = f"{err}"
    href = REMOTE_HREF.search(reason) if "not recognized as" in reason else None
    why = unreachable(href.group(1), timeout_s) if href else None  # a stalled server, not a corrupt file?
    if why:
        reason = f"{reason} (the asset could not be fetched: {why})"
    raise CubeError(redact(f"reading {what} for unit {unit.unit_id} failed: {reason}"))  # unchained (see _stack)


def terrain_layers(elev: np.ndarray, res: float) -> np.ndarray:
    """Return slope (°) and aspect (° clockwise from north, the downslope direction) of a north-up grid."""
    dz_drow, dz_dx = np.gradient(elev, res)
    dz_dy = -dz_drow  # rows grow southwards
    slope = np.degrees(np.arctan(np.hypot(dz_dx, dz_dy)))
    aspect = np.degrees(np.arctan2(-dz_dx, -dz_dy)) % 360.0
    return np.stack([slope, aspect]).astype(np.float32)


def nan_median(stack: np.ndarray) -> np.ndarray:
    """Return the median over axis 0 ignoring NaN (NaN where no value), as float32.

    Sorted with NaN last, the median of the n finite values sits at ranks (n-1)//2 and n//2. A composite
    window holds a few observations, so they are sorted by a sorting network of element-wise min/max
    (``fmin`` keeps a number over NaN, ``maximum`` keeps NaN: NaN sinks to the end), which is several times
    faster than ``np.sort`` along a short leading axis and much faster than ``np.nanmedian``.
    """
    n_obs = stack.shape[0]
    n = np.isfinite(stack).sum(axis=0)
    if n_obs > SORTING_NETWORK_MAX:
        ordered = np.sort(stack, axis=0)
        lo = np.take_along_axis(ordered, np.maximum((n - 1) // 2, 0)[None], axis=0)[0]
        hi = np.take_along_axis(ordered, np.maximum(n // 2, 0)[None], axis=0)[0]
        with np.errstate(invalid="ignore"):
            med = (lo + hi) / 2
        return np.where(n > 0, med, np.nan).astype(np.float32)
    ranked = [stack[i] for i in range(n_obs)]
    for r in range(n_obs):  # odd-even transposition sort: n rounds of neighbour compare-swaps
        for i in range(r % 2, n_obs - 1, 2):
            ranked[i], ranked[i + 1] = np.fmin(ranked[i], ranked[i + 1]), np.maximum(ranked[i], ranked[i + 1])
    med = np.full(stack.shape[1:], np.nan, dtype=np.float32)
    for k in range(1, n_obs + 1):
        has_k = n == k
        if has_k.any():
            med[has_k] = ((ranked[(k - 1) // 2][has_k] + ranked[k // 2][has_k]) / 2).astype(np.float32)
    return med


def band_rules(items: list[Any], provider: Provider, sdef: SensorDef, unit: WorkUnit) -> tuple[np.ndarray, ...]:
    """Return per-(item, band) scale, offset and nodata as ``catalog.parse`` reads them.

    Per item, because one collection mixes processing baselines (Sentinel-2 L2A offset -0.1 from
    baseline 04.00 on, 0 before), and an item's own ``raster:bands`` win over the provider's rules.
    Items that cannot be stacked (radar geometry, missing assets, no CRS) are refused here.
    """
    from glacierscale.catalog.parse import parse_item
    from glacierscale.catalog.search import detach_item

    names = list(sdef.bands)
    shape = (len(items), len(names))
    scale, offset, nodata = np.ones(shape), np.zeros(shape), np.full(shape, np.nan)
    for i, it in enumerate(items):
        d = detach_item(it)
        try:
            parsed = parse_item(d, provider, probe=True)
        except InputError as err:
            reason = f"{err}"
            raise CubeError(redact(f"item {d['id']} cannot go into the cube of unit {unit.unit_id}: {reason}")) from None
        if not parsed.usable:
            raise CubeError(f"item {parsed.id} cannot go into the cube of unit {unit.unit_id}: {parsed.reason}")
        for j, name in enumerate(names):
            b = parsed.bands[name]
            scale[i, j], offset[i, j] = b.scale, b.offset
            nodata[i, j] = np.nan if b.nodata is None else b.nodata
    return scale.astype(np.float32), offset.astype(np.float32), nodata.astype(np.float32)


def composite_sensor(provider: Provider, sensor: str, items: list[Any], unit: WorkUnit) -> tuple[np.ndarray, np.ndarray]:
    """Return (bands × y × x composite, clear-observation count) for one sensor.

    Items arrive unsigned; under ``planetary-computer-sas`` their hrefs are signed right before each read.
    """
    from glacierscale.catalog.access import gdal_options, readable
    from glacierscale.catalog.search import detach_item
    from glacierscale.redact import redact_logs

    sdef = provider.sensors[sensor]
    keys = list(sdef.bands.values())
    access = sdef.access or provider.access
    gdal = gdal_options(access, provider.read_timeout_s)
    redact_logs()  # GDAL errors logged by rasterio name the (signed) href

    def now(its: list[Any]) -> list[dict[str, Any]]:  # signed for a read that starts now
        return readable([detach_item(it) for it in its], access, provider.token_url, provider.sign_hosts)

    scale, offset, nodata = band_rules(now(items), provider, sdef, unit)  # refuses unusable items before reading
    # stackstac's own rescale refuses float32 output; scale/offset are applied here, per item
    raw = _compute(_stack(now(items), keys, unit, sdef.resampling, rescale=False, gdal=gdal), f"{sensor} bands", unit,
                   provider.read_timeout_s)
    stack = raw.astype(np.float32, copy=False)
    is_nodata = stack == nodata[:, :, None, None]
    stack *= scale[:, :, None, None]  # in place: a 1024² unit of 4 scenes x 6 bands is 100 MB
    stack += offset[:, :, None, None]
    stack[is_nodata] = np.nan
    # optical bands are used together (one spectrum per observation); other sensors band by band
    # (SAR coherence is missing in layover and radar shadow, where backscatter is still measured)
    valid = np.asarray(np.isfinite(stack).all(axis=1) if sdef.mask_asset else np.isfinite(stack[:, 0]))
    if sdef.mask_asset:
        scl = _compute(_stack(now(items), [sdef.mask_asset], unit, "nearest", rescale=False, gdal=gdal),
                       f"{sensor} mask", unit, provider.read_timeout_s)[:, 0]
        flags = np.nan_to_num(scl, nan=0).astype(np.int64)
        if sdef.clear_scl:  # a class layer (Sentinel-2 SCL): keep the clear classes
            valid &= np.isin(flags, sdef.clear_scl)
        if sdef.cloud_bits:  # a bit field (Landsat QA_PIXEL): drop pixels with any cloud/shadow bit set
            valid &= (flags & sum(1 << b for b in sdef.cloud_bits)) == 0
    if sdef.mask_asset:
        stack[~np.broadcast_to(valid[:, None], stack.shape)] = np.nan
    comp = nan_median(stack)
    names = list(sdef.bands)
    for name in sdef.to_db:
        i = names.index(name)
        with np.errstate(divide="ignore", invalid="ignore"):
            comp[i] = np.where(comp[i] > 0, 10 * np.log10(comp[i]), np.nan)
    return comp, valid.sum(axis=0).astype(np.int16)


def build_year(provider: Provider, selections: dict[str, list[Any]], unit: WorkUnit) -> YearComposite:
    """Return the aligned composite of every sensor of ``provider`` for one unit and window."""
    shape = (unit.read_size_px, unit.read_size_px)
    layers: list[np.ndarray] = []
    missing: dict[str, bool] = {}
    clear = np.zeros(shape, dtype=np.int16)
    for sensor in SENSOR_ORDER:
        if sensor not in provider.sensors:
            continue
        sdef = provider.sensors[sensor]
        items = selections.get(sensor, [])
        n_bands = len(sdef.bands) + (2 if sensor == "dem" else 0)
        if not items:
            missing[sensor] = True
            layers.append(np.full((n_bands, *shape), np.nan, dtype=np.float32))
            continue
        missing[sensor] = False
        comp, count = composite_sensor(provider, sensor, items, unit)
        if sensor == "s2":
            clear = count
        if sensor == "dem":
            comp = np.concatenate([comp, terrain_layers(comp[0], unit.resolution)])
        layers.append(comp)
    data = np.concatenate(layers).astype(np.float32)
    scenes = {s: [it.id for it in selections.get(s, [])] for s in provider.sensors}
    return YearComposite(data, cube_bands(provider), clear, missing, scenes)
