"""The results layer: what a run stores (schema), how it is written (store) and read
back (runs). It sits above execution and below presentation (show, report, cli)."""

from ebmbench.results.runs import (
    CorruptRun,
    find_run,
    index_done_cells,
    list_runs,
    load_artifacts,
    load_curves,
    load_meta,
    load_results,
)
from ebmbench.results.schema import SCHEMA_VERSION, ResultRow, RunStatus, Status
from ebmbench.results.store import RunStore, StoreError, new_run_id

__all__ = [
    "CorruptRun",
    "find_run",
    "index_done_cells",
    "list_runs",
    "load_artifacts",
    "load_curves",
    "load_meta",
    "load_results",
    "SCHEMA_VERSION",
    "ResultRow",
    "RunStatus",
    "Status",
    "RunStore",
    "StoreError",
    "new_run_id",
]
