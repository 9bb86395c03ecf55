"""A SAS token endpoint on loopback (the ``tokens`` fixture, registered by conftest.py) for the signing tests."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from glacierscale.catalog.access import REFRESH_BEFORE_S


@dataclass
class TokenEndpoint:
    """Hands out a new SAS token per request, valid ``life_s`` seconds; advertises its expiry ``REFRESH_BEFORE_S``
    + ``refresh_after_s`` after issue, so a signer with the standard margin renews it ``refresh_after_s`` in."""

    life_s: float
    refresh_after_s: float
    collections: tuple[str, ...] = ()  # the collections it knows (404 for others); empty: every one
    url: str = ""
    issued: dict[str, float] = field(default_factory=dict)  # sig -> real expiry (epoch s)
    requests: list[str] = field(default_factory=list)

    def valid(self, query: dict[str, str]) -> bool:
        return time.time() < self.issued.get(query.get("sig", ""), 0.0)


@pytest.fixture()
def tokens(request: pytest.FixtureRequest) -> Iterator[TokenEndpoint]:
    """Parametrize indirectly with (life_s, refresh_after_s[, collections])."""
    endpoint = TokenEndpoint(*getattr(request, "param", (3600.0, 3000.0)))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            endpoint.requests.append(self.path)
            if endpoint.collections and self.path.rsplit("/", 1)[-1] not in endpoint.collections:
                self.send_response(404)
                self.end_headers()
                return
            sig = secrets.token_hex(16)
            now = time.time()
            endpoint.issued[sig] = now + endpoint.life_s
            expiry = datetime.fromtimestamp(now + REFRESH_BEFORE_S + endpoint.refresh_after_s, UTC)
            body = json.dumps({"msft:expiry": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
                               "token": f"st=2026-12-05&se={expiry:%Y-%m-%d}&sp=rl&sv=2024-05-04&sr=c&sig={sig}"})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}/api/sas/v1/token"
    yield endpoint
    server.shutdown()
    server.server_close()
