"""Error classification, retries with backoff, redaction and the circuit breaker."""

from __future__ import annotations

import pytest

from glacierscale.errors import CubeError, RunStoppedError, TransientError
from glacierscale.pipeline.failures import CircuitBreaker, describe, is_transient, redact, with_backoff


def test_transient_and_deterministic_errors() -> None:
    assert is_transient(OSError("HTTP response code: 503"))
    assert is_transient(TimeoutError("read timed out"))
    assert is_transient(RuntimeError("SlowDown: please reduce your request rate (throttled)"))
    assert not is_transient(CubeError("'/data/x/B03.tif' not recognized as a supported file format"))


def test_describe_names_the_file_and_redacts_signatures() -> None:
    err = CubeError("reading https://pc.example/b/x/B04.tif?st=2026&se=2026-12-02&sig=SECRET123 failed: 403")
    reason, file = describe(err)
    assert "SECRET123" not in reason and "sig=REDACTED" in reason
    assert file == "https://pc.example/b/x/B04.tif"
    assert redact("a?X-Amz-Signature=abc&b=1") == "a?X-Amz-Signature=REDACTED&b=1"


def test_backoff_retries_transient_errors_then_gives_up() -> None:
    calls: list[int] = []

    def flaky() -> int:
        calls.append(1)
        if len(calls) < 3:
            raise OSError("503 Service Unavailable")
        return 7

    assert with_backoff(flaky, attempts=3, backoff_s=0.0) == 7 and len(calls) == 3
    calls.clear()
    with pytest.raises(TransientError, match="gave up after 2 attempts"):
        with_backoff(lambda: (_ for _ in ()).throw(OSError("timed out")), attempts=2, backoff_s=0.0)

    def corrupt() -> None:
        calls.append(1)
        raise CubeError("not a TIFF")

    calls.clear()
    with pytest.raises(CubeError):
        with_backoff(corrupt, attempts=5, backoff_s=0.0)
    assert len(calls) == 1  # deterministic: never retried


def test_circuit_breaker_stops_when_most_recent_items_fail() -> None:
    b = CircuitBreaker(window=5, share=0.8)
    for failed in (True, False, True, True, False, True):
        b.record(failed)  # 3 of 5 at most: goes on
    with pytest.raises(RunStoppedError, match="4 of the last 5 items failed"):
        b.record(True, "connection refused")


def test_transient_by_type_and_status_not_by_wording() -> None:
    """HTTP status and service codes carried as attributes decide, whatever the message says."""
    import requests
    from pystac_client.exceptions import APIError

    def api_error(status: int, text: str) -> APIError:
        err = APIError(text)
        err.status_code = status
        return err

    response = requests.Response()
    response.status_code = 503
    assert is_transient(requests.HTTPError("upstream said no", response=response))
    assert is_transient(api_error(429, "please wait"))
    assert not is_transient(api_error(404, "collection not found (not a timeout)"))  # the status wins
    throttled = type("ClientError", (Exception,), {})("An error occurred")
    throttled.response = {"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}  # type: ignore[attr-defined]
    assert is_transient(throttled)
    try:  # a library error raised from a socket timeout
        try:
            raise TimeoutError("read")
        except TimeoutError as inner:
            raise CubeError("reading /x/B03.tif failed") from inner
    except CubeError as wrapped:
        assert is_transient(wrapped)
