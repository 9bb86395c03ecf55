"""Scene ranking and selection per work unit and time window, with a reason for every decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from glacierscale.catalog.search import item_datetime


@dataclass(frozen=True)
class SceneDecision:
    """Why one scene was kept or dropped."""

    item_id: str
    kept: bool
    reason: str


@dataclass(frozen=True)
class SceneSelection:
    """The scenes chosen for one sensor in one window, best first, and why."""

    collection: str
    items: list[Any]
    decisions: list[SceneDecision] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [it.id for it in self.items]


def rank_optical(items: list[Any], collection: str, max_cloud: float, max_scenes: int) -> SceneSelection:
    """Keep the least cloudy optical scenes (scene-level ``eo:cloud_cover``), at most ``max_scenes``."""
    decisions: list[SceneDecision] = []
    usable = []
    for it in items:
        cc = it.properties.get("eo:cloud_cover")
        if cc is not None and float(cc) > max_cloud:
            decisions.append(SceneDecision(it.id, False, f"cloud cover {float(cc):.1f} % > {max_cloud:.0f} %"))
        else:
            usable.append(it)
    usable.sort(key=lambda it: (float(it.properties.get("eo:cloud_cover", 100.0)), item_datetime(it)))
    kept, dropped = usable[:max_scenes], usable[max_scenes:]
    for rank, it in enumerate(kept, 1):
        cc = float(it.properties.get("eo:cloud_cover", float("nan")))
        decisions.append(SceneDecision(it.id, True, f"rank {rank}: cloud cover {cc:.1f} %"))
    decisions += [SceneDecision(it.id, False, f"beyond the best {max_scenes}") for it in dropped]
    return SceneSelection(collection, kept, decisions)


def keep_latest(items: list[Any], collection: str, max_scenes: int) -> SceneSelection:
    """Keep the ``max_scenes`` latest scenes (sensors without cloud: SAR, DEM)."""
    kept = sorted(items, key=item_datetime, reverse=True)[:max_scenes]
    decisions = [SceneDecision(it.id, it in kept, "latest in window" if it in kept else "older")
                 for it in items]
    return SceneSelection(collection, kept, decisions)
