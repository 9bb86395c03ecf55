"""One driver progress display: items done / gaps / failed / total, mapped pixels per second, ETA."""

from __future__ import annotations

import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from glacierscale.pipeline.driver import StreamingDriver


class RunProgress:
    """A rich progress bar over a run's items (a no-op when disabled)."""

    def __init__(self, total: int, *, console: Console | None = None, enabled: bool = True,
                 already_failed: int = 0) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.total, self.already_failed, self.t0 = total, already_failed, time.perf_counter()
        self.bar = Progress(TextColumn("items"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                            TextColumn("ETA"), TimeRemainingColumn(), console=console, disable=not enabled)
        self.task = self.bar.add_task("items", total=total, info="")

    def __enter__(self) -> RunProgress:
        self.bar.__enter__()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.bar.__exit__(et, ev, tb)

    def update(self, driver: StreamingDriver | Any) -> None:
        c = driver.counts
        finished = c["done"] + c["gap"] + c["failed"] + c["skipped"] + self.already_failed
        staged = driver.uncommitted
        rate = driver.pixels / max(1e-9, time.perf_counter() - self.t0)
        info = (f"done {c['done'] + staged} · gap {c['gap']} · failed {c['failed'] + self.already_failed} · "
                f"already archived {c['skipped']} · {rate:,.0f} px/s")
        self.bar.update(self.task, completed=finished + staged, info=info)
