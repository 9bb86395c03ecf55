"""A real STAC API on loopback for a local catalog folder, served by ``rustac serve``.

A ``glacierscale simulate`` output (or any folder of ``<collection>/collection.json`` + ``items.ndjson``)
becomes a STAC API that pystac-client searches exactly as it searches Earth Search.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType

from glacierscale.errors import CatalogError


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def catalog_files(folder: Path) -> list[Path]:
    """Return the collection.json and items.ndjson files of every collection folder under ``folder``."""
    files: list[Path] = []
    for coll in sorted(folder.glob("*/collection.json")):
        items = coll.parent / "items.ndjson"
        files.append(coll)
        if items.is_file():
            files.append(items)
    if not files:
        raise CatalogError(f"catalog folder {folder} holds no <collection>/collection.json")
    return files


def rustac_binary() -> str:
    """Return the path of the rustac executable (installed with the rustac Python package)."""
    beside = Path(sys.executable).parent / "rustac"
    found = str(beside) if beside.exists() else shutil.which("rustac")
    if not found:
        raise CatalogError("the rustac executable is not installed (pip install rustac)")
    return found


class LocalStacServer:
    """Serve a local catalog folder as a STAC API; use as a context manager or call start()/stop()."""

    def __init__(self, folder: str | Path, port: int | None = None, timeout_s: float = 20.0) -> None:
        self.folder = Path(folder).resolve()
        if not self.folder.is_dir():
            raise CatalogError(f"catalog folder {self.folder} does not exist")
        self.port = port or free_port()
        self.timeout_s = timeout_s
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> LocalStacServer:
        files = [str(p) for p in catalog_files(self.folder)]
        cmd = [rustac_binary(), "serve", "--addr", f"127.0.0.1:{self.port}", *files]
        self.process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise CatalogError(f"rustac serve exited while serving {self.folder}: {err.strip()[-500:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/collections", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise CatalogError(f"rustac serve did not answer on {self.url} within {self.timeout_s} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process and self.process.stderr:
            self.process.stderr.close()
        self.process = None

    def __enter__(self) -> LocalStacServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
