"""Training data: simulated regions → cubes (through the real catalog and cube code) + truth labels."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.warp import Resampling, reproject

from glacierscale.catalog.provider import load_provider
from glacierscale.catalog.server import LocalStacServer
from glacierscale.cube.build import build_unit
from glacierscale.inventory.units import plan_units, read_inventory
from glacierscale.model.checkpoint import NODATA_CLASS
from glacierscale.simulate import RegionSpec, simulate


@dataclass
class Sample:
    """One region-year: the cube (band, y, x), the labels (y, x) and where it came from."""

    region: str
    year: int
    data: np.ndarray
    labels: np.ndarray


def truth_on_grid(truth_tif: Path, epsg: int, transform: object, shape: tuple[int, int]) -> np.ndarray:
    """Return truth classes resampled (majority) onto a cube grid; unknown pixels are NODATA_CLASS."""
    out = np.full(shape, NODATA_CLASS, dtype=np.uint8)
    with rasterio.open(truth_tif) as src:
        reproject(src.read(1), out, src_transform=src.transform, src_crs=src.crs, dst_transform=transform,
                  dst_crs=f"EPSG:{epsg}", resampling=Resampling.mode, src_nodata=NODATA_CLASS,
                  dst_nodata=NODATA_CLASS)
    return out


def region_samples(spec: RegionSpec, workdir: Path, years: list[int], resolution: float, tile_size: int) -> list[Sample]:
    """Simulate a region (unless already simulated) and return its cube + labels per year."""
    scenes = workdir / spec.name
    if not (scenes / "simulation.json").is_file():
        simulate(spec, scenes, progress=False)
    return scene_samples(scenes, years, resolution, tile_size, name=spec.name)


def scene_samples(scenes: Path, years: list[int], resolution: float, tile_size: int, *, name: str | None = None,
                  season: tuple[str, str] = ("07-15", "09-30")) -> list[Sample]:
    """Return cube + truth labels per unit and year of a scene set written by ``glacierscale simulate``."""
    from affine import Affine

    provider = load_provider("local")
    units = plan_units(read_inventory(scenes / "inventory.gpkg"), resolution, tile_size, 0.0, overlap_px=0)
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
                labels[~np.isfinite(data).all(axis=0)] = NODATA_CLASS
                samples.append(Sample(name or scenes.name, year, data, labels))
    return samples


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
    stacked = np.concatenate([s.data.reshape(s.data.shape[0], -1) for s in samples], axis=1)
    mean = np.nanmean(stacked, axis=1)
    std = np.nanstd(stacked, axis=1)
    return mean.astype(np.float32), np.where(std > 1e-6, std, 1.0).astype(np.float32)
