"""What a run needs before its first item: the catalog endpoint, a Ray session, the checkpoint, the plan."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from glacierscale.config import RunConfig
from glacierscale.errors import CheckpointMismatchError, ConfigError


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


# idle task workers stay for a minute instead of Ray's default second: a fresh worker re-imports the geospatial
# stack (≈ 2-3 s of CPU here), which between two bursts of items cost more than the items themselves
LOCAL_RAY_SYSTEM_CONFIG = {"idle_worker_killing_time_threshold_ms": 60_000}


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
        ray.init(address="local", num_cpus=max(2, os.cpu_count() or 2), include_dashboard=False, log_to_driver=False,
                 logging_level=logging.ERROR, _system_config=LOCAL_RAY_SYSTEM_CONFIG)
    try:
        yield
    finally:
        ray.shutdown()


def with_checkpoint_grid(cfg: RunConfig) -> RunConfig:
    """Return ``cfg`` on the checkpoint's training grid when it names no ``grid.resolution`` of its own.

    A run from flags alone (``run --catalog DIR --inventory FILE ...``) then maps at the resolution the model
    was trained on; a resolution given in a config is kept and checked by :func:`check_checkpoint`.
    """
    from glacierscale.model.checkpoint import load_checkpoint

    if "resolution" in cfg.grid.model_fields_set:
        return cfg
    trained = load_checkpoint(cfg.model.checkpoint).resolution_m
    if trained is None or trained == cfg.grid.resolution:
        return cfg
    return cfg.model_copy(update={"grid": cfg.grid.model_copy(update={"resolution": float(trained)})})


def check_checkpoint(cfg: RunConfig, provider: Any) -> str:
    """Fail fast: the checkpoint must load, its bands must come out of the provider's cube, its grid fit the run's."""
    from glacierscale.cube.assemble import cube_bands
    from glacierscale.model.checkpoint import check_resolution, load_checkpoint

    ckpt = load_checkpoint(cfg.model.checkpoint)
    have = cube_bands(provider)
    absent = [b for b in ckpt.bands if b not in have]
    if absent:
        raise CheckpointMismatchError(f"checkpoint {ckpt.path} needs bands {absent} that provider "
                                      f"{provider.name!r} does not deliver ({have})")
    check_resolution(ckpt, cfg.grid.resolution)  # the grid the model was trained on, within ×1.5
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
