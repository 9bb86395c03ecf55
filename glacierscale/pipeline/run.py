"""``run`` and ``update``: plan the items, decide which need work, drive them, publish once, report."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from glacierscale.config import RunConfig
from glacierscale.pipeline.committer import CommitterProcess
from glacierscale.pipeline.context import (
    PreparedPlan,
    catalog_endpoint,
    check_checkpoint,
    prepare_plan,
    ray_session,
    with_checkpoint_grid,
)
from glacierscale.pipeline.driver import DriveOptions, Key, Policy, StreamingDriver
from glacierscale.pipeline.ledger import Ledger, ledger_path

if TYPE_CHECKING:
    from rich.console import Console

    from glacierscale.archive.staging import TileRecord
    from glacierscale.catalog.tasks import SelectionRecord
    from glacierscale.pipeline.stages import StageFunctions

StagesFactory = Callable[[RunConfig, str, Any, str, str, int], "tuple[StageFunctions, str]"]


@dataclass
class RunResult:
    """What a run did: the snapshot, the ledger summary, and (read on first use) its glaciers' archive rows.

    ``areas`` and ``candidates`` are read from the archive when first asked for, not by the run: a world run's
    rows (274,531 glaciers × its years) are not held by the driver for a caller that may never look at them;
    ``year_totals()`` gives the per-year sums a large run reports.
    """

    snapshot: str | None
    units: list[str]
    run_id: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    found_done: int = 0
    skipped_years: list[int] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    ledger: str = ""
    archive: str = ""
    glacier_ids: list[str] = field(default_factory=list)
    years: list[int] = field(default_factory=list)
    _rows: tuple[pd.DataFrame, pd.DataFrame] | None = field(default=None, repr=False)

    @property
    def areas(self) -> pd.DataFrame:
        """The archive rows of the run's glaciers × years (read on first use)."""
        return self._read()[0]

    @property
    def candidates(self) -> pd.DataFrame:
        """The candidate glacier-years this run mapped (ice outside every outline; read on first use)."""
        return self._read()[1]

    def _read(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        if self._rows is None:
            self._rows = _archive_rows(self.archive, self.glacier_ids, self.years, self.run_id)
        return self._rows

    def year_totals(self) -> pd.DataFrame:
        """Per year: the run's glaciers with a record and their summed area and debris (two columns read)."""
        from glacierscale.archive.query import open_archive
        from glacierscale.errors import ArchiveError

        try:
            totals = open_archive(self.archive).year_totals(self.glacier_ids)
        except ArchiveError:
            return pd.DataFrame(columns=["year", "glaciers", "area_km2", "debris_km2"])
        return totals[totals["year"].isin(self.years)].reset_index(drop=True)

    @property
    def failures(self) -> list[dict[str, Any]]:
        return list(self.summary.get("failures", []))

    @property
    def exit_code(self) -> int:
        """0 when every item finished (done or gap), 1 when some failed."""
        return 1 if self.failures else 0


UNDER_CLOUDS_SUFFIX = "+under-clouds"  # the model hash of products mapped with infer.map_under_clouds
FLIPS_SUFFIX = "+flips"  # ... and of products mapped with infer.flips (test-time augmentation)


def _policy(held: dict[Key, TileRecord], model_hash: str, *, update: bool, reprocess_changed: bool,
            reprocess_model: bool) -> Policy:
    """Return which items need a search and which need mapping, given what the archive holds."""

    def needs_select(key: Key) -> bool:
        h = held.get(key)
        if not update or h is None or h.status == "gap" or reprocess_changed:
            return True
        return reprocess_model and h.model_hash != model_hash

    def needs_run(key: Key, sel: SelectionRecord) -> bool:
        h = held.get(key)
        if h is None:
            return True
        same_input, same_model = h.input_hash == sel.input_hash, h.model_hash == model_hash
        if not update:  # run: redo whatever changed (new scenes, new checkpoint)
            return not (same_input and same_model)
        if h.status == "gap":
            return not same_input  # a gap is filled when new scenes appear
        return (reprocess_changed and not same_input) or (reprocess_model and not same_model)

    def runs_anyway(key: Key) -> bool:
        return key not in held

    return Policy(needs_select, needs_run, runs_anyway)


def _drive_options(cfg: RunConfig) -> DriveOptions:
    import ray

    s, i = cfg.stream, cfg.infer
    cpus = float(ray.cluster_resources().get("CPU", os.cpu_count() or 2))
    # 2 × the task slots left beside the actors, and at least two items per actor: deeper queues only make
    # the first items wait behind every queued cube read (Ray runs ready tasks in submission order)
    slots = max(1.0, (cpus - i.num_actors * i.num_cpus) / s.task_cpus)
    k = s.max_in_flight or max(2 * i.num_actors + 2, int(2 * slots))
    return DriveOptions(k, s.batch_items, s.max_attempts, s.backoff_s, s.breaker_window, s.breaker_failed_share,
                        s.task_cpus, dict(s.task_resources), i.num_actors, i.num_cpus, i.num_gpus, dict(i.resources),
                        i.max_restarts, i.max_task_retries)


def model_hash_suffix(cfg: RunConfig) -> str:
    """Return what the run's inference options add to the checkpoint's model hash in the ledger and archive."""
    return (UNDER_CLOUDS_SUFFIX if cfg.infer.map_under_clouds else "") + (FLIPS_SUFFIX if cfg.infer.flips else "")


def _default_factory(cfg: RunConfig, url: str, provider: Any, checkpoint: str, run_id: str,
                     tiles_per_actor: int) -> tuple[StageFunctions, str]:
    from glacierscale.model.checkpoint import load_checkpoint
    from glacierscale.pipeline.stages import default_stages

    # a run that maps under clouds or with flips makes other products from the same weights: its own model hash,
    # so a run without the option redoes them (and the archive says which pixels rest on SAR alone)
    return (default_stages(cfg, url, provider, checkpoint, run_id=run_id, tiles_per_actor=tiles_per_actor),
            load_checkpoint(checkpoint).model_hash + model_hash_suffix(cfg))


def run_pipeline(cfg: RunConfig, *, years: list[int] | None = None, progress: bool = True,
                 console: Console | None = None, retry_failed: bool = False, update: bool = False,
                 reprocess_changed: bool = False, reprocess_model: bool = False,
                 stages: StagesFactory | None = None) -> RunResult:
    """Run (or with ``update`` extend) the archive for the config's inventory and years; resumable."""
    from glacierscale.archive.run import read_tiles
    from glacierscale.archive.staging import RunPlan
    from glacierscale.catalog.provider import load_provider
    from glacierscale.errors import ArchiveNotFoundError

    t_start = time.perf_counter()
    years = sorted(years or cfg.years)
    if stages is None:
        cfg = with_checkpoint_grid(cfg)
    provider = load_provider(cfg.catalog.provider)
    checkpoint = check_checkpoint(cfg, provider) if stages is None else cfg.model.checkpoint
    if update:
        with contextlib.suppress(ArchiveNotFoundError):  # unreachable is an error, never "start from scratch"
            read_tiles(cfg.archive)
    prepared = prepare_plan(cfg, years, "update" if update else "run")  # in a child: no outlines in the driver
    units, run_id = prepared.units, prepared.run_id
    state = cfg.resolved_state_dir()
    ledger = ledger_path(state, run_id)
    by_id = {u.unit_id: u for u in units}
    book = Ledger(ledger)
    kept_failed = set() if retry_failed else book.keys("failed")
    book.plan({y: len(units) for y in years})
    n_todo = len(units) * len(years) - sum(1 for k in kept_failed if k[0] in by_id and k[1] in years)

    def todo() -> Iterator[Key]:  # lazily: the world's 1.1 M keys are never a list in the driver
        return ((u.unit_id, y) for y in years for u in units if (u.unit_id, y) not in kept_failed)

    with ray_session(cfg), catalog_endpoint(cfg.catalog.url) as url:
        tiles_per_actor = -(-n_todo // cfg.infer.num_actors)
        funcs, model_hash = (stages or _default_factory)(cfg, url, provider, checkpoint, run_id, tiles_per_actor)
        plan = RunPlan(run_id, units, years, prepared.attributes, cfg.model_dump(mode="json"), model_hash,
                       _code_version())
        committer = CommitterProcess(cfg.archive, run_id, plan, staging=f"{state.rstrip('/')}/staging")
        try:
            snapshot, driver, found_done, publish_s = _stream_and_publish(
                cfg, committer, funcs, by_id, book, years, kept_failed, n_todo, todo, prepared, model_hash,
                update=update, reprocess_changed=reprocess_changed, reprocess_model=reprocess_model,
                console=console, progress=progress, t_start=t_start)
            book.mark_published(snapshot)
            if not cfg.stream.keep_selections:
                _forget_selections(state, run_id)
            if snapshot is not None:
                committer.discard_staging()  # everything staged is on main now
        finally:
            committer.close()
    summary, per_stage = book.digest()
    stream = (driver.last_staged - driver.first_submit) if driver.first_submit and driver.last_staged else 0.0
    seconds = {"total": time.perf_counter() - t_start, "commits": driver.commit_seconds, "publish": publish_s,
               "stream": stream, "pixels": float(driver.pixels),
               **{f"{k}_per_item": v for k, v in per_stage.items()}}
    return RunResult(snapshot, [u.unit_id for u in units], run_id, seconds, summary, found_done,
                     repairs=prepared.repairs, ledger=ledger, archive=cfg.archive,
                     glacier_ids=[str(g) for g in prepared.attributes["glacier_id"]], years=years)


def _stream_and_publish(cfg: RunConfig, committer: CommitterProcess, funcs: StageFunctions, by_id: dict[str, Any],
                        book: Ledger, years: list[int], kept_failed: set[Key], n_todo: int,
                        todo: Callable[[], Iterator[Key]], prepared: PreparedPlan, model_hash: str, *, update: bool,
                        reprocess_changed: bool, reprocess_model: bool, console: Console | None, progress: bool,
                        t_start: float) -> tuple[str | None, StreamingDriver, int, float]:
    """Drive the items, then publish once; return the snapshot, the driver, the items found done, publish s."""
    from glacierscale.inventory.store import UnitGlaciers
    from glacierscale.pipeline.progress import RunProgress

    held = committer.held()
    policy = _policy(held, model_hash, update=update, reprocess_changed=reprocess_changed,
                     reprocess_model=reprocess_model)
    found_done = sum(1 for k, h in held.items() if h.model_hash == model_hash and k not in kept_failed
                     and k[1] in years)

    def unit_glaciers(unit: Any) -> UnitGlaciers:  # a handle: the task reads the unit's outlines from the store
        return UnitGlaciers(prepared.store, unit.unit_id)

    driver = StreamingDriver(funcs, committer.writer, by_id, book, _drive_options(cfg), policy, unit_glaciers,
                             model_hash, committer=committer)
    try:
        with RunProgress(n_todo + len(kept_failed), console=console, enabled=progress,
                         already_failed=len(kept_failed)) as bar:
            driver.on_progress = bar.update
            driver.drive(todo())
            bar.update(driver)
    finally:
        driver.shutdown()
        _remove(prepared.store)  # every task that reads it has finished; a rerun plans and writes it again
    summary, per_stage = book.digest()
    t_pub = time.perf_counter()
    snapshot = committer.publish({"ledger": summary, "stage_seconds": per_stage,
                                  "seconds": time.perf_counter() - t_start, "run_id": prepared.run_id})
    return snapshot, driver, found_done, time.perf_counter() - t_pub


def _code_version() -> str:
    from glacierscale import __version__

    return __version__


def _forget_selections(state: str, run_id: str) -> None:
    """Drop a published run's persisted selections: the next run searches the catalog again (new scenes)."""
    _remove(f"{state.rstrip('/')}/runs/{run_id}/selections")


def _remove(path: str) -> None:
    """Remove a file or folder of the run's state (local or fsspec URL) if it exists."""
    import fsspec

    fs, _, (p,) = fsspec.get_fs_token_paths(path)
    if fs.exists(p):
        fs.rm(p, recursive=True)


def _archive_rows(location: str, glacier_ids: Any, years: list[int], run_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the archive rows of the run's glaciers × years, and the candidate glacier-years this run mapped."""
    from glacierscale.archive.query import open_archive
    from glacierscale.errors import ArchiveError
    from glacierscale.reduce.candidates import PREFIX

    try:
        archive = open_archive(location)
    except ArchiveError:
        return pd.DataFrame(columns=["glacier_id", "year", "area_km2", "debris_km2"]), pd.DataFrame()
    rows = archive.of_glaciers(glacier_ids)
    rows = rows[rows["year"].isin(years)]
    cands = archive.candidates()
    cands = cands[cands["glacier_id"].str.startswith(PREFIX) & cands["year"].isin(years) & (cands["run_id"] == run_id)]
    return rows.reset_index(drop=True), cands.reset_index(drop=True)


def update_pipeline(cfg: RunConfig, *, progress: bool = True, console: Console | None = None,
                    reprocess_changed: bool = False, reprocess_model: bool = False,
                    retry_failed: bool = False) -> RunResult:
    """Process what the archive lacks: new years, new regions and gaps (changed scenes or model only on request)."""
    return run_pipeline(cfg, progress=progress, console=console, update=True, reprocess_changed=reprocess_changed,
                        reprocess_model=reprocess_model, retry_failed=retry_failed)
