"""``python -m glacierscale.pipeline.committer_child READ_FD WRITE_FD``: the child of ``committer.CommitterProcess``.

A module of its own, so that ``committer`` is imported once under its real name, never run as ``__main__``.
"""

import sys

from glacierscale.pipeline.committer import serve

if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1]), int(sys.argv[2])))
