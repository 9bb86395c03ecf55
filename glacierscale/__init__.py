"""glacierscale: map every glacier on Earth, every year, from open multi-sensor satellite data.

Public API (heavy imports are deferred so ``glacierscale --help`` stays fast)::

    import glacierscale
    archive = glacierscale.open_archive("demo-work/archive")
    archive.table()                 # pandas: one row per glacier x year
    archive.glacier("SIM-0001")     # area series of one glacier
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from glacierscale.errors import GlacierscaleError

if TYPE_CHECKING:
    from glacierscale.archive.query import ChangeArchive

__all__ = ["GlacierscaleError", "__version__", "open_archive"]
__version__ = "0.1.0"


def open_archive(path_or_url: str, as_of: str | None = None, **storage: Any) -> ChangeArchive:
    """Open a change archive (local path or ``s3://bucket/prefix``) read-only, optionally at a snapshot."""
    from glacierscale.archive.query import open_archive as _open

    return _open(path_or_url, as_of=as_of, **storage)
