"""STAC search with pystac-client; results are re-checked client-side (servers may ignore filters)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shapely.geometry import box, shape

from glacierscale.errors import CatalogError, EmptySearchError
from glacierscale.redact import redact

SEARCH_TIMEOUT_S = 60.0  # per HTTP request: a hung STAC API fails the search (and is retried) instead of waiting forever


def item_datetime(item: Any) -> datetime:
    """Return the item's acquisition time (start_datetime for ranges) as an aware UTC datetime."""
    dt = item.datetime or item.common_metadata.start_datetime
    if dt is None:
        raise CatalogError(f"STAC item {item.id} has no datetime")
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def search_items(
    url: str,
    collection: str,
    bbox: tuple[float, float, float, float],
    start: datetime,
    end: datetime,
    *,
    max_items: int | None = 1000,
    modifier: Any = None,
) -> list[Any]:
    """Return the items of ``collection`` intersecting ``bbox`` (WGS84) within [start, end], oldest first.

    Raises EmptySearchError naming the query when nothing matches, CatalogError when the API fails.
    """
    import pystac_client

    try:
        client = pystac_client.Client.open(url, modifier=modifier, timeout=SEARCH_TIMEOUT_S)
        found = client.search(
            collections=[collection], bbox=list(bbox),
            datetime=[start.isoformat(), end.isoformat()], max_items=max_items, limit=100,
        )
        items = list(found.items())
    except (pystac_client.exceptions.APIError, OSError) as err:
        reason = f"{err}"
    else:
        reason = ""
    if reason:  # raised outside the handler: the HTTP library's error (and its request) is not chained to it
        raise CatalogError(redact(f"STAC search of {collection} at {url} failed: {reason}"))
    aoi = box(*bbox)
    start_utc = start if start.tzinfo else start.replace(tzinfo=UTC)
    end_utc = end if end.tzinfo else end.replace(tzinfo=UTC)
    kept = [
        it for it in items
        if start_utc <= item_datetime(it) <= end_utc and (it.geometry is None or shape(it.geometry).intersects(aoi))
    ]
    if not kept:
        raise EmptySearchError(
            f"no {collection} scene at {url} intersects bbox {tuple(round(v, 4) for v in bbox)} "
            f"between {start:%Y-%m-%d} and {end:%Y-%m-%d}"
        )
    return sorted(kept, key=item_datetime)


def detach_item(item: Any) -> dict[str, Any]:
    """Return an item's dict without links: readers must never follow them (the API that served the item
    may be gone, or unreachable from a worker)."""
    d: dict[str, Any] = item.to_dict(include_self_link=False, transform_hrefs=False) if hasattr(item, "to_dict") else dict(item)
    d["links"] = []
    return d
