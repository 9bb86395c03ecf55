"""Credentials never shown: signed URL parameters, passwords in URLs, bearer tokens, and log lines."""

from __future__ import annotations

import logging

import pytest

from glacierscale.redact import redact, redact_logs


def test_signatures_and_credentials_are_replaced_and_the_rest_kept() -> None:
    sas = "https://a.blob.core.windows.net/c/B04.tif?st=2026-12-05&se=2026-12-06&sp=rl&sv=2024&sr=c&sig=ab%2Fc%3D"
    assert redact(f"reading {sas} failed") == (
        "reading https://a.blob.core.windows.net/c/B04.tif?st=REDACTED&se=REDACTED&sp=REDACTED&sv=REDACTED"
        "&sr=REDACTED&sig=REDACTED failed")
    assert redact("s3://b/k.tif?X-Amz-Credential=AKIA/x&X-Amz-Signature=f00&versionId=3") == \
        "s3://b/k.tif?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&versionId=3"
    assert redact("https://user:hunter2@stac.example.com/search?token=abc&limit=10") == \
        "https://REDACTED@stac.example.com/search?token=REDACTED&limit=10"
    assert redact("Authorization: Bearer eyJhbGciOi.x.y") == "Authorization: Bearer REDACTED"
    assert redact("/data/x/B03.tif not recognized as a supported file format") == \
        "/data/x/B03.tif not recognized as a supported file format"


def test_log_lines_are_redacted_with_and_without_logging_configured(capsys: pytest.CaptureFixture[str]) -> None:
    import io

    root = logging.getLogger()
    before = list(root.handlers)
    for h in before:  # as in a Ray worker: no handler, Python's last resort prints warnings to stderr
        root.removeHandler(h)
    stream = io.StringIO()
    try:
        redact_logs()
        logging.getLogger("glacierscale.any").warning("opening %s", "https://a/b.tif?sig=FIRSTSECRET")
        configured = logging.StreamHandler(stream)  # as a user's logging.basicConfig gives
        root.addHandler(configured)
        redact_logs()
        logging.getLogger("rasterio._env").warning("CPLE_HttpResponse: 403 for %s", "https://a/b.tif?sig=NEXTSECRET")
        root.removeHandler(configured)
    finally:
        for h in before:
            root.addHandler(h)
    err, logged = capsys.readouterr().err, stream.getvalue()
    assert "FIRSTSECRET" not in err and "https://a/b.tif?sig=REDACTED" in err
    assert "NEXTSECRET" not in logged and "403 for https://a/b.tif?sig=REDACTED" in logged
