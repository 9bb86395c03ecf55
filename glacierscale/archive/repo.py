"""Open or create the icechunk repository behind a change archive (local path or s3://bucket/prefix)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from glacierscale.archive.lock import LOCK_NAME
from glacierscale.errors import ArchiveError, ArchiveNotFoundError

LAYOUT_VERSION = 2  # root attribute ``glacierscale_layout``; version 1 had ``units/<unit_id>`` and ``areas``
V1_GROUPS = ("units", "areas")


def is_s3(location: str) -> bool:
    return location.startswith("s3://")


def s3_endpoint(**s3: Any) -> str | None:
    """Return the S3-compatible endpoint to use (explicit, else ``AWS_ENDPOINT_URL``), None for AWS itself."""
    endpoint = s3.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL")
    return str(endpoint) if endpoint else None


LOCAL_WARNING = "icechunk::storage::object_store"  # where icechunk warns that local storage is unsafe for concurrent commits
_quiet_depth = 0  # nesting of quiet_local_storage_warning (icechunk's filter is process-wide and has no getter)


@contextlib.contextmanager
def quiet_local_storage_warning() -> Iterator[None]:
    """Keep icechunk's local-storage concurrency warning (printed on stdout) out of a read-only open.

    The warning is about commits; a reader commits nothing. Writers keep it: glacierscale's own writers hold the
    archive lock (lock.py), but the warning is still true of any other process writing the same folder.
    """
    import icechunk

    global _quiet_depth
    if _quiet_depth == 0:
        icechunk.set_logs_filter(os.environ.get("ICECHUNK_LOG") or f"warn,{LOCAL_WARNING}=error")
    _quiet_depth += 1
    try:
        yield
    finally:
        _quiet_depth -= 1
        if _quiet_depth == 0:
            icechunk.set_logs_filter(None)  # back to ICECHUNK_LOG or icechunk's default


def storage_for(location: str, *, read_only: bool = False, **s3: Any) -> Any:
    """Return icechunk storage for a local path or ``s3://bucket/prefix``.

    S3 credentials come from the environment (AWS_ACCESS_KEY_ID, ...); ``AWS_ENDPOINT_URL`` selects an
    S3-compatible endpoint (e.g. a moto server on loopback in tests).
    """
    import icechunk

    if is_s3(location):
        bucket, _, prefix = location[5:].partition("/")
        endpoint = s3_endpoint(**s3)
        return icechunk.s3_storage(
            bucket=bucket, prefix=prefix.rstrip("/") or None, endpoint_url=endpoint,
            allow_http=bool(endpoint and endpoint.startswith("http://")), force_path_style=bool(endpoint),
            region=s3.get("region") or os.environ.get("AWS_DEFAULT_REGION", "us-east-1"), from_env=True,
        )
    if "://" in location:
        raise ArchiveError(f"archive location {location!r}: only local paths and s3:// are supported")
    if read_only:
        with quiet_local_storage_warning():
            return icechunk.local_filesystem_storage(str(Path(location).resolve()))
    return icechunk.local_filesystem_storage(str(Path(location).resolve()))


def repository_config() -> Any:
    """Return the repository configuration new archives are created with.

    Mosaic manifests are split per year and per 32 × 32 tiles, so a commit rewrites the manifests of the
    tiles it touches, not one manifest listing every chunk of the zone (commit time stays flat as the archive
    grows; a one-year update writes only that year's manifests).
    """
    import icechunk as ic

    split = ic.ManifestSplittingConfig.from_dict({
        ic.ManifestSplitCondition.path_matches("/mosaics/.*"): {
            ic.ManifestSplitDimCondition.DimensionName("year"): 1,
            ic.ManifestSplitDimCondition.DimensionName("y"): 32,
            ic.ManifestSplitDimCondition.DimensionName("x"): 32,
        },
    })
    return ic.RepositoryConfig(manifest=ic.ManifestConfig(splitting=split))


def open_repository(location: str, *, create: bool, read_only: bool = False, **s3: Any) -> Any:
    """Return the icechunk Repository at ``location``; create it if asked and absent.

    Raises ArchiveNotFoundError when there is no archive (and ``create`` is false), ArchiveError when the
    location cannot be reached or holds something else.
    """
    import icechunk

    if not is_s3(location) and Path(location).exists() and not Path(location).is_dir():
        # checked first: icechunk panics on a file (a Rust backtrace on stderr, then a BaseException)
        raise ArchiveError(f"archive {location} is a file, not a change archive folder")
    storage = storage_for(location, read_only=read_only and not create, **s3)
    try:
        if icechunk.Repository.exists(storage):
            return icechunk.Repository.open(storage)
    except Exception as err:
        raise ArchiveError(f"cannot reach archive {location}: {err}") from err
    except BaseException as err:  # pyo3_runtime.PanicException derives from BaseException
        if type(err).__name__ != "PanicException":
            raise
        raise ArchiveError(f"cannot open archive {location}: {str(err).split(', context:')[0]}") from None
    if not create:
        raise ArchiveNotFoundError(f"no change archive at {location}")
    if not is_s3(location):
        p = Path(location)
        if p.exists() and any(q.name != LOCK_NAME for q in p.iterdir()):
            raise ArchiveError(f"{location} exists and is not an empty folder nor a change archive; "
                               "refusing to write into it")
    try:
        repo = icechunk.Repository.create(storage, config=repository_config())
        repo.save_config()
    except Exception as err:
        raise ArchiveError(f"cannot create archive {location}: {err}") from err
    return repo


def check_layout(root: Any, location: str) -> None:
    """Refuse a version-1 archive (per-unit groups) with a message saying what to do."""
    names = set(root.group_keys())
    if names & set(V1_GROUPS) and "mosaics" not in names:
        raise ArchiveError(
            f"{location} is a version-1 change archive (per-unit groups 'units/' and 'areas'); this glacierscale "
            "reads and writes layout version 2 (zone mosaics, glaciers, tiles, runs). Re-run into a new archive "
            "(glacierscale run CONFIG --archive NEW); glacierscale at commit 4ac743f (before the layout change) "
            "still reads version-1 archives")
    version = root.attrs.get("glacierscale_layout")
    if version is not None and int(str(version)) > LAYOUT_VERSION:
        raise ArchiveError(f"{location} has archive layout {version}; this glacierscale reads up to {LAYOUT_VERSION}")
