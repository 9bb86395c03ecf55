"""Ray actors that hold one model each (pinned to a GPU when the config asks for one) and map cube tiles."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from glacierscale.classes import glacier_probability
from glacierscale.infer.options import InferOptions, forward_fn
from glacierscale.infer.patches import inference_window, predict_classes, select_bands, valid_pixels
from glacierscale.model.checkpoint import NODATA_CLASS

if TYPE_CHECKING:
    from glacierscale.cube.years import CubeYear


@dataclass(frozen=True)
class TileResult:
    """What one actor returns for one unit-year: classes and glacier probability (0-100 %)."""

    unit_id: str
    year: int
    classes: np.ndarray | None  # uint8, 255 = nodata; None for a gap (nothing to map)
    glacier_probability: np.ndarray | None  # uint8 percent, 255 = nodata
    seconds: float
    missing: dict[str, bool] = field(default_factory=dict)  # sensors without a scene, from the cube
    cube_seconds: float = 0.0
    cube_built: bool = False
    reason: str = ""  # why a gap is a gap
    cpu_seconds: float = 0.0  # process CPU time of the inference call
    cube_cpu_seconds: float = 0.0
    slope_deg: np.ndarray | None = None  # uint8 DEM slope (°, 255 = unknown) for the reducer's clean-up
    radar_only: np.ndarray | None = None  # bool: mapped without a clear optical view (``map_under_clouds``)


def slope_of(data: np.ndarray, bands: list[str]) -> np.ndarray | None:
    """Return the cube's DEM slope as uint8 degrees (255 = unknown), or None when the cube has no SLOPE band."""
    if "SLOPE" not in bands:
        return None
    slope = data[bands.index("SLOPE")]
    return np.where(np.isfinite(slope), np.clip(np.round(slope), 0, 90), 255).astype(np.uint8)


class InferenceWorker:
    """Loads a checkpoint once and maps (band, y, x) cubes; wrapped as a Ray actor by ``actor_class``."""

    def __init__(self, checkpoint: str, threads: int, patch: int | None, overlap: int | None, batch_size: int,
                 options: InferOptions | None = None, gpu_batch_size: int = 64, optical_required: bool = True) -> None:
        import torch

        from glacierscale.model.checkpoint import load_checkpoint

        torch.set_num_threads(threads)  # one thread per actor beats two on a small node (DESIGN.md)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.ckpt = load_checkpoint(checkpoint)
        self.patch, self.overlap = inference_window(self.ckpt, patch, overlap)  # None: the training patch size
        # a GPU is fed whole tiles in large batches (patches are cut and blended on the device)
        self.batch_size = max(batch_size, gpu_batch_size) if self.device == "cuda" else batch_size
        self.options = options or InferOptions()
        # False: pixels no clear optical scene saw are mapped from SAR + DEM (+ thermal), where the checkpoint can
        self.optical_required = optical_required or not self.ckpt.optical_optional
        self.forward = forward_fn(self.ckpt.model, self.device, self.options)  # compiled once, on first use
        # one forward on a blank patch now: kernel selection (and torch.compile) is paid before the first tile
        with torch.inference_mode():
            self.forward(torch.zeros(1, len(self.ckpt.bands), self.patch, self.patch, device=self.device))

    def bands(self) -> list[str]:
        return list(self.ckpt.bands)

    def predict(self, unit_id: str, year: int, cube_and_bands: tuple[np.ndarray, list[str]]) -> TileResult:
        """Map one unit-year; ``cube_and_bands`` is the (band, y, x) cube and its band names."""
        import time

        t0 = time.perf_counter()
        cube, cube_bands = cube_and_bands
        data = select_bands(self.ckpt, cube, cube_bands)
        classes, probs = predict_classes(self.ckpt, data, patch=self.patch, overlap=self.overlap,
                                         batch_size=self.batch_size, device=self.device, forward=self.forward,
                                         optical_required=self.optical_required)
        glacier = np.round(100 * np.nan_to_num(glacier_probability(probs), nan=0.0)).astype(np.uint8)
        glacier[classes == NODATA_CLASS] = 255
        radar = None if self.optical_required else (classes != NODATA_CLASS) & ~valid_pixels(self.ckpt, data)
        return TileResult(unit_id, year, classes, glacier, time.perf_counter() - t0, radar_only=radar)


    def predict_cube(self, cube: CubeYear) -> TileResult:
        """Map one run item's cube (a gap passes through without touching the model)."""
        import time

        if cube.data is None:
            return TileResult(cube.unit_id, cube.year, None, None, 0.0, cube.missing, cube.seconds, cube.built,
                              cube.reason, 0.0, cube.cpu_seconds)
        cpu = time.process_time()
        r = self.predict(cube.unit_id, cube.year, (cube.data, cube.bands))
        return TileResult(r.unit_id, r.year, r.classes, r.glacier_probability, r.seconds, cube.missing,
                          cube.seconds, cube.built, "", time.process_time() - cpu, cube.cpu_seconds,
                          slope_of(cube.data, list(cube.bands)), r.radar_only)

    def ping(self) -> bool:
        return True


def actor_class(num_cpus: float, num_gpus: float, *, resources: dict[str, float] | None = None,
                max_restarts: int = 0, max_task_retries: int = 0) -> Any:
    """Return InferenceWorker as a Ray actor class with the requested resources.

    ``resources`` (custom resources such as ``{"gpu_node": 1}``) pin actors to nodes that offer them; with
    ``max_restarts`` a dead actor (node lost, OOM kill) is restarted with its constructor arguments and its
    in-flight calls are retried up to ``max_task_retries`` times.
    """
    import ray

    return ray.remote(num_cpus=num_cpus, num_gpus=num_gpus, resources=resources or {},
                      max_restarts=max_restarts, max_task_retries=max_task_retries)(InferenceWorker)
