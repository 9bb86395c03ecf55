"""Asset files over HTTP on loopback, with faults on request: the remote side of a catalog, for tests and the soak.

GDAL reads COGs over HTTP with HEAD and ``Range`` requests; :class:`AssetServer` answers them for the files of a
folder, as a blob store would. Faults are switched on per file: a stall longer than the reader's timeout, garbage
bytes (a corrupt asset), or a check of each request's query string (a SAS token that must still be valid).
:func:`serve_catalog_over_http` points a local catalog's item hrefs at such a server.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, quote, unquote, urlsplit

from glacierscale.catalog.server import free_port
from glacierscale.errors import CatalogError

Authorize = Callable[[str, dict[str, str]], bool]  # (path, query) -> may read


@dataclass
class Faults:
    """What the server does wrong, per file (keys: paths relative to the root, '/'-separated)."""

    stall_s: dict[str, float] = field(default_factory=dict)  # sleep this long before answering ...
    stall_times: dict[str, int] = field(default_factory=dict)  # ... this many GET requests of the file
    corrupt: set[str] = field(default_factory=set)  # answer with garbage bytes of the right length
    authorize: Authorize | None = None  # refuse (403) a request this returns False for


@dataclass
class Served:
    """Counts of what the server answered (all requests), and the last few requests."""

    status: collections.Counter[int] = field(default_factory=collections.Counter)
    stalls: int = 0
    corrupt: int = 0
    recent: collections.deque[tuple[str, str, int]] = field(default_factory=lambda: collections.deque(maxlen=200))


class AssetServer:
    """Serve the files under ``root`` on ``http://127.0.0.1:<port>/<relative path>`` (HEAD, GET, Range)."""

    def __init__(self, root: str | Path, port: int | None = None) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise CatalogError(f"asset folder {self.root} does not exist")
        self.port = port or free_port()
        self.faults = Faults()
        self.served = Served()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def href(self, path: str | Path) -> str:
        """Return the URL of a file under the root."""
        rel = Path(path).resolve().relative_to(self.root).as_posix()
        return f"{self.url}/{quote(rel)}"

    def stall(self, rel: str, seconds: float, times: int = 1) -> None:
        """Make the next ``times`` GET requests of ``rel`` wait ``seconds`` before answering."""
        with self._lock:
            self.faults.stall_s[rel], self.faults.stall_times[rel] = seconds, times

    def _take_stall(self, rel: str) -> float:
        with self._lock:
            left = self.faults.stall_times.get(rel, 0)
            if left <= 0:
                return 0.0
            self.faults.stall_times[rel] = left - 1
            self.served.stalls += 1
            return self.faults.stall_s.get(rel, 0.0)

    def _record(self, method: str, rel: str, status: int) -> None:
        with self._lock:
            self.served.status[status] += 1
            self.served.recent.append((method, rel, status))

    def start(self) -> AssetServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

            def _answer(self, body: bool) -> None:
                parts = urlsplit(self.path)
                rel = unquote(parts.path).lstrip("/")
                query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                path = (server.root / rel).resolve()
                status = 200
                if server.root not in path.parents or not path.is_file():
                    status = 404
                elif server.faults.authorize is not None and not server.faults.authorize(rel, query):
                    status = 403
                if status != 200:
                    server._record(self.command, rel, status)
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                size = path.stat().st_size
                start, end = 0, size - 1
                rng = self.headers.get("Range", "")
                if rng.startswith("bytes="):
                    a, _, b = rng[6:].split(",")[0].partition("-")
                    if a:
                        start, end = int(a), min(int(b), size - 1) if b else size - 1
                    else:
                        start = max(0, size - int(b))
                    status = 206
                if body:
                    time.sleep(server._take_stall(rel))
                with path.open("rb") as f:
                    f.seek(start)
                    data = f.read(end - start + 1)
                if rel in server.faults.corrupt:
                    data = bytes((i * 7 + 13) % 256 for i in range(len(data)))
                    with server._lock:
                        server.served.corrupt += 1
                server._record(self.command, rel, status)
                try:
                    self.send_response(status)
                    self.send_header("Accept-Ranges", "bytes")
                    self.send_header("Content-Type", "image/tiff" if rel.endswith(".tif") else "application/octet-stream")
                    self.send_header("Content-Length", str(len(data)))
                    if status == 206:
                        self.send_header("Content-Range", f"bytes {start}-{start + len(data) - 1}/{size}")
                    self.end_headers()
                    if body:
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the reader gave up (its timeout)
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True, name="asset-server").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> AssetServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def serve_catalog_over_http(catalog: Path, server: AssetServer) -> int:
    """Rewrite the item hrefs of a local catalog folder (in place) from files under ``server.root`` to the
    server's URLs; return how many hrefs changed."""
    changed = 0
    for listing in sorted(catalog.glob("*/items.ndjson")):
        items = [json.loads(line) for line in listing.read_text().splitlines() if line.strip()]
        for item in items:
            for asset in item.get("assets", {}).values():
                href = str(asset.get("href", ""))
                if "://" not in href and Path(href).is_absolute() and server.root in Path(href).resolve().parents:
                    asset["href"] = server.href(href)
                    changed += 1
        listing.write_text("".join(json.dumps(it) + "\n" for it in items))
    return changed
