"""The run: (unit, year) items streamed select → cube → infer → reduce → stage on Ray, published once.

``run_pipeline`` / ``update_pipeline`` (``run.py``) plan and decide, ``StreamingDriver`` (``driver.py``) keeps at
most K items in flight, ``stages.py`` holds the pluggable stage functions, ``ledger.py`` the Parquet ledger and
``failures.py`` retries, error descriptions and the circuit breaker. docs/pipeline.md has the design.
"""

from glacierscale.pipeline.context import catalog_endpoint, check_checkpoint, plan_run, ray_session
from glacierscale.pipeline.run import RunResult, run_pipeline, update_pipeline

__all__ = ["RunResult", "catalog_endpoint", "check_checkpoint", "plan_run", "ray_session", "run_pipeline",
           "update_pipeline"]
