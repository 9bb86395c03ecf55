"""The streaming driver: at most K (unit, year) items in flight, references and small records only.

Per item: a select task; then (unless the archive already holds the item with the same hashes) a cube task,
a call on one of the long-lived inference actors and a reduce+stage task, chained by object references so
rasters move between workers and never through the driver. The driver waits on many references per call,
commits a batch of staged items on the run branch every ``batch_items`` and writes the ledger with it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from glacierscale.pipeline.failures import CircuitBreaker, describe, is_transient
from glacierscale.pipeline.ledger import ItemRecord, write_ledger

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
    """Which items need work: ``needs_select(key)`` before searching, ``needs_run(key, selection)`` after."""

    needs_select: Callable[[Key], bool]
    needs_run: Callable[[Key, SelectionRecord], bool]


@dataclass
class _Flight:
    key: Key
    phase: str  # "select" | "run"
    selection: Any = None


class StreamingDriver:
    """Runs items through the stages on Ray; ``records`` (the ledger) is updated in place."""

    def __init__(self, stages: StageFunctions, writer: RunWriter, units: dict[str, WorkUnit],
                 records: dict[Key, ItemRecord], ledger: str, opts: DriveOptions, policy: Policy,
                 glaciers_of: Callable[[WorkUnit], Any], model_hash: str,
                 on_progress: Callable[[StreamingDriver], None] | None = None) -> None:
        import ray

        self.stages, self.writer, self.units, self.records, self.ledger = stages, writer, units, records, ledger
        self.opts, self.policy, self.glaciers_of, self.model_hash = opts, policy, glaciers_of, model_hash
        self.on_progress = on_progress
        self.breaker = CircuitBreaker(opts.breaker_window, opts.breaker_failed_share)
        task = {"num_cpus": opts.task_cpus, "resources": opts.task_resources or {}, "max_retries": 2}
        from glacierscale.pipeline.stages import cube_task, reduce_stage_task, select_task

        self._select = ray.remote(select_task).options(**task)
        self._cube = ray.remote(cube_task).options(**task)
        self._reduce = ray.remote(reduce_stage_task).options(**task)
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
    def _submit_select(self, key: Key) -> None:
        rec = self.records[key]
        rec.attempts += 1
        if self.first_submit is None:
            self.first_submit = time.perf_counter()
        ref = self._select.remote(self.stages.select, self.units[key[0]], key[1], self.opts.max_attempts,
                                  self.opts.backoff_s)
        self.in_flight[ref] = _Flight(key, "select")

    def _submit_run(self, key: Key, sel: SelectionRecord) -> None:
        import ray

        from glacierscale.infer.actors import TileResult

        unit = self.units[key[0]]
        glaciers = ray.put(self.glaciers_of(unit))
        if sel.is_gap:  # nothing to cube or map: stage the gap straight away
            tile: Any = TileResult(unit.unit_id, key[1], None, None, 0.0, {}, 0.0, False, sel.gap_reason)
            actor = -1
        else:
            cube = self._cube.remote(self.stages.cube, unit, sel, self.opts.max_attempts, self.opts.backoff_s)
            actor = min(range(len(self.actors)), key=self._actor_load.__getitem__)
            self._actor_load[actor] += 1
            tile = self.actors[actor].predict_cube.remote(cube)
        ref = self._reduce.remote(self.stages.reduce, self.writer, unit, tile, glaciers, sel, self.model_hash,
                                  self.opts.max_attempts, self.opts.backoff_s)
        self.in_flight[ref] = _Flight(key, "run", (sel, actor))

    # ---- completion -------------------------------------------------------------------------------------
    def _finish(self, key: Key, status: str, *, error: BaseException | None = None) -> None:
        rec = self.records[key]
        rec.status = status
        if error is not None:
            rec.error, rec.file = describe(error)
        self.counts[status if status in self.counts else "done"] += 1
        if status != "skipped":
            self.breaker.record(status == "failed", rec.error)

    def _failed(self, key: Key, err: BaseException, queue: list[Key]) -> None:
        rec = self.records[key]
        if is_transient(err) and rec.attempts < self.opts.max_attempts:
            rec.error = describe(err)[0]
            queue.append(key)  # retried from the start; the persisted selection is reused
            return
        self._finish(key, "failed", error=err)

    def _completed(self, ref: Any, flight: _Flight, queue: list[Key]) -> None:
        import ray

        key = flight.key
        if flight.phase == "run" and flight.selection[1] >= 0:
            self._actor_load[flight.selection[1]] -= 1
        try:
            value = ray.get(ref)
        except Exception as err:
            self._failed(key, err, queue)
            return
        rec = self.records[key]
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
        rec.model_hash, rec.nodata_share, rec.seconds = staged.model_hash, staged.nodata_share, value.seconds
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
            write_ledger(self.ledger, self.records)

    def _commit_batch(self, batch: list[StagedItem]) -> tuple[str, float]:
        t0 = time.perf_counter()
        return self.writer.checkpoint(batch) or "", time.perf_counter() - t0

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
            rec = self.records[(item.unit_id, item.year)]
            rec.status, rec.snapshot = item.status, snapshot
            self.counts[item.status] += 1
        write_ledger(self.ledger, self.records)

    # ---- the loop ---------------------------------------------------------------------------------------
    def drive(self, keys: list[Key]) -> None:
        """Run ``keys`` to completion (or until the circuit breaker stops the run); resumable at any point."""
        import ray

        queue = list(reversed(keys))  # pop() from the end keeps the given order
        active = 0
        if keys:  # actors load torch and the checkpoint first: a bad checkpoint fails before any item runs
            ray.get([a.ping.remote() for a in self.actors])
        try:
            while queue or self.in_flight:
                while queue and active < self.opts.max_in_flight:
                    key = queue.pop()
                    rec = self.records[key]
                    if not self.policy.needs_select(key):
                        self._finish(key, "skipped")
                        continue
                    rec.status = "pending"
                    self._submit_select(key)
                    active += 1
                if not self.in_flight:
                    continue
                refs = list(self.in_flight)
                # return as soon as one is ready, then take every other ready one in the same sweep
                ready, rest = ray.wait(refs, num_returns=1, timeout=self.opts.wait_s)
                if ready and rest:
                    ready += ray.wait(rest, num_returns=len(rest), timeout=0)[0]
                for ref in ready:
                    flight = self.in_flight.pop(ref)
                    self._completed(ref, flight, queue)
                active = len({f.key for f in self.in_flight.values()})
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
