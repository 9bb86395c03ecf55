"""The staging interface between the run and the archive (DESIGN.md, "The run at global scale").

The run (``glacierscale.pipeline``) produces one :class:`UnitProduct` per (unit, year) item inside a Ray task
and hands it to ``writer.stage(product)``; the driver collects the small :class:`StagedItem` records, calls
``writer.checkpoint(items)`` every batch (one commit on the run's branch) and ``writer.publish(summary)`` once at
the end (``main`` moves once). ``writer.held()`` tells a rerun which items are already in the archive (on
``main`` or on the run branch) with which hashes, so resume and ``update`` decide per item.

The products themselves (:class:`UnitProduct`, :class:`GlacierPart`) are made by the reducer and defined in
``glacierscale.reduce.products`` (a stage never imports a later one); they are re-exported here. Only the
value types and the writer's contract live here; ``glacierscale.archive.run`` implements it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from glacierscale.reduce.products import GlacierPart, ItemStatus, UnitProduct

if TYPE_CHECKING:
    import pandas as pd

    from glacierscale.inventory.units import WorkUnit

__all__ = ["GlacierPart", "ItemStatus", "RunPlan", "RunWriter", "StagedItem", "TileRecord", "UnitProduct"]


@dataclass(frozen=True)
class StagedItem:
    """What ``stage`` returns to the driver: a small (≤ 1 KB) receipt, never rasters."""

    unit_id: str
    year: int
    status: ItemStatus
    input_hash: str
    model_hash: str
    location: str  # where the staged product lies until a checkpoint commits it
    nodata_share: float = 1.0


@dataclass(frozen=True)
class TileRecord:
    """What the archive holds for one (unit, year): its status and the hashes it was made with."""

    unit_id: str
    year: int
    status: str
    input_hash: str
    model_hash: str
    run_id: str = ""  # the run that wrote it (the archive's ``tiles/run_id``)


@dataclass(frozen=True)
class RunPlan:
    """What a run will write: its units and years, the glaciers' attributes, and its provenance.

    ``glaciers`` has one row per inventory glacier the run touches, with columns ``glacier_id``, ``rgi_id``,
    ``glims_id``, ``lon``, ``lat``, ``region``, ``terminus_type`` (empty strings where the inventory lacks them).
    """

    run_id: str
    units: list[WorkUnit]
    years: list[int]
    glaciers: pd.DataFrame
    config: dict[str, Any] = field(default_factory=dict)
    checkpoint_hash: str = ""
    code_version: str = ""


class RunWriter(Protocol):
    """A run's handle on the archive; picklable, so Ray tasks can call :meth:`stage`."""

    run_id: str

    def stage(self, product: UnitProduct) -> StagedItem:
        """Write one product to staging (marker last) and return its receipt; runs in a worker."""
        ...

    def checkpoint(self, items: list[StagedItem]) -> str | None:
        """Commit staged items to the run branch (one commit); return the snapshot id, None if nothing new."""
        ...

    def publish(self, summary: dict[str, Any]) -> str | None:
        """Move ``main`` to the run branch once (compare-and-swap); return the new snapshot, None if unchanged."""
        ...

    def held(self) -> dict[tuple[str, int], TileRecord]:
        """Return what the archive already holds for this run's items: ``main`` plus the run branch."""
        ...
