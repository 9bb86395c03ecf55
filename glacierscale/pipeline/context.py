"""What a run needs before its first item: the catalog endpoint, a Ray session, the checkpoint, the plan."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

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
    if cfg.infer.map_under_clouds and not ckpt.optical_optional:
        raise CheckpointMismatchError(f"infer.map_under_clouds: checkpoint {ckpt.path} was not trained to map without "
                                      f"optical data (its optional groups: {list(ckpt.optional_groups) or 'none'}); "
                                      "turn the option off or use a checkpoint trained with optical dropout")
    from glacierscale.infer.patches import inference_window

    patch, overlap = inference_window(ckpt, cfg.infer.patch_size, cfg.infer.overlap)
    if overlap * 2 >= patch:
        raise ConfigError(f"infer.overlap: {overlap} px must be less than half of the inference window, {patch} px "
                         f"({'infer.patch_size' if cfg.infer.patch_size else f'the patch size {ckpt.path} was trained on'})")
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


def run_id_of(cfg: RunConfig, units: list[Any], years: list[int], kind: str) -> str:
    """Return a stable id for the same config name, units and years (a rerun resumes the same run)."""
    key = json.dumps({"units": [u.unit_id for u in units], "years": years, "catalog": cfg.catalog.url,
                      "provider": cfg.catalog.provider, "kind": kind}, sort_keys=True)
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in cfg.name)[:40]
    return f"{slug}-{kind}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


@dataclass
class PreparedPlan:
    """What the driver keeps of the planning step: units, glacier attributes (no geometry) and the store.

    ``store`` is the run's glacier store (``inventory.store``): each unit's outlines, read by its reduce task.
    """

    run_id: str
    units: list[Any]
    attributes: pd.DataFrame
    store: str
    repairs: list[Any] = field(default_factory=list)  # inventory.readers.Repair: outlines fixed or dropped


def glacier_store_path(cfg: RunConfig, run_id: str) -> str:
    """Return a new name for the run's glacier store, beside its ledger and selections in the state folder.

    Each planning writes a new file (workers keep the footers of stores they read, keyed by name).
    """
    import uuid

    return f"{cfg.resolved_state_dir().rstrip('/')}/runs/{run_id}/glaciers-{uuid.uuid4().hex[:12]}.parquet"


def prepare_plan(cfg: RunConfig, years: list[int], kind: str) -> PreparedPlan:
    """Plan the run in a child process; return what the driver needs, never the inventory's geometries.

    Reading an inventory and planning its units leaves the process that did it with native memory the
    allocator does not give back (GDAL, GEOS, pandas temporaries: ≈ 50 MB for 16,384 small outlines, GBs for
    RGI 7). A spawned child does that work, writes each unit's glaciers to the run's glacier store and returns
    the units and the glaciers' attributes; its memory goes when it exits. Errors (an unreadable inventory, a
    plan that does not fit it) come back as raised in the child.
    """
    import pickle
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(prefix="gs-plan-") as tmp:
        job, out = Path(tmp) / "job.pkl", Path(tmp) / "plan.pkl"
        job.write_bytes(pickle.dumps((cfg, years, kind)))
        # a plain subprocess (not multiprocessing): no helper process outlives the run, and it is always reaped
        proc = subprocess.run([sys.executable, "-m", "glacierscale.pipeline.plan_child", str(job), str(out)], check=False)
        if not out.exists():
            raise RuntimeError(f"planning the run in a child process failed (exit {proc.returncode}); "
                               "its messages are above")
        ok, value = pickle.loads(out.read_bytes())
    if not ok:
        raise value
    plan: PreparedPlan = value
    return plan


def plan_child(job: str, out: str) -> int:
    """Entry point of :func:`prepare_plan`'s child: read the job, plan, pickle the plan or the error to ``out``."""
    import pickle

    from glacierscale.pipeline.failures import picklable

    cfg, years, kind = pickle.loads(Path(job).read_bytes())
    try:
        result: tuple[bool, Any] = (True, _prepare(cfg, years, kind))
    except Exception as err:  # handed to the driver, which raises it as if planning had run there
        result = (False, picklable(err))
    Path(out).write_bytes(pickle.dumps(result))
    return 0


def _prepare(cfg: RunConfig, years: list[int], kind: str) -> PreparedPlan:
    """The child's part of :func:`prepare_plan` (also callable in-process, e.g. by tests)."""
    from glacierscale.inventory.attributes import glacier_attributes
    from glacierscale.inventory.store import write_glacier_store

    inventory, units = plan_run(cfg)
    run_id = run_id_of(cfg, units, years, kind)
    store = glacier_store_path(cfg, run_id)
    write_glacier_store(inventory, units, store)
    return PreparedPlan(run_id, units, glacier_attributes(inventory), store,
                        list(inventory.attrs.get("repairs", [])))
