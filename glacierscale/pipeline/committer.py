"""The archive writer's commits in a process of their own, so their memory never lands in the driver.

icechunk keeps native memory per commit in the process that commits (≈ 0.7 MB per checkpoint of 256 items in
``bench pipeline``), and the publish's session and re-estimation peak at tens of MB more. The driver still
calls ``checkpoint`` / ``held`` / ``publish`` / ``discard_staging`` (DESIGN.md's staging interface); this
proxy forwards each call over a pipe to one long-lived child (``python -m glacierscale.pipeline.committer_child``)
that holds the real :class:`glacierscale.archive.run.ArchiveRun`. Workers still stage through a plain
``ArchiveRun`` (the proxy's ``writer``), which never opens the repository in the driver.

The child ignores Ctrl-C: the driver decides when to stop (it lands the commit in progress and the staged
batch, then closes the pipe), and a child whose driver died reads end-of-file, finishes the call in hand and
exits, releasing the archive's lock.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any, BinaryIO

from glacierscale.errors import ArchiveError
from glacierscale.pipeline.failures import picklable

if TYPE_CHECKING:
    from glacierscale.archive.run import ArchiveRun
    from glacierscale.archive.staging import RunPlan, StagedItem, TileRecord


class CommitterProcess:
    """A run's archive commits, done by a child process; the same calls as the driver side of ``RunWriter``."""

    def __init__(self, location: str, run_id: str, plan: RunPlan, *, staging: str) -> None:
        from glacierscale.archive.run import ArchiveRun

        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "glacierscale.pipeline.committer_child", str(to_child_r), str(from_child_w)],
            pass_fds=(to_child_r, from_child_w))
        os.close(to_child_r)
        os.close(from_child_w)
        self._send: BinaryIO = os.fdopen(to_child_w, "wb")
        self._recv: BinaryIO = os.fdopen(from_child_r, "rb")
        self._lock = threading.Lock()
        self.run_id = run_id
        self.writer: ArchiveRun = ArchiveRun(location, run_id, None, staging=staging)  # for the workers' stage()
        try:
            self._call("open", location, run_id, plan, staging)
        except BaseException:
            self.close()
            raise

    def _call(self, name: str, *args: Any) -> Any:
        with self._lock:
            try:
                pickle.dump((name, args), self._send, protocol=pickle.HIGHEST_PROTOCOL)
                self._send.flush()
                ok, value = pickle.load(self._recv)
            except (EOFError, BrokenPipeError, OSError) as err:
                code = self.proc.poll()
                raise ArchiveError(f"the archive committer process of run {self.run_id} ended (exit {code}) "
                                   f"during {name}: {err}") from err
        if not ok:
            raise value
        return value

    def checkpoint(self, items: list[StagedItem]) -> str | None:
        """Commit staged items to the run branch (one commit); the snapshot id, None if nothing new."""
        snap: str | None = self._call("checkpoint", items)
        return snap

    def held(self) -> dict[tuple[str, int], TileRecord]:
        """What the archive already holds for this run's items: ``main`` plus the run branch."""
        held: dict[tuple[str, int], TileRecord] = self._call("held")
        return held

    def publish(self, summary: dict[str, Any]) -> str | None:
        """Move ``main`` to the run branch once; the new snapshot, None if unchanged."""
        snap: str | None = self._call("publish", summary)
        return snap

    def discard_staging(self) -> None:
        """Delete the run's staged products once ``main`` holds the run."""
        self._call("discard_staging")

    def close(self) -> None:
        """Close the pipe (the child finishes the call in hand and exits) and reap the child."""
        for f in (self._send, self._recv):
            with contextlib.suppress(OSError):
                f.close()
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def serve(read_fd: int, write_fd: int) -> int:
    """The child's loop: open the run's writer, then answer calls until the driver closes the pipe."""
    import signal

    from glacierscale.archive.run import open_run

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver stops the run; this process lands what it sends
    recv, send = os.fdopen(read_fd, "rb"), os.fdopen(write_fd, "wb")
    writer: Any = None
    while True:
        try:
            name, args = pickle.load(recv)
        except EOFError:
            return 0
        try:
            if name == "open":
                location, run_id, plan, staging = args
                writer, value = open_run(location, run_id, plan, staging=staging), None
            else:
                value = getattr(writer, name)(*args)
            reply: tuple[bool, Any] = (True, value)
        except Exception as err:  # raised in the driver as if the writer had run there
            reply = (False, picklable(err, ArchiveError))
        try:
            pickle.dump(reply, send, protocol=pickle.HIGHEST_PROTOCOL)
            send.flush()
        except (BrokenPipeError, OSError):
            return 0
