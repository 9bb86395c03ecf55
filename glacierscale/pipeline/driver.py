"""The streaming driver: at most K (unit, year) items in flight, references and small records only.

Per item: a select task; then (unless the archive already holds the item with the same hashes) a cube task,
a call on one of the long-lived inference actors and a reduce+stage task, chained by object references so
rasters move between workers and never through the driver. The driver waits on many references per call,
commits a batch of staged items on the run branch every ``batch_items`` and appends what changed to the ledger.

What the driver holds stays the same size however long the run: the items in flight, the staged batch and the
commit in progress (``live`` records), counters, and an iterator over the items still to submit. A record is
dropped once the ledger holds its final state (done, gap, failed, skipped); the stage functions, the writer and
the retry settings are bound into the remote functions once, so a call ships only the item's own arguments.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from glacierscale.pipeline.failures import CircuitBreaker, describe, is_transient
from glacierscale.pipeline.ledger import FINAL, ItemRecord, Ledger

if TYPE_CHECKING:
    from glacierscale.archive.staging import RunWriter, StagedItem
    from glacierscale.catalog.tasks import SelectionRecord
    from glacierscale.inventory.units import WorkUnit
    from glacierscale.pipeline.stages import StageFunctions

Key = tuple[str, int]


@dataclass
class DriveOptions:
    """Knobs of one drive (from ``cfg.stream`` and ``cfg.infer``)."""

    max_in_flight: int
    batch_items: int
    max_attempts: int = 3
    backoff_s: float = 1.0
    breaker_window: int = 20
    breaker_failed_share: float = 0.8
    task_cpus: float = 0.5
    task_resources: dict[str, float] = field(default_factory=dict)
    num_actors: int = 1
    actor_cpus: float = 1.0
    actor_gpus: float = 0.0
    actor_resources: dict[str, float] = field(default_factory=dict)
    max_restarts: int = 3
    max_task_retries: int = 3
    wait_s: float = 0.2


@dataclass
class Policy:
    """Which items need work: ``needs_select(key)`` before searching, ``needs_run(key, selection)`` after.

    ``runs_anyway(key)``: the item is mapped whatever its selection (the archive holds nothing for it), so its
    stages are submitted together, chained by references: one completion per item instead of two, and no
    driver round trip between the search and the cube.
    """

    needs_select: Callable[[Key], bool]
    needs_run: Callable[[Key, SelectionRecord], bool]
    runs_anyway: Callable[[Key], bool] = lambda key: False


@dataclass
class _Flight:
    key: Key
    phase: str  # "select" | "run"
    selection: Any = None


class StreamingDriver:
    """Runs items through the stages on Ray; appends every change of an item's record to ``ledger``."""

    def __init__(self, stages: StageFunctions, writer: RunWriter, units: dict[str, WorkUnit], ledger: Ledger,
                 opts: DriveOptions, policy: Policy, glaciers_of: Callable[[WorkUnit], Any], model_hash: str,
                 on_progress: Callable[[StreamingDriver], None] | None = None, *, committer: Any = None) -> None:
        """``writer`` stages products in the workers; ``committer`` (default: ``writer``) commits the batches,
        e.g. a ``pipeline.committer.CommitterProcess`` that keeps the commits' memory out of the driver."""
        import ray

        self.stages, self.writer, self.units, self.ledger = stages, writer, units, ledger
        self.committer = committer if committer is not None else writer
        self.opts, self.policy, self.glaciers_of, self.model_hash = opts, policy, glaciers_of, model_hash
        self.on_progress = on_progress
        self.breaker = CircuitBreaker(opts.breaker_window, opts.breaker_failed_share)
        task = {"num_cpus": opts.task_cpus, "resources": opts.task_resources or {}, "max_retries": 2}
        from glacierscale.pipeline.stages import bound, cube_task, reduce_stage_task, select_cube_task, select_task

        retry = {"attempts": opts.max_attempts, "backoff_s": opts.backoff_s}
        self._select = ray.remote(bound(select_task, stages.select, **retry)).options(**task)
        self._select_cube = ray.remote(bound(select_cube_task, stages.select, stages.cube, **retry)).options(
            num_returns=2, **task)
        self._cube = ray.remote(bound(cube_task, stages.cube, **retry)).options(**task)
        self._reduce = ray.remote(bound(reduce_stage_task, stages.reduce, writer, model_hash=model_hash,
                                        **retry)).options(**task)
        self.live: dict[Key, ItemRecord] = {}  # items not yet final in the ledger
        self._dirty: set[Key] = set()  # changed since the last ledger flush
        self._retry: deque[Key] = deque()
        worker: Any = ray.remote(stages.worker).options(
            num_cpus=opts.actor_cpus, num_gpus=opts.actor_gpus, resources=opts.actor_resources or {},
            max_restarts=opts.max_restarts, max_task_retries=opts.max_task_retries)
        self.actors: list[Any] = [worker.remote(*stages.worker_args, **stages.worker_kwargs) for _ in range(opts.num_actors)]
        self._actor_load = [0] * len(self.actors)
        self.in_flight: dict[Any, _Flight] = {}
        self.batch: list[StagedItem] = []
        self.counts = {"done": 0, "gap": 0, "failed": 0, "skipped": 0}
        self.pixels = 0
        self.started = time.perf_counter()
        self.commit_seconds = 0.0
        from concurrent.futures import Future, ThreadPoolExecutor

        self._committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive-commit")
        self._commit: tuple[Future[tuple[str, float]], list[StagedItem]] | None = None
        self.first_submit: float | None = None  # perf_counter of the first item submitted ...
        self.last_staged: float | None = None  # ... and of the last one staged (pipeline throughput)
        self.commits = 0

    # ---- submission -------------------------------------------------------------------------------------
    def _record(self, key: Key) -> ItemRecord:
        rec = self.live.get(key)
        if rec is None:
            rec = self.live[key] = ItemRecord(key[0], key[1])
        self._dirty.add(key)
        return rec

    def _submit(self, key: Key) -> None:
        """Submit an item: its search alone when the archive holds it (the selection decides), else all stages."""
        rec = self._record(key)
        rec.status = "pending"
        rec.attempts += 1
        if self.first_submit is None:
            self.first_submit = time.perf_counter()
        unit = self.units[key[0]]
        if self.policy.runs_anyway(key):
            sel, cube = self._select_cube.remote(unit, key[1])
            self._submit_run(key, sel, cube)
        else:
            self.in_flight[self._select.remote(unit, key[1])] = _Flight(key, "select")

    def _submit_run(self, key: Key, sel: SelectionRecord | Any, cube: Any = None) -> None:
        """Submit cube → inference → reduce+stage after ``sel`` (a selection, or the reference to one whose
        ``cube`` is already on its way)."""
        from glacierscale.catalog.tasks import SelectionRecord
        from glacierscale.infer.actors import TileResult

        unit = self.units[key[0]]
        glaciers = self.glaciers_of(unit)  # a handle on the unit's outlines (a path and an id), read by the task
        if isinstance(sel, SelectionRecord) and sel.is_gap:  # nothing to cube or map: stage the gap at once
            tile: Any = TileResult(unit.unit_id, key[1], None, None, 0.0, {}, 0.0, False, sel.gap_reason)
            actor = -1
        else:
            if cube is None:
                cube = self._cube.remote(unit, sel)
            actor = min(range(len(self.actors)), key=self._actor_load.__getitem__)
            self._actor_load[actor] += 1
            tile = self.actors[actor].predict_cube.remote(cube)
        ref = self._reduce.remote(unit, tile, glaciers, sel)
        self.in_flight[ref] = _Flight(key, "run", (sel, actor))

    # ---- completion -------------------------------------------------------------------------------------
    def _finish(self, key: Key, status: str, *, error: BaseException | None = None) -> None:
        rec = self._record(key)
        rec.status = status
        if error is not None:
            rec.error, rec.file = describe(error)
        self.counts[status if status in self.counts else "done"] += 1
        if len(self._dirty) >= 2 * self.opts.batch_items + self.opts.max_in_flight:
            self._flush()  # skipped and failed items need no commit: keep the live records few
        if status != "skipped":
            self.breaker.record(status == "failed", rec.error)

    def _failed(self, key: Key, err: BaseException) -> None:
        rec = self._record(key)
        if is_transient(err) and rec.attempts < self.opts.max_attempts:
            rec.error = describe(err)[0]
            self._retry.append(key)  # retried from the start; the persisted selection is reused
            return
        self._finish(key, "failed", error=err)

    def _completed(self, ref: Any, flight: _Flight) -> None:
        import ray

        key = flight.key
        if flight.phase == "run" and flight.selection[1] >= 0:
            self._actor_load[flight.selection[1]] -= 1
        try:
            value = ray.get(ref)
        except Exception as err:
            self._failed(key, err)
            return
        rec = self._record(key)
        if flight.phase == "select":
            sel: SelectionRecord = value
            rec.input_hash = sel.input_hash
            if not self.policy.needs_run(key, sel):
                rec.model_hash = self.model_hash
                self._finish(key, "skipped")
                return
            self._submit_run(key, sel)
            return
        staged: StagedItem = value.staged
        self.last_staged = time.perf_counter()
        rec.status, rec.location, rec.error, rec.file = "staged", staged.location, "", ""
        rec.input_hash, rec.model_hash = staged.input_hash, staged.model_hash
        rec.nodata_share, rec.seconds = staged.nodata_share, value.seconds
        if staged.status == "done":
            unit = self.units[key[0]]
            self.pixels += unit.size_px**2
        self.breaker.record(False)
        self.batch.append(staged)
        if len(self.batch) >= self.opts.batch_items:
            self.checkpoint()

    @property
    def uncommitted(self) -> int:
        """Items staged but not yet committed on the run branch (the open batch and the commit in progress)."""
        return len(self.batch) + (len(self._commit[1]) if self._commit else 0)

    def checkpoint(self, *, wait: bool = False) -> None:
        """Commit the staged batch on the run branch (in a background thread, so the loop keeps feeding the
        actors while the archive commits) and write the ledger when it has landed; ``wait`` for it."""
        self._land_commit()
        if self.batch:
            batch, self.batch = self.batch, []
            self._commit = (self._committer.submit(self._commit_batch, batch), batch)
        if wait:
            self._land_commit()
            self._flush()

    def _flush(self) -> None:
        """Append the records changed since the last flush to the ledger; forget the final ones."""
        if not self._dirty:
            return
        self.ledger.append(self.live[k] for k in sorted(self._dirty))
        for k in self._dirty:
            if self.live[k].status in FINAL:
                del self.live[k]
        self._dirty.clear()

    def _commit_batch(self, batch: list[StagedItem]) -> tuple[str, float]:
        t0 = time.perf_counter()
        return self.committer.checkpoint(batch) or "", time.perf_counter() - t0

    def _land_commit(self) -> None:
        """Wait for the commit in progress (if any), mark its items committed and write the ledger."""
        if self._commit is None:
            return
        future, batch = self._commit
        self._commit = None
        snapshot, seconds = future.result()
        self.commit_seconds += seconds
        self.commits += 1
        for item in batch:
            rec = self._record((item.unit_id, item.year))
            rec.status, rec.snapshot = item.status, snapshot
            self.counts[item.status] += 1
        self._flush()

    # ---- the loop ---------------------------------------------------------------------------------------
    def _next(self, keys: Iterator[Key]) -> Key | None:
        """Return the next item to submit: a retry first, then the next of ``keys``; None when none is left."""
        if self._retry:
            return self._retry.popleft()
        return next(keys, None)

    def drive(self, keys: Iterable[Key]) -> None:
        """Run ``keys`` to completion (or until the circuit breaker stops the run); resumable at any point."""
        import ray

        todo = iter(keys)
        nxt = self._next(todo)  # one item of look-ahead: the loop ends when none is left and none is in flight
        active = 0
        if nxt is not None:  # actors load torch and the checkpoint first: a bad checkpoint fails early
            ray.get([a.ping.remote() for a in self.actors])
        try:
            while nxt is not None or self.in_flight:
                while nxt is not None and active < self.opts.max_in_flight:
                    key, nxt = nxt, self._next(todo)
                    if not self.policy.needs_select(key):
                        self._finish(key, "skipped")
                        continue
                    self._submit(key)
                    active += 1
                if not self.in_flight:
                    continue
                refs = list(self.in_flight)
                # take every ready reference in one call; block for the first one only when none is ready
                ready = ray.wait(refs, num_returns=len(refs), timeout=0)[0]
                if not ready:
                    ready = ray.wait(refs, num_returns=1, timeout=self.opts.wait_s)[0]
                for ref in ready:
                    flight = self.in_flight.pop(ref)
                    self._completed(ref, flight)
                active = len(self.in_flight)  # one reference per item in flight
                if nxt is None:
                    nxt = self._next(todo)  # a retry queued by a completion
                if self.on_progress:
                    self.on_progress(self)
            self.checkpoint(wait=True)
        except BaseException:
            for ref in list(self.in_flight):
                ray.cancel(ref)
            self.in_flight.clear()
            self.checkpoint(wait=True)  # what is staged is whole: keep it, the rerun resumes after it
            raise

    def shutdown(self) -> None:
        import ray

        self._committer.shutdown(wait=True)
        for actor in self.actors:
            ray.kill(actor)
