"""The stage functions of a run item, pluggable (a benchmark swaps in stand-ins), and their Ray task wrappers.

An item flows select → cube → infer → reduce+stage. Each body is a plain callable that Ray ships to a worker:
``select(unit, year) -> SelectionRecord``, ``cube(unit, selection) -> CubeYear``, the inference actor's
``predict_cube(cube) -> TileResult``, ``reduce(unit, tile, glaciers, selection, model_hash) -> UnitProduct``;
the last task hands the product to the archive's ``writer.stage`` and returns only the small receipt.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from glacierscale.pipeline.failures import with_backoff

if TYPE_CHECKING:
    from glacierscale.archive.staging import RunWriter, StagedItem
    from glacierscale.catalog.provider import Provider
    from glacierscale.catalog.tasks import SelectionRecord
    from glacierscale.config import RunConfig
    from glacierscale.infer.actors import TileResult
    from glacierscale.inventory.store import UnitGlaciers
    from glacierscale.inventory.units import WorkUnit

MAX_ATTRIBUTION_M = 100.0  # glacier pixels farther than this from every outline stay unattributed
MIN_OBJECT_KM2 = 0.01  # the RGI's smallest mapped glacier size


@dataclass(frozen=True)
class StageFunctions:
    """The bodies a run executes per item, and the inference worker class with its constructor arguments."""

    select: Callable[..., Any]
    cube: Callable[..., Any]
    reduce: Callable[..., Any]
    worker: type
    worker_args: tuple[Any, ...] = ()
    worker_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ItemOutcome:
    """What the driver gets back for a finished item: the staging receipt and seconds per stage."""

    staged: StagedItem
    seconds: dict[str, float]


def _reduce_default(unit: WorkUnit, tile: TileResult, glaciers: Any, selection: SelectionRecord, model_hash: str, *,
                    max_distance_m: float, min_object_km2: float, cleanup: dict[str, Any] | None = None,
                    candidate_min_km2: float | None = None) -> Any:
    from glacierscale.reduce.cleanup import CleanupOptions
    from glacierscale.reduce.tasks import reduce_item

    steps = CleanupOptions(**cleanup) if cleanup else None
    return reduce_item(unit, tile, glaciers, input_hash=selection.input_hash, model_hash=model_hash,
                       scenes=selection.scene_ids, max_distance_m=max_distance_m, min_object_km2=min_object_km2,
                       cleanup=steps, candidate_min_km2=candidate_min_km2)


def default_stages(cfg: RunConfig, url: str, provider: Provider, checkpoint: str, *, run_id: str,
                   tiles_per_actor: int) -> StageFunctions:
    """Return the real stage functions of a run: STAC selection, stackstac cubes, the ViT-U-Net, the reducer."""
    from glacierscale.catalog.tasks import select_item
    from glacierscale.infer.actors import InferenceWorker

    s = cfg.season
    select = functools.partial(
        select_item, url, provider, state=cfg.resolved_state_dir(), run_id=run_id, season=(s.start, s.end),
        south_season=(s.south_start, s.south_end), max_cloud=cfg.selection.max_cloud_cover,
        max_scenes=cfg.selection.max_scenes, optical_required=not cfg.infer.map_under_clouds)
    cube = functools.partial(_cube_default, provider, store=cfg.resolved_cube_store(),
                             optical_required=not cfg.infer.map_under_clouds)
    reduce = functools.partial(_reduce_default, max_distance_m=MAX_ATTRIBUTION_M, min_object_km2=MIN_OBJECT_KM2,
                               cleanup=cfg.reduce.cleanup.model_dump(),
                               candidate_min_km2=cfg.reduce.candidate_min_km2 if cfg.reduce.candidates else None)
    i = cfg.infer
    return StageFunctions(select, cube, reduce, InferenceWorker,
                          (checkpoint, i.threads_per_actor, i.patch_size, i.overlap, i.batch_size,
                           i.options(tiles_per_actor)),
                          {"gpu_batch_size": i.gpu_batch_size, "optical_required": not i.map_under_clouds})


def _cube_default(provider: Provider, unit: WorkUnit, selection: SelectionRecord, *, store: str,
                  optical_required: bool = True) -> Any:
    from glacierscale.cube.tasks import cube_item

    return cube_item(provider, unit, selection, store, optical_required=optical_required)


def bound(task: Callable[..., Any], *fixed: Any, **fixed_kw: Any) -> Callable[..., Any]:
    """Return ``task`` with its leading arguments and keywords fixed, as a function Ray exports once.

    What a run passes to every call (the stage body, the writer, the retry settings) travels with the function
    instead of being pickled into each task (a few hundred microseconds of the driver per call).
    """

    def call(*args: Any) -> Any:
        return task(*fixed, *args, **fixed_kw)

    call.__name__, call.__qualname__, call.__doc__ = task.__name__, task.__qualname__, task.__doc__
    return call


def _with_cpu(value: Any, cpu0: float) -> Any:
    """Return ``value`` with its ``cpu_seconds`` set to the process CPU time since ``cpu0`` (when it has one)."""
    if dataclasses.is_dataclass(value) and hasattr(value, "cpu_seconds"):
        return dataclasses.replace(value, cpu_seconds=time.process_time() - cpu0)  # type: ignore[type-var]
    return value


def select_task(fn: Callable[..., Any], unit: WorkUnit, year: int, attempts: int, backoff_s: float) -> Any:
    """Ray task: select one unit-year's scenes (transient failures retried with backoff)."""
    cpu0 = time.process_time()
    return _with_cpu(with_backoff(fn, unit, year, attempts=attempts, backoff_s=backoff_s), cpu0)


def cube_task(fn: Callable[..., Any], unit: WorkUnit, selection: SelectionRecord, attempts: int, backoff_s: float) -> Any:
    """Ray task: the cube of one unit-year, reused or built (reads retried with backoff); a gap passes through."""
    if selection.is_gap:  # nothing to read: inference passes it on and the reducer stages the gap
        from glacierscale.cube.years import CubeYear

        return CubeYear(unit.unit_id, selection.year, None, [], {}, 0.0, False, 0.0, selection.gap_reason)
    cpu0 = time.process_time()
    return _with_cpu(with_backoff(fn, unit, selection, attempts=attempts, backoff_s=backoff_s), cpu0)


def select_cube_task(select: Callable[..., Any], cube: Callable[..., Any], unit: WorkUnit, year: int, attempts: int,
                     backoff_s: float) -> tuple[Any, Any]:
    """Ray task (two returns): select one unit-year's scenes, then its cube, in one worker.

    For an item whose selection decides nothing (the archive does not hold it): one task instead of two, and
    the cube follows its own selection instead of queueing behind every other item's search.
    """
    selection = select_task(select, unit, year, attempts, backoff_s)
    return selection, cube_task(cube, unit, selection, attempts, backoff_s)


def reduce_stage_task(fn: Callable[..., Any], writer: RunWriter, unit: WorkUnit, tile: TileResult,
                      glaciers: UnitGlaciers, selection: SelectionRecord, model_hash: str, attempts: int,
                      backoff_s: float) -> ItemOutcome:
    """Ray task: reduce one mapped unit-year and stage the product; return the receipt and stage seconds.

    ``glaciers`` is a handle on the unit's outlines in the run's glacier store, read here, in the worker.
    """
    t0, c0 = time.perf_counter(), time.process_time()
    outlines = with_backoff(glaciers.load, attempts=attempts, backoff_s=backoff_s)
    product = fn(unit, tile, outlines, selection, model_hash)
    t1, c1 = time.perf_counter(), time.process_time()
    staged = with_backoff(writer.stage, product, attempts=attempts, backoff_s=backoff_s)
    seconds = {"select": selection.seconds, "cube": tile.cube_seconds, "infer": tile.seconds,
               "reduce": t1 - t0, "stage": time.perf_counter() - t1,
               "select_cpu": selection.cpu_seconds, "cube_cpu": tile.cube_cpu_seconds, "infer_cpu": tile.cpu_seconds,
               "reduce_cpu": c1 - c0, "stage_cpu": time.process_time() - c1}
    return ItemOutcome(staged, seconds)
