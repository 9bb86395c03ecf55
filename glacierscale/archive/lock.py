"""A write lock for archives on local storage, where icechunk's commits are not safe against each other.

icechunk on S3 moves a branch with a conditional write (a real compare-and-swap); on a local filesystem it
cannot, so two local writers could both "win". Every commit and branch move of glacierscale on a local archive
therefore runs under an exclusive ``fcntl`` lock on ``<archive>/glacierscale-write.lock``: a second writer waits
up to ``timeout`` seconds, then refuses with a message naming the holder. The lock is released by the kernel
when its holder exits, so a killed writer never leaves a stale lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from glacierscale.errors import ArchiveError

LOCK_NAME = "glacierscale-write.lock"


@contextlib.contextmanager
def write_lock(location: str, *, holder: str, timeout: float = 600.0) -> Iterator[None]:
    """Hold the archive's write lock for the block (no-op on s3://, where icechunk's own CAS suffices)."""
    if location.startswith("s3://"):
        yield
        return
    path = Path(location) / LOCK_NAME  # inside the repository folder, which exists once the archive does
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise ArchiveError(f"cannot lock archive {location} for writing: {err}") from err
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ArchiveError(
                        f"archive {location} is being written by another writer ({_holder(fd)}); waited "
                        f"{timeout:.0f} s for its lock {path}. Let that run finish, or retry later") from None
                time.sleep(0.05)
        info = json.dumps({"holder": holder, "pid": os.getpid(), "host": socket.gethostname(),
                           "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        os.ftruncate(fd, 0)
        os.pwrite(fd, info.encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        return "unknown holder"
    if not info:
        return "unknown holder"
    return f"{info.get('holder')}, pid {info.get('pid')} on {info.get('host')} since {info.get('since')}"
