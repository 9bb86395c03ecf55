"""Archive stage: the icechunk change archive (one atomic commit per run) and its query API."""

from glacierscale.archive.query import ChangeArchive, open_archive
from glacierscale.archive.write import areas_dataset, commit_run, unit_dataset

__all__ = ["ChangeArchive", "areas_dataset", "commit_run", "open_archive", "unit_dataset"]
