"""Training data: simulated regions → cubes (through the real catalog and cube code) + truth labels."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path

import numpy as np
import rasterio
from rasterio.warp import Resampling, reproject

from glacierscale.catalog.provider import load_provider
from glacierscale.catalog.server import LocalStacServer
from glacierscale.cube.build import build_unit
from glacierscale.errors import InputError
from glacierscale.inventory.units import plan_units, read_inventory
from glacierscale.model.checkpoint import NODATA_CLASS
from glacierscale.simulate import RegionSpec, simulate
from glacierscale.simulate.scene import refresh_truth

CACHE_VERSION = 2  # bump when scene_samples changes what it returns
_SPEC_DEFAULTS = json.loads(json.dumps({f.name: f.default for f in fields(RegionSpec) if f.default is not MISSING}))


@dataclass
class Sample:
    """One region-year: the cube (band, y, x), the labels (y, x) and where it came from."""

    region: str
    year: int
    data: np.ndarray
    labels: np.ndarray
    bands: tuple[str, ...] = ()  # names of the data's bands, in order
    unit: str = ""  # work unit id (catalog sources: training/sources.py)


def truth_on_grid(truth_tif: Path, epsg: int, transform: object, shape: tuple[int, int]) -> np.ndarray:
    """Return truth classes resampled (majority) onto a cube grid; unknown pixels are NODATA_CLASS."""
    out = np.full(shape, NODATA_CLASS, dtype=np.uint8)
    with rasterio.open(truth_tif) as src:
        reproject(src.read(1), out, src_transform=src.transform, src_crs=src.crs, dst_transform=transform,
                  dst_crs=f"EPSG:{epsg}", resampling=Resampling.mode, src_nodata=NODATA_CLASS,
                  dst_nodata=NODATA_CLASS)
    return out


def region_samples(spec: RegionSpec, workdir: Path, years: list[int], resolution: float, tile_size: int,
                   sensors: tuple[str, ...] = ("s2", "s1", "dem")) -> list[Sample]:
    """Simulate a region (unless ``workdir`` holds it already) and return its cube + labels per year.

    The scenes and the cubes built from them are cached in ``workdir/<name>``; a changed spec or sensor
    list simulates again, a changed band list or grid cubes again.
    """
    scenes = workdir / spec.name
    wanted = json.loads(json.dumps({**asdict(spec), "sensors": list(sensors)}))
    meta = scenes / "simulation.json"
    if meta.is_file():
        stored = json.loads(meta.read_text())
        # a spec field added after these scenes were simulated is absent from them; its default is what they used
        stored = {**_SPEC_DEFAULTS, **stored}
        if any(stored.get(k) != v for k, v in wanted.items() if k != "years") or stored.get("years") != list(years):
            shutil.rmtree(scenes)  # simulated from another spec: start again
    if not meta.is_file():
        simulate(spec, scenes, sensors=sensors, progress=False)
    refresh_truth(scenes, spec)  # scenes simulated before the water class gain it (truth only)
    return cached_samples(scenes, years, resolution, tile_size, name=spec.name)


def cached_samples(scenes: Path, years: list[int], resolution: float, tile_size: int, *, name: str) -> list[Sample]:
    """Return ``scene_samples`` of a scene set, from ``cubes-*.npz`` beside it when that is up to date."""
    from glacierscale.cube.assemble import cube_bands

    bands = cube_bands(load_provider("local"))
    key = hashlib.sha256(json.dumps([CACHE_VERSION, (scenes / "simulation.json").read_text(), bands, years,
                                     resolution, tile_size]).encode()).hexdigest()[:16]
    cache = scenes / f"cubes-{resolution:g}m-{tile_size}px.npz"
    if cache.is_file():
        with np.load(cache) as z:
            if str(z["key"]) == key:
                return [Sample(name, int(y), d, lab, tuple(bands))
                        for y, d, lab in zip(z["years"], z["data"], z["labels"], strict=True)]
    samples = scene_samples(scenes, years, resolution, tile_size, name=name)
    np.savez(cache, key=key, years=np.array([s.year for s in samples]), data=np.stack([s.data for s in samples]),
             labels=np.stack([s.labels for s in samples]))
    return samples


def scene_samples(scenes: Path, years: list[int], resolution: float, tile_size: int, *, name: str | None = None,
                  season: tuple[str, str] = ("07-15", "09-30")) -> list[Sample]:
    """Return cube + truth labels per unit and year of a scene set written by ``glacierscale simulate``."""
    from affine import Affine

    from glacierscale.cube.assemble import cube_bands
    from glacierscale.model.bands import required_indices

    provider = load_provider("local")
    bands = tuple(cube_bands(provider))
    required = required_indices(list(bands))
    units = plan_units(read_inventory(scenes / "inventory.gpkg"), resolution, tile_size, 0.0, overlap_px=0)
    meta = json.loads((scenes / "simulation.json").read_text())
    units = [u for u in units if _covered(u.bounds, u.epsg, meta)]  # real outlines may reach past the window
    if not units:
        raise InputError(f"simulated region {scenes}: no tile of the run's grid ({tile_size} px × {resolution:g} m) "
                         "lies mostly inside the simulated window; simulate a larger --size")
    samples = []
    with LocalStacServer(scenes) as server:
        for unit in units:
            ds, _ = build_unit(server.url, provider, unit, years, season=season, max_cloud=80, max_scenes=4)
            minx, _, _, maxy = unit.bounds
            transform = Affine(unit.resolution, 0, minx, 0, -unit.resolution, maxy)
            for year in years:
                data = ds["data"].sel(year=year).values
                labels = truth_on_grid(scenes / "truth" / f"truth_classes_{year}.tif", unit.epsg, transform,
                                       data.shape[1:])
                # unmappable pixels (no optical data) are not labelled; a missing optional band (coherence in
                # layover, a DEM void, no thermal scene) leaves the pixel to be mapped from the other groups
                labels[~np.isfinite(data[required]).all(axis=0)] = NODATA_CLASS
                samples.append(Sample(name or scenes.name, year, data, labels, bands))
    return samples


def _covered(bounds: tuple[float, float, float, float], epsg: int, meta: dict[str, object]) -> bool:
    """Return whether the simulated region covers most of a unit (over half its area).

    A unit in another CRS than the simulation's (the simulator grids in UTM up to 84° N as Sentinel-2 does, the
    run's tiles are polar stereographic from 72° N) is compared by its bounds taken into the simulation's CRS.
    """
    if "bounds" not in meta:
        return True
    if meta.get("epsg") != epsg:
        from pyproj import Transformer

        tf = Transformer.from_crs(f"EPSG:{epsg}", f"EPSG:{meta.get('epsg')}", always_xy=True)
        bounds = tf.transform_bounds(*bounds, densify_pts=21)
    left, bottom, right, top = (float(v) for v in meta["bounds"])  # type: ignore[attr-defined]
    w = max(0.0, min(right, bounds[2]) - max(left, bounds[0]))
    h = max(0.0, min(top, bounds[3]) - max(bottom, bounds[1]))
    return w * h > 0.5 * (bounds[2] - bounds[0]) * (bounds[3] - bounds[1])


def align_bands(samples: list[Sample], to: Sequence[str] | None = None) -> list[Sample]:
    """Return the samples on one band list: every band any sample has, in sensor-group order (a band a
    sample's catalog does not deliver is NaN there, as a missing sensor is in a cube). Unchanged when all agree.
    ``to``: that band list instead (a checkpoint's, to fine-tune it); it must hold every band of the samples.
    """
    from dataclasses import replace

    from glacierscale.model.bands import GROUPS

    if to is None and len({s.bands for s in samples}) <= 1:
        return samples
    have = {b for s in samples for b in s.bands}
    if to is not None:
        order = list(to)
        if not have <= set(order):
            raise ValueError(f"bands {sorted(have - set(order))} are not among {order}")
        if all(s.bands == tuple(order) for s in samples):
            return samples
    else:
        order = [b for g in GROUPS.values() for b in g if b in have]
        order += sorted(have - set(order))
    out = []
    for s in samples:
        data = np.full((len(order), *s.labels.shape), np.nan, np.float32)
        for i, b in enumerate(s.bands):
            data[order.index(b)] = s.data[i]
        out.append(replace(s, data=data, bands=tuple(order)))
    return out


def data_hash(samples: list[Sample]) -> str:
    """Return a short hash of the training data (cubes and labels)."""
    h = hashlib.sha256()
    for s in samples:
        h.update(s.region.encode())
        h.update(np.nan_to_num(s.data).tobytes())
        h.update(s.labels.tobytes())
    return h.hexdigest()[:16]


def band_statistics(samples: list[Sample]) -> tuple[np.ndarray, np.ndarray]:
    """Return per-band mean and standard deviation over valid pixels of all samples."""
    n_bands = samples[0].data.shape[0]
    mean, std = np.zeros(n_bands), np.ones(n_bands)
    for b in range(n_bands):  # band by band: a band no training sample has (a sensor never seen) keeps 0 / 1
        values = np.concatenate([s.data[b][np.isfinite(s.data[b])] for s in samples])
        if values.size:
            mean[b], std[b] = values.mean(dtype=np.float64), values.std(dtype=np.float64)
    return mean.astype(np.float32), np.where(std > 1e-6, std, 1.0).astype(np.float32)
