"""Catalog stage: STAC providers, search with pystac-client, scene ranking, local STAC server."""

from glacierscale.catalog.search import search_items
from glacierscale.catalog.select import SceneSelection, keep_latest, rank_optical
from glacierscale.catalog.server import LocalStacServer

__all__ = ["LocalStacServer", "SceneSelection", "keep_latest", "rank_optical", "search_items"]
