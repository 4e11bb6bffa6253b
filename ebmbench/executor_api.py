"""The executor contract: how a cell travels to wherever it runs and back.

An executor is registered like any other entry (hook `ebmbench_register_executors`)
and receives `CellSpec`s; it returns a `concurrent.futures.Future` per cell whose
result is a `CellResult`. The runner only schedules and stores; everything that
depends on *where* a cell runs — processes, timeouts, memory limits, retries after a
lost worker — belongs to the executor. Built-in executors: `serial` (in the main
process, for debugging), `process` (isolated worker processes, the default) and
`dask` (a Dask cluster, local or remote).

Specs and results cross process and machine boundaries as plain JSON-able data
(`to_json` / `from_json`): no pickle of plugin objects, so any executor can ship them.
"""

from __future__ import annotations

import enum
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, ClassVar

from ebmbench.contracts import Component

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ebmbench.registry import Registry

__all__ = ["Status", "CellSpec", "CellResult", "Executor", "ExecutorSettings"]


class Status(str, enum.Enum):
    """How a cell ended. `str` values, so rows and JSON hold plain strings."""

    DONE = "done"
    SKIPPED = "skipped"  # incompatible (task, model, method): recorded once with the reason
    ERROR = "error"  # plugin exception, lost worker, out of memory
    DIVERGED = "diverged"  # non-finite loss, energies or parameters
    TIMEOUT = "timeout"  # killed at --timeout

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class CellSpec:
    """Everything a worker needs to run one cell; `cell_key` decides its numbers."""

    cell_id: str  # short form of cell_key: names the cell's artifacts
    task: str
    model: str
    model_params: dict[str, Any]
    method: str
    method_params: dict[str, Any]
    rep: int
    seed: int  # training seed: hash of (base seed, task, model, method, params, rep)
    data_seed: int  # hash of (base seed, task, rep): every method sees the same data
    profile: str
    device: str = "cpu"
    task_params: dict[str, Any] = field(default_factory=dict)  # validated, as -t "task[k=v]" gave them
    metrics: tuple[str, ...] = ()  # empty = every applicable metric
    curve_metrics: tuple[str, ...] = ()  # probed on the val split during training
    cell_key: str = ""  # hash of code, versions, parameters, seeds, profile, device

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "CellSpec":
        data = {
            **data,
            "metrics": tuple(data.get("metrics", ())),
            "curve_metrics": tuple(data.get("curve_metrics", ())),
        }
        return cls(**data)


@dataclass
class CellResult:
    """What a cell produced: status, metrics, cost, training curve and report arrays."""

    status: str
    reason: str | None = None
    traceback: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    train_time_s: float | None = None
    eval_time_s: float | None = None
    peak_mem_mb: float | None = None
    grad_evals: int | None = None
    wall_time_s: float | None = None  # the cell's whole time where it ran (start-up excluded)
    curve: list[dict[str, Any]] = field(default_factory=list)
    artifacts: dict[str, Any] = field(default_factory=dict)  # arrays for the report's figures
    # metrics that raised, {name: "Type: message"}: their value is NaN, the cell stays `done`
    metric_errors: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "CellResult":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class ExecutorSettings:
    """What the runner asks of an executor; an executor ignores what it cannot honour
    and says so in its docstring (e.g. `serial` cannot survive a segfault)."""

    jobs: int = 1  # cells side by side
    threads: int = 1  # torch threads per cell: results are reproducible for a fixed value
    timeout: float | None = None  # seconds per cell, then status `timeout`
    max_memory_gb: float | None = None  # per cell, then status `error` "out of memory"
    startup_timeout: float = 120.0  # a worker must be ready within this, or its cell errs
    load_config: dict[str, Any] = field(default_factory=dict)  # ebmbench.registry.LoadConfig fields
    log_path: str | None = None  # where workers' stdout/stderr go
    scheduler: str | None = None  # executor-specific address (Dask: tcp://host:port)
    pdb: bool = False  # serial: post-mortem debugger on a failing cell
    registry: "Registry | None" = None  # the main process's registry (in-process executors)


class Executor(Component):
    """Runs cells. Lifecycle: `start(settings)`, any number of `submit`, `shutdown`.

    `submit` must not block on the cell: it returns a Future that the executor
    completes with a `CellResult` — also for failures of the cell's own process
    (status `error`/`timeout` with a one-line reason), never with an exception the
    runner would have to interpret. `shutdown(cancel=True)` stops every running cell
    and whatever processes it started, at once (an interrupted run).
    """

    in_process: ClassVar[bool] = False  # True: cells run in the main process (no isolation)

    def start(self, settings: ExecutorSettings) -> None:
        raise NotImplementedError

    def submit(self, spec: CellSpec) -> "Future[CellResult]":
        raise NotImplementedError

    def shutdown(self, cancel: bool = False) -> None:
        raise NotImplementedError
