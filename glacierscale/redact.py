"""Remove credentials from text before it is shown, logged or stored: URL signatures, tokens, passwords.

Signed URLs (Planetary Computer SAS tokens, S3/GCS pre-signed URLs) are credentials for as long as they are
valid. Every error message, log line, ledger row and run record goes through :func:`redact` (errors raised by
the catalog and cube stages are redacted where they are made; the run redacts what it records again).
"""

from __future__ import annotations

import logging
import re

# query parameters that carry a credential or belong to a signature: Azure SAS (sig, se, st, sp, sv, sr, spr,
# srt, ss, skoid, sktid, skt, ske, sks, skv, sdd), AWS/GCS pre-signed URLs (SigV2's AWSAccessKeyId names the key),
# CloudFront, and generic names
_PARAMS = (r"sig|se|st|sp|sv|sr|spr|srt|ss|sdd|skoid|sktid|skt|ske|sks|skv|X-Amz-[A-Za-z-]+|X-Goog-[A-Za-z-]+"
           r"|Signature|AWSAccessKeyId|Policy|Key-Pair-Id|Expires|token|access_token|id_token|refresh_token|api_key|apikey|key"
           r"|password|passwd|secret|client_secret|code|credential|auth")
SIGNED = re.compile(rf"([?&;](?:{_PARAMS})=)[^&\s'\"#<>]+", re.IGNORECASE)
USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/\s@'\"]+:[^/\s@'\"]+@", re.IGNORECASE)  # scheme://user:pass@
BEARER = re.compile(r"(\bBearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
MARK = "REDACTED"


def redact(text: str) -> str:
    """Return ``text`` with URL signatures, tokens and passwords replaced by ``REDACTED``.

    >>> redact("https://a.blob.core.windows.net/c/B04.tif?st=2026&se=2026-12-02&sp=rl&sig=abc%3D failed")
    'https://a.blob.core.windows.net/c/B04.tif?st=REDACTED&se=REDACTED&sp=REDACTED&sig=REDACTED failed'
    """
    text = SIGNED.sub(rf"\1{MARK}", text)
    text = USERINFO.sub(rf"\1{MARK}@", text)
    return BEARER.sub(rf"\1{MARK}", text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts every record's message (its arguments included) before it is emitted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def redact_logs() -> None:
    """Attach :class:`RedactingFilter` once to the root logger's handlers and to Python's last-resort handler
    (what prints a library's warnings where logging is not configured, as in a Ray worker): GDAL errors that
    rasterio logs name the URLs they opened. A handler filter sees the records of every logger below it."""
    targets: list[logging.Filterer] = list(logging.getLogger().handlers)
    if logging.lastResort is not None:
        targets.append(logging.lastResort)
    for target in targets:
        if not any(isinstance(f, RedactingFilter) for f in target.filters):
            target.addFilter(RedactingFilter())
