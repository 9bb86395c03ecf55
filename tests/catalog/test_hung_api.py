"""A STAC API that accepts the connection and never answers: the search fails in seconds, as a transient error."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from glacierscale.catalog import search as search_module
from glacierscale.errors import CatalogError
from glacierscale.pipeline.failures import is_transient


@pytest.fixture()
def hung_api() -> Iterator[str]:
    """Listen on loopback, accept every connection, read the request, never reply."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.recv(65536)
            held.append(conn)  # kept open, silent

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/api/stac/v1"
    stop.set()
    t.join()
    for c in held:
        c.close()
    server.close()


def test_a_hung_stac_api_fails_the_search_within_its_timeout_as_transient(hung_api: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_module, "SEARCH_TIMEOUT_S", 1.0)  # 60 s in a run
    t0 = time.monotonic()
    with pytest.raises(CatalogError) as info:
        search_module.search_items(hung_api, "sentinel-2-l2a", (10.7, 46.7, 10.9, 46.9),
                                   datetime(2022, 7, 15, tzinfo=UTC), datetime(2022, 9, 30, tzinfo=UTC))
    seconds = time.monotonic() - t0
    assert seconds < 10, f"the search waited {seconds:.0f} s on a server that never answers"
    message = str(info.value)
    assert "sentinel-2-l2a" in message and hung_api in message and "timed out" in message.lower()
    assert is_transient(info.value)  # the run retries it with backoff, then records the item as failed
