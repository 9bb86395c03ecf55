"""One exception hierarchy for glacierscale.

Every error a user can cause derives from :class:`GlacierscaleError`; the specific classes also inherit the
builtin they resemble (as rasterio does), so callers can catch narrowly (``except ConfigError``) or
broadly (``except ValueError``). The CLI prints ``str(err)`` of any ``GlacierscaleError`` without a
traceback and exits with status 2.
"""

from __future__ import annotations


class GlacierscaleError(Exception):
    """Root of every error glacierscale raises on purpose."""


class ConfigError(GlacierscaleError, ValueError):
    """A configuration file or flag is malformed; the message names the field and the file."""


class InputError(GlacierscaleError, ValueError):
    """An input file (DEM, outlines, inventory, STAC item) is unusable; the message names the file."""


class CatalogError(GlacierscaleError, OSError):
    """A STAC catalog cannot be reached, served or read."""


class EmptySearchError(CatalogError, LookupError):
    """A STAC search returned no usable scene for a work unit and time window."""


class CubeError(GlacierscaleError, OSError):
    """A cube cannot be assembled or written."""


class CheckpointError(GlacierscaleError, FileNotFoundError):
    """A model checkpoint is missing, corrupt or does not match the cube."""


class CheckpointMismatchError(CheckpointError, ValueError):
    """A sound checkpoint that does not fit the run: bands the cube lacks, or another grid resolution."""


class TransientError(GlacierscaleError, OSError):
    """A failure that may pass on retry (HTTP 5xx/429, timeouts, throttling); the run retries it with backoff."""


class RunStoppedError(GlacierscaleError, RuntimeError):
    """The run stopped itself: most recent items failed (circuit breaker); finished items are kept."""


class ArchiveError(GlacierscaleError, OSError):
    """The change archive cannot be opened, written or queried."""


class ArchiveNotFoundError(ArchiveError, FileNotFoundError):
    """No change archive exists at the location (as opposed to one that cannot be reached)."""


class ArchiveConflictError(ArchiveError):
    """Another run landed results for the same items first; the message names that run and how to retry."""
