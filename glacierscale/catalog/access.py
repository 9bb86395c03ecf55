"""How asset hrefs are reached: anonymous https, requester-pays S3, Planetary Computer SAS signing.

Signing follows the Planetary Computer's token API: one read-only SAS token per storage container,
fetched from ``<token_url>/<collection>`` and appended to every blob href of items of that collection.
Tokens are cached until shortly before they expire. Used as pystac-client's ``modifier``.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from datetime import datetime
from typing import Any

from glacierscale.errors import CatalogError

PC_TOKEN_URL = "https://planetarycomputer.microsoft.com/api/sas/v1/token"
BLOB_HOST = ".blob.core.windows.net"


class SasSigner:
    """Sign Azure blob hrefs of STAC items with SAS tokens from a token endpoint (cached per collection)."""

    def __init__(self, token_url: str = PC_TOKEN_URL, timeout_s: float = 20.0) -> None:
        self.token_url = token_url.rstrip("/")
        self.timeout_s = timeout_s
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def token(self, collection: str) -> str:
        with self._lock:
            cached = self._tokens.get(collection)
            if cached and cached[1] - time.time() > 300:
                return cached[0]
        url = f"{self.token_url}/{collection}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as resp:
                body = json.loads(resp.read())
            token = str(body["token"])
            expiry = datetime.fromisoformat(str(body["msft:expiry"]).replace("Z", "+00:00")).timestamp()
        except (OSError, KeyError, ValueError) as err:
            raise CatalogError(f"cannot get a SAS token for {collection} from {url}: {err}") from err
        with self._lock:
            self._tokens[collection] = (token, expiry)
        return token

    def sign_href(self, href: str, collection: str) -> str:
        if BLOB_HOST not in href or "sig=" in href:
            return href
        return f"{href}{'&' if '?' in href else '?'}{self.token(collection)}"

    def __call__(self, obj: Any) -> Any:
        """pystac-client modifier: sign an Item (or each item of an ItemCollection) in place."""
        items = getattr(obj, "items", None)
        for it in (items if isinstance(items, list) else [obj]):
            assets = getattr(it, "assets", None)
            if not assets:
                continue
            for a in assets.values():
                a.href = self.sign_href(a.href, it.collection_id or "")
        return obj


def modifier_for(access: str, token_url: str | None = None) -> Any:
    """Return the pystac-client modifier for a provider's access rule (None when hrefs need no change)."""
    if access == "planetary-computer-sas":
        return SasSigner(token_url or PC_TOKEN_URL)
    return None


# every remote read has a deadline: a stalled connection fails (and the run retries the item) instead of hanging
READ_TIMEOUTS = {"GDAL_HTTP_TIMEOUT": "60", "GDAL_HTTP_CONNECTTIMEOUT": "20"}


def gdal_options(access: str) -> dict[str, str]:
    """Return GDAL configuration for reading assets under an access rule (always with read timeouts)."""
    if access == "requester-pays-s3":
        return {**READ_TIMEOUTS, "AWS_REQUEST_PAYER": "requester"}
    if access == "anonymous-https":
        return {**READ_TIMEOUTS, "GDAL_HTTP_MAX_RETRY": "3", "GDAL_HTTP_RETRY_DELAY": "1"}
    return dict(READ_TIMEOUTS)
