"""The shape of what a run stores: one `ResultRow` per cell, the run-status vocabulary
(cell statuses are ebmbench.executor_api.Status: executors produce them),
and `SCHEMA_VERSION`, written into every parquet file and `run.json` so that a
reader can tell which layout it holds.

Version history: 1 — one results.parquet rewritten after every cell (0.1);
2 — per-cell part files compacted at the end, `cell_key`, `cached_from`, `profile`.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ebmbench.executor_api import Status

__all__ = [
    "SCHEMA_VERSION",
    "Status",
    "FAILED_STATUSES",
    "METRIC_ERROR",
    "RunStatus",
    "ResultRow",
    "CORE_COLUMNS",
    "CURVE_COLUMNS",
]

SCHEMA_VERSION = 2


FAILED_STATUSES = ("error", "diverged", "timeout")  # what --fail-on may name
METRIC_ERROR = "metric_error"  # --fail-on's name for "a metric raised" (the cell itself is done)


class RunStatus(str, enum.Enum):
    """A run's state in run.json."""

    RUNNING = "running"
    FINISHED = "finished"
    INTERRUPTED = "interrupted"  # SIGINT/SIGTERM, or found dead later (its pid is gone)
    FAILED = "failed"  # the store could not be written (disk full, permissions)

    def __str__(self) -> str:
        return self.value


@dataclass
class ResultRow:
    """One cell of a run, as stored. Metric values follow as extra columns."""

    run_id: str
    cell_id: str
    cell_key: str
    task: str
    model: str  # label: name plus non-default parameters, e.g. mlp[hidden=64]
    method: str
    label: str  # model/method
    model_params: str  # canonical JSON
    method_params: str
    rep: int
    seed: int
    data_seed: int
    profile: str
    device: str
    status: str
    task_params: str = "{}"  # canonical JSON; `task` then names them too (rings[noise=0.1])
    reason: str | None = None
    traceback: str | None = None
    train_time_s: float | None = None
    eval_time_s: float | None = None
    peak_mem_mb: float | None = None
    grad_evals: int | None = None
    wall_time_s: float | None = None
    cached_from: str | None = None  # the run a reused cell was computed in
    metric_errors: str | None = None  # canonical JSON {metric: "Type: message"}; those metrics are NaN
    metrics: dict[str, float] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        """The flat dict a parquet row holds: core columns, then one column per metric."""
        record = asdict(self)
        record.update(record.pop("metrics"))
        return record


CORE_COLUMNS = tuple(f.name for f in fields(ResultRow) if f.name != "metrics")
CURVE_COLUMNS = (
    "run_id",
    "cell_id",
    "task",
    "model",
    "method",
    "label",
    "rep",
    "seed",
    "step",
    "time_s",
    "name",
    "value",
)
