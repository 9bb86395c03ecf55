"""A run's handle on the archive: stage in workers, checkpoint batches on ``run-<id>``, move ``main`` once.

Write path: ``stage`` (a Ray worker) writes one ``.npz`` per (unit, year) to staging, marker last.
``checkpoint`` (the driver) reads those products one at a time and writes their chunks, tile records and parts
into one commit on the run branch (region writes from staging; the rasters of other items are never loaded).
``publish`` re-estimates every year of the tiles the run wrote from their whole series (gap filling and the
temporal filter, ``archive/temporal.py``), recomputes the touched glacier-year records, appends a ``runs``
record and moves ``main`` with a compare-and-swap. If ``main`` moved meanwhile, the run's items are replayed
from its branch onto the new tip (the same write code) unless another run wrote one of them: then
ArchiveConflictError names that run.
Local archives are guarded by a file lock (see lock.py); on S3, icechunk's conditional writes are the guard.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import pandas as pd

from glacierscale.archive import staged
from glacierscale.archive.commit import Key, loader_from, open_root, records_at, tile_index, tile_records, write_products
from glacierscale.archive.glaciers import append_run, runs, update_glaciers
from glacierscale.archive.lock import write_lock
from glacierscale.archive.repo import check_layout, open_repository
from glacierscale.archive.staging import RunPlan, StagedItem, TileRecord, UnitProduct
from glacierscale.errors import ArchiveConflictError, ArchiveError

__all__ = ["ArchiveRun", "open_run", "read_tiles"]

REPLAY_BATCH = 512


def _root(repo: Any, *, branch: str | None = None, snapshot: str | None = None) -> Any:
    import zarr

    session = repo.readonly_session(snapshot_id=snapshot) if snapshot else repo.readonly_session(branch=branch)
    try:
        return zarr.open_group(session.store, mode="r", zarr_format=3)
    except zarr.errors.GroupNotFoundError:  # a new archive: nothing written yet
        return zarr.open_group(zarr.storage.MemoryStore(), mode="w", zarr_format=3)


def _records(root: Any) -> dict[Key, TileRecord]:
    recs = tile_records(root)
    return {(str(r.unit_id), int(r.year)): TileRecord(str(r.unit_id), int(r.year), str(r.status), str(r.input_hash),
                                                      str(r.model_hash), str(r.run_id))
            for r in recs.itertuples(index=False)}


def read_tiles(location: str, **s3: Any) -> dict[Key, TileRecord]:
    """Return every (unit_id, year) record on ``main``.

    Raises ArchiveNotFoundError when there is no archive at ``location`` (a first run may start from nothing)
    and ArchiveError when it cannot be reached or read: never treat that as empty.
    """
    repo = open_repository(location, create=False, read_only=True, **s3)
    try:
        root = _root(repo, branch="main")
    except Exception as err:
        raise ArchiveError(f"cannot read archive {location}: {err}") from err
    check_layout(root, location)
    return _records(root)


class ArchiveRun:
    """The :class:`~glacierscale.archive.staging.RunWriter` of one run (picklable; workers only ``stage``).

    The plan stays on the driver: a pickled writer carries location, run id and staging prefix only.
    """

    def __init__(self, location: str, run_id: str, plan: RunPlan | None, *, staging: str,
                 lock_timeout: float = 600.0) -> None:
        self.location, self.run_id, self.plan, self.staging = location, run_id, plan, staging
        self.lock_timeout = lock_timeout
        self.branch = f"run-{run_id}"
        self._repo: Any = None
        # unit_id → tile position on the run branch as of snapshot ``_index_tip`` (driver side): a checkpoint
        # reads and writes only its batch's records, not the archive's whole tile table
        self._index: dict[str, int] | None = None
        self._index_tip: str | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_repo": None, "plan": None, "_index": None, "_index_tip": None}

    def _tile_index(self, tip: str, root: Any) -> dict[str, int]:
        """Return the branch's unit → tile index: kept from the last checkpoint, read whole if the tip moved."""
        if self._index is None or self._index_tip != tip:
            self._index, self._index_tip = tile_index(root), tip
        return self._index

    @property
    def repo(self) -> Any:
        if self._repo is None:
            self._repo = open_repository(self.location, create=False)
        return self._repo

    def _lock(self) -> Any:
        return write_lock(self.location, holder=f"run {self.run_id}", timeout=self.lock_timeout)

    # --- worker side -------------------------------------------------------------------------------------------
    def stage(self, product: UnitProduct) -> StagedItem:
        """Write one product to staging (marker last) and return its receipt."""
        url = staged.item_url(self.staging, self.run_id, product.unit.unit_id, product.year)
        staged.write_product(product, url)
        return staged.receipt(product, url)

    # --- driver side -------------------------------------------------------------------------------------------
    def _branch_state(self) -> tuple[str, dict[str, Any]]:
        tip = self.repo.lookup_branch(self.branch)
        meta = dict(self.repo.lookup_snapshot(tip).metadata or {})
        return tip, meta if meta.get("glacierscale_run") == self.run_id else {}

    def checkpoint(self, items: list[StagedItem]) -> str | None:
        """Commit staged items to the run branch in one commit; None when every item is already there."""
        if not items:
            return None
        with self._lock():
            tip, meta = self._branch_state()
            base = meta.get("base", tip) if meta.get("kind") == "checkpoint" else tip
            session = self.repo.writable_session(self.branch)
            root = open_root(session.store)
            index = self._tile_index(tip, root)
            by_key = {(i.unit_id, i.year): i for i in items}
            have = records_at(root, sorted(by_key), index)
            keys = [k for k in sorted(by_key) if not self._same(have.get(k), by_key[k])]
            if not keys:
                return None
            t0 = time.perf_counter()
            try:
                n = write_products(root, keys, lambda k: staged.read_product(by_key[k].location), self.run_id,
                                   index)
                snap = str(session.commit(f"run {self.run_id}: checkpoint of {n} items",
                                          metadata={"glacierscale_run": self.run_id, "kind": "checkpoint",
                                                    "base": base, "items": n,
                                                    "seconds": round(time.perf_counter() - t0, 3)}))
            except BaseException:
                self._index = None  # it may hold tiles this failed commit never wrote
                raise
            self._index_tip = snap
            # a fresh Repository per checkpoint: the one that committed keeps native memory per commit
            # (≈ 20-30 MB of the committing process at 16,384 items, docs/pipeline.md); reopening is one read
            self._repo = None
            return snap

    def _same(self, rec: TileRecord | None, item: StagedItem) -> bool:
        """Return whether this run already checkpointed ``item`` with the same result."""
        if rec is None or rec.run_id != self.run_id:
            return False
        return (rec.status, rec.input_hash, rec.model_hash) == (item.status, item.input_hash, item.model_hash)

    def held(self) -> dict[Key, TileRecord]:
        """Return what the archive holds for this run's units: ``main``, overridden by this run's branch."""
        units = {u.unit_id for u in self.plan.units} if self.plan else None
        out = _records(_root(self.repo, branch="main"))
        out.update({k: r for k, r in _records(_root(self.repo, branch=self.branch)).items() if r.run_id == self.run_id})
        return {k: r for k, r in out.items() if units is None or k[0] in units}

    def publish(self, summary: dict[str, Any], *, replace: bool = False) -> str | None:
        """Move ``main`` to include this run (once); None when there is nothing new to publish.

        ``replace=True`` lands this run's items over another run's results for the same items (after an
        ArchiveConflictError, if this run's values should win); otherwise such a conflict raises.
        """
        with self._lock():
            tip, meta = self._branch_state()
            if meta.get("kind") == "publish" and self._landed(meta):
                return None
            if meta.get("kind") not in ("checkpoint", "publish"):
                return None
            base = str(meta["base"])
            main = self.repo.lookup_branch("main")
            if main == base:
                if meta["kind"] == "checkpoint":
                    tip = self._finalize(base, tip, summary)
                try:
                    self.repo.reset_branch("main", tip, from_snapshot_id=main)
                    return str(tip)
                except Exception:  # main moved between lookup and swap: land on the new tip below
                    main = self.repo.lookup_branch("main")
            return self._land_on_moved_main(base, tip, main, summary, replace)

    def discard_staging(self) -> None:
        """Delete this run's staged products once ``main`` holds the run; ArchiveError while it does not.

        Until then staging is the only copy of items not yet checkpointed, so it is kept.
        """
        _, meta = self._branch_state()
        if meta.get("kind") != "publish" or not self._landed(meta):
            raise ArchiveError(f"run {self.run_id} is not published on {self.location}; its staging is kept")
        fs, path = staged.filesystem(f"{self.staging.rstrip('/')}/{self.run_id}")
        if fs.exists(path):
            fs.rm(path, recursive=True)

    def _landed(self, meta: dict[str, Any]) -> bool:
        done = runs(_root(self.repo, branch="main"))
        return bool(((done["run_id"] == self.run_id) & (done["source_snapshot"] == str(meta.get("source")))).any())

    def _keys(self, root: Any) -> list[Key]:
        """Return the items this run wrote, reading only its plan's tiles (the whole table without a plan)."""
        tiles = None
        if self.plan is not None:
            index = tile_index(root)
            tiles = sorted({index[u.unit_id] for u in self.plan.units if u.unit_id in index})
        recs = tile_records(root, ("run_id",), tiles)
        mine = recs[recs["run_id"] == self.run_id]
        return sorted((str(u), int(y)) for u, y in zip(mine["unit_id"], mine["year"], strict=True))

    def _finalize(self, base: str, source: str, summary: dict[str, Any]) -> str:
        """Commit glacier records and the run record on the run branch; return the publish snapshot."""
        session = self.repo.writable_session(self.branch)
        root = open_root(session.store)
        self._records_for(root, self._keys(root), base, source, summary)
        return str(session.commit(f"run {self.run_id}: publish",
                                  metadata={"glacierscale_run": self.run_id, "kind": "publish", "base": base,
                                            "source": source}))

    def _records_for(self, root: Any, keys: list[Key], base: str, source: str, summary: dict[str, Any]) -> None:
        from glacierscale.archive.temporal import min_observed_fraction, options_from, reestimate, touched_tiles

        config = self.plan.config if self.plan is not None else None
        # every year of the tiles this run wrote is re-estimated: a new year changes its neighbours' fills;
        # what the publish reads is the run's tiles' rows, never the whole archive (a yearly update of the world)
        tiles = touched_tiles(root, keys)
        series = reestimate(root, tiles, options_from(config))
        mapped = _touched(root, keys, tiles)
        parts = pd.concat([mapped, series]).drop_duplicates()
        attrs = self.plan.glaciers if self.plan is not None else None
        n = update_glaciers(root, parts, attrs, self.run_id, min_observed_fraction(config), mapped, tiles=tiles)
        append_run(root, self.run_id, source, self._run_record(root, keys, tiles, base, summary, n))

    def _run_record(self, root: Any, keys: list[Key], tiles: list[int], base: str, summary: dict[str, Any],
                    glacier_years: int) -> dict[str, Any]:
        plan = self.plan
        recs = tile_records(root, ("status", "run_id", "scenes"), tiles)
        mine = recs[recs["run_id"] == self.run_id]
        scenes = sum(len(v) for s in mine["scenes"] for v in (json.loads(s or "{}") or {}).values())
        record: dict[str, Any] = {
            "run_id": self.run_id, "base": base, "items": len(keys), "glacier_years": glacier_years,
            "items_by_status": {str(k): int(v) for k, v in mine["status"].value_counts().items()},
            "scenes_used": scenes, "scenes": "per unit-year in tiles/scenes (JSON) where tiles/run_id is this run",
            "summary": summary}
        if plan is not None:
            ident = json.dumps({"units": sorted(u.unit_id for u in plan.units), "years": sorted(plan.years),
                                "config": plan.config}, sort_keys=True, default=str)
            record.update({"plan_hash": hashlib.sha256(ident.encode()).hexdigest()[:16], "config": plan.config,
                           "years": sorted(plan.years), "units": len(plan.units),
                           "checkpoint_hash": plan.checkpoint_hash, "code_version": plan.code_version})
        return record

    def _land_on_moved_main(self, base: str, source: str, main: str, summary: dict[str, Any], replace: bool) -> str:
        """Replay this run's items from its branch onto ``main``'s tip; raise on items another run wrote."""
        import icechunk

        src_root = _root(self.repo, snapshot=source)
        keys = self._keys(src_root)
        for _ in range(5):
            if not replace:
                self._check_conflicts(keys, base, main)
            session = self.repo.writable_session("main")
            root = open_root(session.store)
            load = loader_from(src_root)
            index = tile_index(root)
            for i in range(0, len(keys), REPLAY_BATCH):
                write_products(root, keys[i:i + REPLAY_BATCH], load, self.run_id, index)
            self._records_for(root, keys, base, source, summary)
            try:
                snap = str(session.commit(f"run {self.run_id}: publish (replayed onto {main[:8]})",
                                          metadata={"glacierscale_run": self.run_id, "kind": "publish",
                                                    "base": main, "source": source}))
            except icechunk.ConflictError:
                main = self.repo.lookup_branch("main")
                continue
            self.repo.reset_branch(self.branch, snap)
            return snap
        raise ArchiveError(f"archive {self.location}: main kept moving while run {self.run_id} tried to publish; retry")

    def _check_conflicts(self, keys: list[Key], base: str, main: str) -> None:
        before = _records(_root(self.repo, snapshot=base))
        now = _records(_root(self.repo, snapshot=main))
        clashes = [(k, now[k]) for k in keys if k in now and now[k] != before.get(k)]
        if clashes:
            others = sorted({r.run_id or "unknown" for _, r in clashes})
            (u, y), _ = clashes[0]
            raise ArchiveConflictError(
                f"run {self.run_id} conflicts with run {', '.join(others)}: both wrote {len(clashes)} item(s) "
                f"(e.g. unit {u} year {y}), and {others[0]} landed on main first. Nothing of {self.run_id} is lost "
                f"(branch {self.branch} of {self.location} keeps it): run the update again (a new run decides "
                "from the archive as it is now), or publish with replace=True to land these results over theirs")


def _touched(root: Any, keys: list[Key], tiles: list[int]) -> pd.DataFrame:
    """Return the (glacier_id, year) pairs whose parts the items ``keys`` wrote (gap parts included).

    ``tiles``: the (sorted) tile indices of ``keys``; only their rows are read.
    """
    from glacierscale.archive.glaciers import live_parts

    wanted = pd.DataFrame(keys, columns=["unit_id", "year"])
    recs = tile_records(root, ("parts_start",), tiles)
    items = recs.merge(wanted, on=["unit_id", "year"])[["tile", "year"]]
    parts = live_parts(root, tiles=tiles)
    return parts.merge(items, on=["tile", "year"])[["glacier_id", "year"]].drop_duplicates()


def open_run(location: str, run_id: str, plan: RunPlan | None, *, staging: str,
             lock_timeout: float = 600.0) -> ArchiveRun:
    """Return the writer of run ``run_id``; creates the archive if absent and the run branch from ``main``.

    An existing run branch is reused: that is how a rerun after a driver crash resumes.
    """
    if not run_id or any(c in run_id for c in " /\\:"):
        raise ArchiveError(f"run id {run_id!r} must be non-empty without spaces, slashes or colons")
    repo = open_repository(location, create=True)  # icechunk refuses to create over anything (or a racing creator)
    with write_lock(location, holder=f"run {run_id}", timeout=lock_timeout):
        check_layout(_root(repo, branch="main"), location)
        branch = f"run-{run_id}"
        if branch not in repo.list_branches():
            repo.create_branch(branch, repo.lookup_branch("main"))
    writer = ArchiveRun(location, run_id, plan, staging=staging, lock_timeout=lock_timeout)
    writer._repo = repo
    return writer
