"""Scene ranking and selection per work unit and time window, with a reason for every decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from glacierscale.catalog.provider import Provider
from glacierscale.catalog.search import item_datetime, search_items
from glacierscale.errors import EmptySearchError

if TYPE_CHECKING:
    from glacierscale.catalog.access import SasSigner


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


@dataclass(frozen=True)
class UnitGrid:
    """Where a work unit lies, for reading mask layers over it: EPSG, bounds, coarse shape."""

    epsg: int
    bounds: tuple[float, float, float, float]
    shape: tuple[int, int]


def rank_optical(items: list[Any], collection: str, max_cloud: float, max_scenes: int, *,
                 mask_asset: str | None = None, clear_classes: list[int] | None = None,
                 grid: UnitGrid | None = None, window_end: datetime | None = None,
                 min_clear: float = 0.05, signer: SasSigner | None = None, gdal: dict[str, str] | None = None,
                 timeout_s: float = 60.0) -> SceneSelection:
    """Keep the best optical scenes, at most ``max_scenes``, recording why each was kept or dropped.

    Scenes above ``max_cloud`` % scene-level ``eo:cloud_cover`` are dropped without reading anything.
    With a mask asset and the unit grid, the rest are ranked by the mask over the unit itself (see
    ``catalog.rank``); without, by scene-level cloud cover. With ``signer``, mask hrefs are signed right
    before each read (the items themselves stay unsigned); ``gdal`` and ``timeout_s`` are the provider's read options.
    """
    from glacierscale.catalog.rank import describe, rank_key, scene_stats

    decisions: list[SceneDecision] = []
    usable = []
    for it in items:
        cc = it.properties.get("eo:cloud_cover")
        if cc is not None and float(cc) > max_cloud:
            decisions.append(SceneDecision(it.id, False, f"scene cloud cover {float(cc):.1f} % > {max_cloud:.0f} %"))
        else:
            usable.append(it)
    notes: dict[str, str] = {}
    if mask_asset and grid is not None:
        end = window_end or (max(item_datetime(it) for it in usable) if usable else datetime.now(UTC))
        keyed: list[tuple[Any, Any]] = []
        scarce: list[tuple[Any, Any]] = []
        for it in usable:
            stats = scene_stats(it, mask_asset, clear_classes or [], grid.epsg, grid.bounds, grid.shape, signer,
                                gdal, timeout_s)
            notes[it.id] = describe(stats)
            key = (rank_key(stats, item_datetime(it), end, it.properties.get("view:sun_elevation")), it)
            if stats.clear <= 0:
                decisions.append(SceneDecision(it.id, False, f"no clear view: {notes[it.id]}"))
            elif stats.clear < min_clear:
                scarce.append(key)
            else:
                keyed.append(key)
        if not keyed:  # only scenes that see a little of the unit: map from what there is
            keyed = scarce
        else:
            decisions += [SceneDecision(it.id, False, f"little clear view: {notes[it.id]}") for _, it in scarce]
        usable = [it for _, it in sorted(keyed, key=lambda kv: kv[0])]
    else:
        usable.sort(key=lambda it: (float(it.properties.get("eo:cloud_cover", 100.0)), item_datetime(it)))
        for it in usable:
            notes[it.id] = f"scene cloud cover {float(it.properties.get('eo:cloud_cover', float('nan'))):.1f} %"
    kept, dropped = usable[:max_scenes], usable[max_scenes:]
    decisions += [SceneDecision(it.id, True, f"rank {rank}: {notes[it.id]}") for rank, it in enumerate(kept, 1)]
    decisions += [SceneDecision(it.id, False, f"beyond the best {max_scenes}: {notes[it.id]}") for it in dropped]
    return SceneSelection(collection, kept, decisions)


def keep_latest(items: list[Any], collection: str, max_scenes: int) -> SceneSelection:
    """Keep the ``max_scenes`` latest scenes (sensors without cloud: SAR, DEM)."""
    kept = sorted(items, key=item_datetime, reverse=True)[:max_scenes]
    decisions = [SceneDecision(it.id, it in kept, "latest in window" if it in kept else "older")
                 for it in items]
    return SceneSelection(collection, kept, decisions)


def season_window(year: int, start_mmdd: str, end_mmdd: str) -> tuple[datetime, datetime]:
    """Return [start, end] of a yearly window given as MM-DD strings (end inclusive to 23:59:59)."""
    sm, sd = (int(v) for v in start_mmdd.split("-"))
    em, ed = (int(v) for v in end_mmdd.split("-"))
    return datetime(year, sm, sd, tzinfo=UTC), datetime(year, em, ed, 23, 59, 59, tzinfo=UTC)


def select_scenes(url: str, provider: Provider, bbox: tuple[float, float, float, float], year: int,
                  season: tuple[str, str], max_cloud: float, max_scenes: int,
                  grid: UnitGrid | None = None, require_optical: bool = True) -> dict[str, SceneSelection]:
    """Return the selection per sensor of ``provider`` for one work unit (WGS84 bbox) and year.

    The DEM is static and searched over all time; a sensor with no scene gets an empty selection (the
    cube marks it missing). Without an optical scene nothing can be mapped: EmptySearchError with
    ``require_optical``, else an empty optical selection whose decisions say why (the run records a gap).
    """
    from glacierscale.catalog.access import gdal_options, signer_for

    start, end = season_window(year, *season)
    signer = signer_for(provider.access, provider.token_url, provider.sign_hosts)  # mask reads only: items stay unsigned
    out: dict[str, SceneSelection] = {}
    for sensor, sdef in provider.sensors.items():
        if sensor == "dem":
            items = search_items(url, sdef.collection, bbox, datetime(1990, 1, 1, tzinfo=UTC),
                                 datetime(2100, 1, 1, tzinfo=UTC))
            out[sensor] = keep_latest(items, sdef.collection, 1)
            continue
        try:
            items = search_items(url, sdef.collection, bbox, start, end)
        except EmptySearchError as err:
            if sensor == "s2" and require_optical:
                raise
            out[sensor] = SceneSelection(sdef.collection, [], [SceneDecision("", False, str(err))] if sensor == "s2" else [])
            continue
        if sdef.mask_asset and sdef.clear_scl:  # optical with a class mask: rank over the unit
            out[sensor] = rank_optical(items, sdef.collection, max_cloud, max_scenes, mask_asset=sdef.mask_asset,
                                       clear_classes=sdef.clear_scl, grid=grid, window_end=end, signer=signer,
                                       gdal=gdal_options(sdef.access or provider.access, provider.read_timeout_s),
                                       timeout_s=provider.read_timeout_s)
            if not out[sensor].items and sensor == "s2" and require_optical:
                raise EmptySearchError(
                    f"no {sdef.collection} scene of {year} gives a clear view of the unit at "
                    f"{tuple(round(v, 4) for v in bbox)}: "
                    + "; ".join(f"{d.item_id}: {d.reason}" for d in out[sensor].decisions))
        else:
            out[sensor] = keep_latest(items, sdef.collection, max_scenes)
    return out
