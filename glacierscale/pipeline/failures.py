"""Failure handling of a run: transient vs deterministic errors, retries with backoff, the circuit breaker.

- Transient (HTTP 5xx/429, timeouts, throttling, a dead worker or actor): retried with exponential backoff,
  up to ``stream.max_attempts`` per item.
- Deterministic (a corrupt COG, an unusable item): recorded once with its file; the run finishes the rest and
  exits 1 with a summary.
- Systemic (most recent items fail, e.g. a wrong catalog URL): the circuit breaker stops the run.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from glacierscale.errors import RunStoppedError, TransientError
from glacierscale.redact import redact  # re-exported: the run redacts what it records

T = TypeVar("T")

TRANSIENT = re.compile(
    r"\b(429|500|502|503|504)\b|timed? ?out|timeout|temporar|throttl|slow ?down|connection (reset|refused|aborted)"
    r"|too many requests|service unavailable|broken pipe|remote end closed",
    re.IGNORECASE)
FILE = re.compile(r"((?:s3|https?|gs|file)://[^\s'\"]+|/[^\s'\":]+)\.(tif|tiff|TIF|jp2|json|nc|zarr)\b")


def cause_of(err: BaseException) -> BaseException:
    """Return the original exception of a Ray task error (its cause), else the error itself."""
    import ray.exceptions

    if isinstance(err, ray.exceptions.RayTaskError):
        cause = getattr(err, "cause", None)
        if isinstance(cause, BaseException):
            return cause_of(cause)
    return err


def is_transient(err: BaseException) -> bool:
    """Return True for errors that may pass on retry."""
    import ray.exceptions

    err = cause_of(err)
    if isinstance(err, TransientError | TimeoutError | ConnectionError):
        return True
    if isinstance(err, ray.exceptions.RayActorError | ray.exceptions.WorkerCrashedError
                  | ray.exceptions.ObjectLostError | ray.exceptions.NodeDiedError):
        return True
    return bool(TRANSIENT.search(str(err)))


def describe(err: BaseException) -> tuple[str, str]:
    """Return (reason, file) of an error: its cause's one-line message (redacted) and the file it names."""
    cause = cause_of(err)
    text = redact(f"{type(cause).__name__}: {cause}".strip())
    first = text.splitlines()[0] if text else type(cause).__name__
    m = FILE.search(str(cause))
    return first[:400], redact(m.group(0)) if m else ""


def with_backoff(fn: Callable[..., T], *args: Any, attempts: int = 3, backoff_s: float = 1.0, **kwargs: Any) -> T:
    """Call ``fn``; on a transient error sleep ``backoff_s``·2ⁿ and retry, at most ``attempts`` calls in all.

    A transient error that persists is re-raised as :class:`TransientError`; other errors at once.
    """
    for n in range(attempts):
        try:
            return fn(*args, **kwargs)
        except Exception as err:
            if not is_transient(err):
                raise
            if n == attempts - 1:
                raise TransientError(f"gave up after {attempts} attempts: {describe(err)[0]}") from err
            time.sleep(backoff_s * 2**n)
    raise AssertionError("unreachable")


class CircuitBreaker:
    """Stops a run when at least ``share`` of the last ``window`` finished items failed."""

    def __init__(self, window: int, share: float) -> None:
        self.window, self.share = window, share
        self.recent: deque[bool] = deque(maxlen=window)

    def record(self, failed: bool, reason: str = "") -> None:
        self.recent.append(failed)
        if len(self.recent) == self.window and sum(self.recent) >= self.share * self.window:
            raise RunStoppedError(
                f"stopped: {sum(self.recent)} of the last {self.window} items failed (last: {reason}); "
                "finished items are kept; fix the cause (catalog URL? credentials?) and rerun to resume")
