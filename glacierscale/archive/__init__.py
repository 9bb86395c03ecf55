"""Archive stage: the icechunk change archive (zone mosaics, glacier and tile records, runs) and its query API."""

from glacierscale.archive.query import ChangeArchive, open_archive
from glacierscale.archive.run import ArchiveRun, open_run, read_tiles

__all__ = ["ArchiveRun", "ChangeArchive", "open_archive", "open_run", "read_tiles"]
