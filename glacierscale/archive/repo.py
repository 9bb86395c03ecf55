"""Open or create the icechunk repository behind a change archive (local path or s3://bucket/prefix)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from glacierscale.errors import ArchiveError


def storage_for(location: str, **s3: Any) -> Any:
    """Return icechunk storage for a local path or ``s3://bucket/prefix``.

    S3 credentials come from the environment (AWS_ACCESS_KEY_ID, ...); ``AWS_ENDPOINT_URL`` selects an
    S3-compatible endpoint (e.g. a moto server on loopback in tests).
    """
    import icechunk

    if location.startswith("s3://"):
        bucket, _, prefix = location[5:].partition("/")
        endpoint = s3.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL")
        return icechunk.s3_storage(
            bucket=bucket, prefix=prefix or None, endpoint_url=endpoint,
            allow_http=bool(endpoint and endpoint.startswith("http://")), force_path_style=bool(endpoint),
            region=s3.get("region") or os.environ.get("AWS_DEFAULT_REGION", "us-east-1"), from_env=True,
        )
    if "://" in location:
        raise ArchiveError(f"archive location {location!r}: only local paths and s3:// are supported")
    return icechunk.local_filesystem_storage(str(Path(location).resolve()))


def open_repository(location: str, *, create: bool, **s3: Any) -> Any:
    """Return the icechunk Repository at ``location``; create it if asked and absent."""
    import icechunk

    # icechunk warns on every local commit that local storage is not for concurrent writers; a run
    # commits once, from the driver, so keep its log to errors (ICECHUNK_LOG overrides)
    icechunk.set_logs_filter(os.environ.get("ICECHUNK_LOG", "error"))
    storage = storage_for(location, **s3)
    try:
        if icechunk.Repository.exists(storage):
            return icechunk.Repository.open(storage)
    except Exception as err:
        raise ArchiveError(f"cannot reach archive {location}: {err}") from err
    if not create:
        raise ArchiveError(f"no change archive at {location}")
    if not location.startswith("s3://"):
        p = Path(location)
        if p.exists() and any(p.iterdir()):
            raise ArchiveError(f"{location} exists and is not an empty folder nor a change archive; "
                               "refusing to write into it")
    return icechunk.Repository.create(storage)
