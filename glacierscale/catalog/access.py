"""How asset hrefs are reached: anonymous https, requester-pays S3, Planetary Computer SAS signing.

Signing follows the Planetary Computer's token API: one read-only SAS token per storage container, fetched
from ``<token_url>/<collection>`` and appended to the blob hrefs of items of that collection. Hrefs are signed
at read time, in the worker, right before the read (:func:`signed_item`); search results, persisted scene
selections, ledgers and run records keep unsigned hrefs, so a long run never reads with a token that expired
while the item waited. Each worker process keeps one signer per token endpoint, which caches tokens and fetches
a new one ``refresh_before_s`` before the old one expires.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from glacierscale.errors import CatalogError
from glacierscale.redact import SIGNED, redact

PC_TOKEN_URL = "https://planetarycomputer.microsoft.com/api/sas/v1/token"
BLOB_HOST = ".blob.core.windows.net"
REFRESH_BEFORE_S = 300.0  # a token is replaced this long before it expires: a read started on it finishes in time


class SasSigner:
    """Sign hrefs on ``hosts`` with SAS tokens from a token endpoint, cached per collection until shortly
    before they expire (thread-safe; ``clock`` is injectable for tests)."""

    def __init__(self, token_url: str = PC_TOKEN_URL, timeout_s: float = 20.0, *,
                 hosts: Sequence[str] = (BLOB_HOST,), refresh_before_s: float = REFRESH_BEFORE_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.token_url = token_url.rstrip("/")
        self.timeout_s = timeout_s
        self.hosts = tuple(hosts)
        self.refresh_before_s = refresh_before_s
        self.clock = clock
        self.fetched = 0  # tokens fetched from the endpoint (for tests and the soak report)
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def token(self, collection: str) -> str:
        """Return a SAS token of ``collection`` valid for at least ``refresh_before_s`` more seconds."""
        with self._lock:
            cached = self._tokens.get(collection)
            if cached and cached[1] - self.clock() > self.refresh_before_s:
                return cached[0]
        url = f"{self.token_url}/{collection}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as resp:
                body = json.loads(resp.read())
            token = str(body["token"])
            expiry = datetime.fromisoformat(str(body["msft:expiry"]).replace("Z", "+00:00")).timestamp()
        except (OSError, KeyError, ValueError) as err:
            reason = f"{err}"
        else:
            with self._lock:
                self._tokens[collection] = (token, expiry)
                self.fetched += 1
            return token
        raise CatalogError(redact(f"cannot get a SAS token for {collection} from {url}: {reason}"))

    def needs_signing(self, href: str) -> bool:
        return any(h in (urlsplit(href).hostname or "") for h in self.hosts)

    def sign_href(self, href: str, collection: str) -> str:
        """Return ``href`` with a current token (any signature it carried is replaced); other hosts unchanged."""
        if not self.needs_signing(href):
            return href
        bare = unsigned_href(href)
        return f"{bare}{'&' if '?' in bare else '?'}{self.token(collection)}"

    def sign_item(self, item: dict[str, Any]) -> dict[str, Any]:
        """Return a copy of a STAC item dict whose asset hrefs are signed for reading now."""
        out = copy.deepcopy(item)
        for asset in out.get("assets", {}).values():
            if isinstance(asset, dict) and "href" in asset:
                asset["href"] = self.sign_href(str(asset["href"]), str(out.get("collection") or ""))
        return out


def unsigned_href(href: str) -> str:
    """Return ``href`` without signature and credential query parameters (SAS ``sig``/``se``..., pre-signed
    ``X-Amz-*``, ``token``...); other parameters are kept in order."""
    parts = urlsplit(href)
    params = parts.query.split("&") if parts.query else []
    kept = [p for p in params if not SIGNED.fullmatch(f"?{p}")]
    return href if len(kept) == len(params) else urlunsplit(parts._replace(query="&".join(kept)))


def unsigned_item(item: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of a STAC item dict whose asset hrefs carry no signature (what may be persisted)."""
    out = copy.deepcopy(item)
    for asset in out.get("assets", {}).values():
        if isinstance(asset, dict) and "href" in asset:
            asset["href"] = unsigned_href(str(asset["href"]))
    return out


_SIGNERS: dict[tuple[str, tuple[str, ...]], SasSigner] = {}
_SIGNERS_LOCK = threading.Lock()


def signer_for(access: str, token_url: str | None = None, hosts: Sequence[str] = (BLOB_HOST,)) -> SasSigner | None:
    """Return this process's signer for an access rule (None when hrefs are read as they are).

    One signer per token endpoint and process, so the tasks a worker runs share its cached tokens.
    """
    if access != "planetary-computer-sas":
        return None
    key = ((token_url or PC_TOKEN_URL).rstrip("/"), tuple(hosts))
    with _SIGNERS_LOCK:
        if key not in _SIGNERS:
            _SIGNERS[key] = SasSigner(key[0], hosts=key[1])
        return _SIGNERS[key]


def readable(items: list[dict[str, Any]], access: str, token_url: str | None = None,
             hosts: Sequence[str] = (BLOB_HOST,)) -> list[dict[str, Any]]:
    """Return the item dicts ready to read now: signed under ``planetary-computer-sas``, else as they are."""
    signer = signer_for(access, token_url, hosts)
    return [signer.sign_item(it) for it in items] if signer else items


def unreachable(href: str, timeout_s: float) -> str | None:
    """Return why an http(s) asset cannot be fetched now (timed out, refused, an HTTP error), None when its first
    bytes arrive. GDAL reports an asset it could not fetch in time as "not recognized as being in a supported
    file format", as it does a corrupt one; this one small read tells the two apart (transient or not)."""
    import urllib.error

    if not href.startswith(("http://", "https://")):
        return None
    try:
        req = urllib.request.Request(href, headers={"Range": "bytes=0-3"})
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            resp.read()
    except urllib.error.HTTPError as err:
        return f"HTTP {err.code} {err.reason}"
    except TimeoutError:
        return f"read timed out after {timeout_s:g} s"
    except OSError as err:
        reason = getattr(err, "reason", err)
        return f"read timed out after {timeout_s:g} s" if isinstance(reason, TimeoutError) else f"connection error: {reason}"
    return None


# every remote read has a deadline: a stalled connection fails (and the run retries the item) instead of hanging
READ_TIMEOUT_S = 60.0
CONNECT_TIMEOUT_S = 20.0


def gdal_options(access: str, read_timeout_s: float = READ_TIMEOUT_S) -> dict[str, str]:
    """Return GDAL configuration for reading assets under an access rule (always with read timeouts)."""
    timeouts = {"GDAL_HTTP_TIMEOUT": str(int(max(1, read_timeout_s))),
                "GDAL_HTTP_CONNECTTIMEOUT": str(int(max(1, min(CONNECT_TIMEOUT_S, read_timeout_s))))}
    if access == "requester-pays-s3":
        return {**timeouts, "AWS_REQUEST_PAYER": "requester"}
    if access == "anonymous-https":
        return {**timeouts, "GDAL_HTTP_MAX_RETRY": "3", "GDAL_HTTP_RETRY_DELAY": "1"}
    return timeouts
