"""Wire the stages for ``run`` and ``update`` on Ray: catalog → cube → infer → reduce → archive."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from glacierscale.config import RunConfig
from glacierscale.errors import CheckpointError, ConfigError

MAX_ATTRIBUTION_M = 100.0  # glacier pixels farther than this from every outline stay unattributed
MIN_OBJECT_KM2 = 0.01  # the RGI's smallest mapped glacier size


@dataclass
class RunResult:
    """What a run produced: areas per glacier × year, the archive snapshot and per-stage timings."""

    areas: pd.DataFrame
    snapshot: str | None
    units: list[str]
    seconds: dict[str, float] = field(default_factory=dict)
    scenes: dict[str, Any] = field(default_factory=dict)
    skipped_years: list[int] = field(default_factory=list)
    cubes_rebuilt: int = 0


@contextlib.contextmanager
def catalog_endpoint(url: str) -> Iterator[str]:
    """Yield a STAC API URL: a local catalog folder is served by rustac on loopback for the run."""
    from glacierscale.catalog.server import LocalStacServer

    if "://" in url:
        yield url
        return
    if not Path(url).is_dir():
        from glacierscale.catalog.provider import load_provider, provider_names

        if url in provider_names() and load_provider(url).url:
            yield str(load_provider(url).url)
            return
        raise ConfigError(f"catalog.url {url!r} is neither a URL, an existing catalog folder nor a provider "
                          f"name ({', '.join(provider_names())})")
    with LocalStacServer(url) as server:
        yield server.url


@contextlib.contextmanager
def ray_session(cfg: RunConfig) -> Iterator[None]:
    """Connect to the configured Ray cluster or start a local one, and shut down what we started."""
    import ray

    if ray.is_initialized():
        yield
        return
    address = cfg.ray_address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(num_cpus=max(2, os.cpu_count() or 2), include_dashboard=False, log_to_driver=False,
                 logging_level=logging.ERROR)
    try:
        yield
    finally:
        ray.shutdown()


def _stage(progress: Progress, name: str, total: int) -> Any:
    return progress.add_task(f"{name:<8}", total=total)


def check_checkpoint(cfg: RunConfig, provider: Any) -> str:
    """Fail fast: the checkpoint must load and its bands must come out of the provider's cube."""
    from glacierscale.cube.assemble import cube_bands
    from glacierscale.model.checkpoint import load_checkpoint

    ckpt = load_checkpoint(cfg.model.checkpoint)
    have = cube_bands(provider)
    absent = [b for b in ckpt.bands if b not in have]
    if absent:
        raise CheckpointError(f"checkpoint {ckpt.path} needs bands {absent} that provider "
                              f"{provider.name!r} does not deliver ({have})")
    return str(ckpt.path)


def plan_run(cfg: RunConfig) -> tuple[Any, list[Any]]:
    """Return the run's glaciers (the inventory, restricted to ``regions`` and to the plan) and work units.

    The units come from ``cfg.plan`` (a plan written by ``glacierscale plan``) when given, else they are planned
    from the inventory on ``cfg.grid``. InputError when the plan lists glaciers the inventory lacks.
    """
    from glacierscale.errors import InputError
    from glacierscale.inventory.grid import to_lonlat
    from glacierscale.inventory.plan import read_plan
    from glacierscale.inventory.regions import Selection, select_glaciers
    from glacierscale.inventory.units import plan_units, read_inventory

    regions = tuple(cfg.regions)
    inventory = read_inventory(cfg.inventory, regions=regions)
    if regions:
        chosen = select_glaciers(to_lonlat(inventory, areas=False), Selection(regions=regions),
                                 source=f"inventory {cfg.inventory}")
        inventory = inventory.loc[chosen.index]
    if not cfg.plan:
        return inventory, plan_units(inventory, cfg.grid.resolution, cfg.grid.tile_size, cfg.grid.margin_m,
                                     overlap_px=cfg.grid.overlap_px)
    units, _ = read_plan(cfg.plan)
    ids = inventory["glacier_id"].astype(str)
    if regions:  # the plan may cover more than the regions asked for
        wanted = set(ids)
        units = [u for u in units if wanted.intersection(u.glacier_ids)]
        if not units:
            raise ConfigError(f"plan {cfg.plan} has no unit with a glacier of regions {','.join(regions)}")
    listed = {g for u in units for g in u.glacier_ids}
    absent = sorted(listed - set(ids))
    if absent and not regions:
        raise InputError(f"plan {cfg.plan} lists {len(absent)} glaciers that inventory {cfg.inventory} does not "
                         f"hold (e.g. {', '.join(absent[:3])}): plan and run with the same inventory")
    return inventory[ids.isin(listed).to_numpy()], units


def run_pipeline(cfg: RunConfig, *, years: list[int] | None = None, progress: bool = True,
                 console: Console | None = None) -> RunResult:
    """Run every stage for the config's inventory and ``years`` (default: the config's years)."""
    from glacierscale.catalog.provider import load_provider
    from glacierscale.cube.build import select_unit_scenes

    years = sorted(years or cfg.years)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    inventory, units = plan_run(cfg)
    provider = load_provider(cfg.catalog.provider)
    checkpoint = check_checkpoint(cfg, provider)
    timings["plan"] = time.perf_counter() - t
    cols = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*cols, console=console, disable=not progress) as bar:
        t = time.perf_counter()
        task = _stage(bar, "catalog", len(units))
        scenes: dict[str, Any] = {}
        with catalog_endpoint(cfg.catalog.url) as url:
            for u in units:  # on the driver, before Ray starts: a bad catalog or empty search fails fast
                scenes[u.unit_id] = select_unit_scenes(
                    url, provider, u, years, season=(cfg.season.start, cfg.season.end),
                    south_season=(cfg.season.south_start, cfg.season.south_end),
                    max_cloud=cfg.selection.max_cloud_cover, max_scenes=cfg.selection.max_scenes)
                bar.advance(task)
        timings["catalog"] = time.perf_counter() - t
        with ray_session(cfg):
            snapshot, areas, rebuilt = _run_on_ray(cfg, units, years, scenes, provider, checkpoint, inventory,
                                                   bar, timings)
    table = areas.to_dataframe().reset_index()[["glacier", "year", "area_km2", "debris_km2"]]
    decisions = {uid: {str(y): {s: [d.__dict__ for d in sel.decisions] for s, sel in sels.items()}
                       for y, sels in per_year.items()} for uid, per_year in scenes.items()}
    return RunResult(table.rename(columns={"glacier": "glacier_id"}), snapshot, [u.unit_id for u in units],
                     timings, decisions, cubes_rebuilt=rebuilt)


def update_pipeline(cfg: RunConfig, *, progress: bool = True, console: Console | None = None) -> RunResult:
    """Process only the config's years newer than the archive holds; a rerun is a no-op."""
    from glacierscale.archive.query import ChangeArchive
    from glacierscale.errors import ArchiveError

    try:
        held = ChangeArchive(cfg.archive).years()
    except ArchiveError:
        held = []
    newer = [y for y in cfg.years if not held or y > max(held)]
    if not newer:
        return RunResult(pd.DataFrame(columns=["glacier_id", "year", "area_km2", "debris_km2"]), None, [],
                         skipped_years=list(cfg.years))
    result = run_pipeline(cfg, years=newer, progress=progress, console=console)
    result.skipped_years = [y for y in cfg.years if y not in newer]
    return result


def _run_on_ray(cfg: RunConfig, units: list[Any], years: list[int], scenes: dict[str, Any], provider: Any,
                checkpoint: str, inventory: Any, bar: Progress, timings: dict[str, float]) -> tuple[str, Any, int]:
    """Cube → infer → reduce on Ray, then one archive commit; return (snapshot, areas, cubes rebuilt)."""
    import ray

    from glacierscale.archive.write import areas_dataset, commit_run, unit_dataset
    from glacierscale.catalog.search import detach_item
    from glacierscale.infer.actors import actor_class
    from glacierscale.model.checkpoint import load_checkpoint
    from glacierscale.stages import build_cube_task, load_cube_year, reduce_unit_task

    store = cfg.resolved_cube_store()
    Worker = actor_class(cfg.infer.num_cpus, cfg.infer.num_gpus)
    tiles_per_actor = math.ceil(len(units) * len(years) / cfg.infer.num_actors)  # decides torch.compile on "auto"
    # actors load torch and the checkpoint while the cubes are being built
    actors = [Worker.remote(checkpoint, cfg.infer.threads_per_actor, cfg.infer.patch_size,
                            cfg.infer.overlap, cfg.infer.batch_size, cfg.infer.options(tiles_per_actor))
              for _ in range(cfg.infer.num_actors)]
    t = time.perf_counter()
    task = _stage(bar, "cube", len(units))
    # cube tasks leave CPU for the actors loading beside them (a 2-CPU node deadlocks otherwise)
    build = ray.remote(num_cpus=0.5)(build_cube_task)
    pending = {}
    for u in units:
        items = {y: {s: [detach_item(it) for it in sel.items] for s, sel in sels.items()}
                 for y, sels in scenes[u.unit_id].items()}
        pending[build.remote(provider, u, items, store)] = u.unit_id
    rebuilt = sum(int(v) for v in _gather(pending, bar, task).values())
    timings["cube"] = time.perf_counter() - t

    t = time.perf_counter()
    task = _stage(bar, "infer", len(units) * len(years))
    loader = ray.remote(num_cpus=0.25)(load_cube_year)
    jobs = [(u, y) for u in units for y in years]
    # the actor receives the loaded cube, not the reference: Ray resolves top-level arguments
    predictions = {actors[i % len(actors)].predict.remote(u.unit_id, y, loader.remote(store, u, y)): (u.unit_id, y)
                   for i, (u, y) in enumerate(jobs)}
    results = _gather(predictions, bar, task)
    timings["infer"] = time.perf_counter() - t

    t = time.perf_counter()
    task = _stage(bar, "reduce", len(units))
    for actor in actors:  # free the actors' CPUs (or GPUs) for the reduce tasks
        ray.kill(actor)
    reduce = ray.remote(num_cpus=1)(reduce_unit_task)
    inv_ref = ray.put(inventory)
    red = {reduce.remote(u, [results[(u.unit_id, y)] for y in years], inv_ref, MAX_ATTRIBUTION_M,
                         MIN_OBJECT_KM2): u.unit_id for u in units}
    per_unit = _gather(red, bar, task)
    timings["reduce"] = time.perf_counter() - t

    t = time.perf_counter()
    task = _stage(bar, "archive", 1)
    area: dict[str, dict[int, float]] = {g: {} for g in inventory["glacier_id"]}
    debris: dict[str, dict[int, float]] = {g: {} for g in inventory["glacier_id"]}
    unit_ds = {}
    for u in units:
        ua_list, cleaned, probs, x, y = per_unit[u.unit_id]
        for ua in ua_list:
            for g, v in ua.area_km2.items():
                area[g][ua.year] = area[g].get(ua.year, 0.0) + v
            for g, v in ua.debris_km2.items():
                debris[g][ua.year] = debris[g].get(ua.year, 0.0) + v
        unit_ds[u.unit_id] = unit_dataset(u, years, cleaned, probs, x, y)
    cent = inventory.to_crs("EPSG:4326").geometry.representative_point()
    centroids = {g: (p.x, p.y) for g, p in zip(inventory["glacier_id"], cent, strict=True)}
    areas = areas_dataset(area, debris, centroids)
    model_hash = load_checkpoint(checkpoint).model_hash
    snapshot = commit_run(
        cfg.archive, unit_ds, areas,
        f"run {cfg.name}: years {years[0]}-{years[-1]}, {len(units)} units, model {model_hash}",
        {"years": [int(y) for y in years], "model_hash": model_hash, "catalog": cfg.catalog.url,
         "units": [u.unit_id for u in units]},
    )
    bar.advance(task)
    timings["archive"] = time.perf_counter() - t
    return snapshot, areas, rebuilt


def _gather(pending: dict[Any, Any], bar: Progress, task: Any) -> dict[Any, Any]:
    """Wait for Ray references as they finish, advancing the stage's bar; return {key: result}."""
    import ray

    out: dict[Any, Any] = {}
    refs = list(pending)
    while refs:
        done, refs = ray.wait(refs, num_returns=1)
        out[pending[done[0]]] = ray.get(done[0])
        bar.advance(task)
    return out
