"""``python -m glacierscale.pipeline.plan_child JOB OUT``: the child process of ``context.prepare_plan``.

A module of its own so that what it pickles (``context.PreparedPlan``) is named by its real module, never
``__main__``.
"""

import sys

from glacierscale.pipeline.context import plan_child

if __name__ == "__main__":
    sys.exit(plan_child(sys.argv[1], sys.argv[2]))
