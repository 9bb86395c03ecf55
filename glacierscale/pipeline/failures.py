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


RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
RETRY_CODES = frozenset({"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeTooSkewed",
                         "InternalError", "ServiceUnavailable", "TooManyRequestsException"})


def _status_of(err: BaseException) -> int | str | None:
    """Return the HTTP status or service error code an exception carries, by attribute (None when it has none).

    Covers requests / pystac-client (``status_code``, ``response.status_code``), aiohttp (``status``), urllib
    (``code``) and botocore (``response["Error"]["Code"]`` and ``ResponseMetadata.HTTPStatusCode``).
    """
    response = getattr(err, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        code = (response.get("Error") or {}).get("Code")
        if code:
            return str(code)
        return (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    for owner, name in ((err, "status_code"), (response, "status_code"), (err, "status"), (err, "code")):
        value = getattr(owner, name, None) if owner is not None else None
        if isinstance(value, int) and 100 <= value < 600:
            return value
    return None


def _chain(err: BaseException) -> list[BaseException]:
    """Return ``err`` and the exceptions it was raised from (a library's error wrapping a socket timeout)."""
    out: list[BaseException] = []
    cur: BaseException | None = err
    while cur is not None and cur not in out and len(out) < 8:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def is_transient(err: BaseException) -> bool:
    """Return True for errors that may pass on retry.

    By type first: timeouts, refused or reset connections, Ray's lost workers, actors and objects, and HTTP
    408/425/429/5xx or throttling codes carried as attributes, anywhere in the exception's chain. The message is
    read only as a fallback, for libraries that give text alone (GDAL's curl errors: "HTTP response code: 503").
    """
    import ray.exceptions

    lost = (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError, ray.exceptions.ObjectLostError,
            ray.exceptions.NodeDiedError)
    chain = _chain(cause_of(err))
    for e in chain:
        if isinstance(e, (TransientError, TimeoutError, ConnectionError, *lost)):
            return True
        status = _status_of(e)
        if status is not None:
            return status in RETRY_STATUS or status in RETRY_CODES
    return any(TRANSIENT.search(str(e)) for e in chain)


def describe(err: BaseException) -> tuple[str, str]:
    """Return (reason, file) of an error: its cause's one-line message (redacted) and the file it names."""
    cause = cause_of(err)
    text = redact(f"{type(cause).__name__}: {cause}".strip())
    first = text.splitlines()[0] if text else type(cause).__name__
    m = FILE.search(str(cause))
    return first[:400], redact(m.group(0)) if m else ""


def picklable(err: Exception, fallback: type[Exception] = RuntimeError) -> Exception:
    """Return ``err`` if it survives a pickle round trip (a child process hands it to the driver as it is), else
    a ``fallback`` carrying its type and message."""
    import pickle

    try:
        pickle.loads(pickle.dumps(err))
        return err
    except Exception:
        return fallback(f"{type(err).__name__}: {err}")


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
