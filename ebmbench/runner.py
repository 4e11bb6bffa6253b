"""Run a planned grid: reuse what is stored, hand the rest to an executor, store each
cell as it finishes, and end the run cleanly whatever happens.

The runner only schedules and stores; where and how a cell runs is the executor's
business (ebmbench.executor_api). Order of work:

1. a cell already in the run being resumed is kept; a `done` cell whose key is
   stored under `--out` by an earlier run is copied from it (row, curve, arrays, and
   `cached_from` naming that run) unless `--force`;
2. the other cells go to the executor; each result is written at once (O(1) part
   files), so nothing finished is lost;
3. SIGINT and SIGTERM stop the executor (and every process it started), mark the run
   `interrupted` and exit 130 / 143; a failed write marks it `failed` with the reason.
"""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from ebmbench._version import __version__
from ebmbench.errors import strip_control
from ebmbench.execution.plan import PlannedCell, RunConfig
from ebmbench.executor_api import CellResult, ExecutorSettings
from ebmbench.params import canonical
from ebmbench.profiles import get_profile
from ebmbench.registry import Registry
from ebmbench.results.runs import (
    index_done_cells,
    list_runs,
    past_wall_times,
    load_meta,
    process_identity,
    read_curves,
    read_results,
)
from ebmbench.results.schema import SCHEMA_VERSION, ResultRow, RunStatus
from ebmbench.results.store import RunStore, StoreError, new_run_id, write_json

__all__ = [
    "RunInterrupted",
    "RunOutcome",
    "execute",
    "expected_wall_times",
    "longest_first",
    "mark_dead_runs",
    "run_meta",
]


class RunInterrupted(BaseException):
    """SIGTERM (or SIGINT) arrived: stop everything, keep what finished."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + signum


@dataclass
class RunOutcome:
    store: RunStore
    statuses: list[str] = field(default_factory=list)
    metric_errors: int = 0  # cells (done or not) in which a metric raised
    n_cached: int = 0  # copied from earlier runs
    n_kept: int = 0  # already in the resumed run
    n_run: int = 0  # computed now
    status: RunStatus = RunStatus.RUNNING


def _git_commit(path: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _git_dirty(path: Path) -> bool | None:
    """Uncommitted changes in the checkout at `path` (None outside git): a commit hash
    alone would hide that a run measured edited code."""
    try:
        out = subprocess.run(
            ["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        return bool(out.stdout.strip()) if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def run_meta(registry: Registry, cfg: RunConfig, run_id: str, n_cells: int, cells=()) -> dict[str, Any]:
    import importlib.metadata

    try:
        torch_version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch_version = None
    task_names = {n: n for n in registry.names("tasks")} | {c.task_label: c.spec.task for c in cells}
    return {
        "run_id": run_id,
        "schema_version": SCHEMA_VERSION,
        "ebmbench_version": __version__,
        "status": str(RunStatus.RUNNING),
        "started": datetime.now(timezone.utc).isoformat(),
        "ended": None,
        **process_identity(),  # lets a later command tell a killed run from a running one
        "command": cfg.argv,
        "grid": cfg.grid_json(),  # what --resume re-plans
        "profile": get_profile(cfg.profile).to_json(),
        "seeds": cfg.seeds,
        "base_seed": cfg.base_seed,
        "timeout_s": cfg.timeout,
        "max_memory_gb": cfg.max_memory_gb,
        "device": cfg.device,
        "executor": cfg.executor,
        "n_cells": n_cells,
        # which named selection this is: compare and history group runs by it
        "suite": {**registry.get("suites", cfg.suite).cls.to_json(), "status_only": list(cfg.status_only)}
        if cfg.suite
        else None,
        "git_commit": _git_commit(Path.cwd()),
        "ebmbench_git_commit": _git_commit(Path(__file__).resolve().parent),
        "ebmbench_git_dirty": _git_dirty(Path(__file__).resolve().parent),
        "python": sys.version.split()[0],
        "torch": torch_version,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "jobs": cfg.jobs,
        "torch_threads": cfg.threads,
        "metric_directions": {n: registry.get("metrics", n).cls.direction for n in registry.names("metrics")},
        # by the task names results use: a task run with parameters (rings[noise=0.1]) as well
        "main_metrics": {n: registry.get("tasks", t).cls.main_metric for n, t in task_names.items()},
        "headline_metrics": {n: list(registry.get("tasks", t).cls.headline_metrics) for n, t in task_names.items()},
        "metric_tolerances": {
            n: list(tol) for n in registry.names("metrics") if (tol := registry.get("metrics", n).cls.tolerance)
        },
        **registry.provenance(),
    }


def mark_dead_runs(root: Path, warn: Callable[[str], None]) -> None:
    """Record as `interrupted` every run whose process died without saying so (SIGKILL)."""
    for run_dir in list_runs(root):
        meta = load_meta(run_dir)
        if meta.get("stale"):
            raw = {**meta, "status": str(RunStatus.INTERRUPTED), "interrupted_because": meta.pop("stale")}
            try:
                write_json(run_dir / "run.json", raw)
            except StoreError:
                pass  # reported as interrupted all the same; nothing to lose
            warn(
                f"run {run_dir.name} was interrupted ({raw['interrupted_because']}); "
                f"`ebmbench run --resume {run_dir.name}` continues it"
            )


def _record(run_id: str, cell: PlannedCell, result: CellResult) -> dict[str, Any]:
    s = cell.spec
    return ResultRow(
        run_id=run_id,
        cell_id=s.cell_id,
        cell_key=s.cell_key,
        task=cell.task_label,
        task_params=canonical(s.task_params),
        model=cell.model_label,
        method=cell.method_label,
        label=cell.label,
        model_params=canonical(s.model_params),
        method_params=canonical(s.method_params),
        rep=s.rep,
        seed=s.seed,
        data_seed=s.data_seed,
        profile=s.profile,
        device=s.device,
        status=str(result.status),
        # the last gate before the store, whatever executor (or plugin compatible()) wrote them
        reason=strip_control(result.reason),
        traceback=strip_control(result.traceback),
        train_time_s=result.train_time_s,
        eval_time_s=result.eval_time_s,
        peak_mem_mb=result.peak_mem_mb,
        grad_evals=result.grad_evals,
        wall_time_s=result.wall_time_s,
        metric_errors=canonical(result.metric_errors) if result.metric_errors else None,
        metrics=dict(result.metrics or {}),
    ).to_record()


def _copy_cached(store: RunStore, cells: list[PlannedCell], sources: dict[str, Path], on_row) -> int:
    """Copy the rows, curves and arrays of reused cells from the runs that computed them."""
    by_run: dict[Path, list[PlannedCell]] = {}
    for cell in cells:
        if cell.spec.cell_key in sources:
            by_run.setdefault(sources[cell.spec.cell_key], []).append(cell)
    import pandas as pd

    for run_dir, group in by_run.items():
        rows = read_results(run_dir).drop_duplicates("cell_key", keep="last").set_index("cell_key")
        records = []
        for cell in group:
            src = rows.loc[cell.spec.cell_key].to_dict()
            origin = src.get("cached_from")
            record = {
                **src,
                "cell_key": cell.spec.cell_key,
                "run_id": store.run_id,
                "cached_from": src["run_id"] if origin is None or pd.isna(origin) else origin,
            }
            # labels are display names: take this run's, the key guarantees the same cell
            record.update(model=cell.model_label, method=cell.method_label, label=cell.label)
            store.copy_artifacts(run_dir, record["cell_id"])
            records.append(record)
        curves = read_curves(run_dir)
        curves = curves[curves["cell_id"].isin({r["cell_id"] for r in records})].assign(run_id=store.run_id)
        store.add_batch(records, curves)  # one write for the lot: a cached rerun costs seconds
        for record in records:
            on_row(record)
    return sum(len(g) for g in by_run.values())


def execute(
    registry: Registry,
    cfg: RunConfig,
    cells: list[PlannedCell],
    *,
    resume: Path | None = None,
    on_start: Callable[[RunStore, int, int, dict[str, float | None]], None] | None = None,
    on_cell: Callable[[dict[str, Any]], None] | None = None,
    warn: Callable[[str], None] = lambda msg: print(msg, file=sys.stderr),
) -> RunOutcome:
    """Run `cells`; `on_start(store, n_to_compute, n_reused, expected)` (expected: cell_id ->
    expected wall seconds from earlier runs, None where unknown) and `on_cell(row)` feed
    the progress display.

    Exactly n_to_compute + n_reused rows then arrive through `on_cell` (the reused ones first,
    with `cached_from` set); skipped pairs and the cells a resumed run already has never do,
    so a display can count and time the cells that run.

    Raises RunInterrupted (signals), KeyboardInterrupt, or StoreError (a failed write)
    after recording the run's end; every finished cell is stored by then."""
    if resume is not None:
        meta = {**load_meta(resume), **process_identity(), "status": str(RunStatus.RUNNING), "ended": None}
        meta.pop("stale", None)
        meta.setdefault("resumed", []).append(datetime.now(timezone.utc).isoformat())
        store = RunStore.reopen(resume, meta)
        present = read_results(resume, columns=["cell_key"])
        kept = set(present["cell_key"]) if "cell_key" in present else set()
    else:
        run_id = new_run_id()
        store = RunStore.create(cfg.out, run_id, run_meta(registry, cfg, run_id, len(cells), cells))
        kept = set()
    outcome = RunOutcome(store, n_kept=sum(c.spec.cell_key in kept for c in cells))
    todo = [c for c in cells if c.spec.cell_key not in kept]

    def stored(row: dict[str, Any]) -> None:
        outcome.statuses.append(row["status"])
        outcome.metric_errors += isinstance(row.get("metric_errors"), str)  # NaN/None: none
        if on_cell:
            on_cell(row)

    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM,)}
    executor = None
    try:
        if threading_is_main():  # SIGTERM (timeout, CI cancel, docker stop, Slurm) as an interrupt
            signal.signal(signal.SIGTERM, _raise_interrupted)
        store.add_skipped(
            [_record(store.run_id, c, CellResult("skipped", c.skip_reason)) for c in todo if c.skip_reason]
        )
        runnable = [c for c in todo if not c.skip_reason]
        sources = (
            {} if cfg.force else index_done_cells(cfg.out, {c.spec.cell_key for c in runnable}, warn, exclude=store.dir)
        )
        pending = [c for c in runnable if c.spec.cell_key not in sources]
        expected = expected_wall_times(pending, cfg.out, store.dir)
        to_compute = longest_first(pending, cfg.out, store.dir, parallel=cfg.jobs > 1, expected=expected)
        if on_start:
            on_start(
                store,
                len(to_compute),
                len(runnable) - len(to_compute),
                {c.spec.cell_id: expected.get(c.spec.cell_id) for c in to_compute},
            )
        outcome.n_cached = _copy_cached(store, runnable, sources, stored)
        if to_compute:
            executor = registry.make("executors", cfg.executor)
            executor.start(
                ExecutorSettings(
                    jobs=cfg.jobs,
                    threads=cfg.threads,
                    timeout=cfg.timeout,
                    max_memory_gb=cfg.max_memory_gb,
                    startup_timeout=cfg.startup_timeout,
                    load_config=asdict(registry.config),
                    log_path=str(store.dir / "worker.log"),
                    scheduler=cfg.scheduler,
                    pdb=cfg.pdb,
                    registry=registry,
                )
            )
            pending: dict[Future, PlannedCell] = {}
            queue = list(reversed(to_compute))
            while queue or pending:
                # an in-process executor runs the cell inside submit(): one at a time, so
                # each result is stored (and shown) before the next cell starts
                while queue and not (executor.in_process and pending):
                    cell = queue.pop()
                    pending[executor.submit(cell.spec)] = cell
                # a bounded wait keeps the main thread responsive to signals
                done, _ = wait(list(pending), timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    cell = pending.pop(future)
                    if future.cancelled():
                        continue
                    row = _record(store.run_id, cell, future.result())
                    store.add(row, future.result().curve, future.result().artifacts)
                    outcome.n_run += 1
                    stored(row)
        outcome.status = RunStatus.FINISHED
    except StoreError as exc:
        outcome.status = RunStatus.FAILED
        _finish(store, executor, outcome.status, str(exc))
        raise
    except (KeyboardInterrupt, RunInterrupted):
        outcome.status = RunStatus.INTERRUPTED
        _finish(store, executor, outcome.status)
        raise
    finally:
        for s, handler in previous.items():
            if threading_is_main():
                signal.signal(s, handler)
    _finish(store, executor, outcome.status)
    return outcome


def expected_wall_times(cells: list[PlannedCell], root: Path, exclude: Path) -> dict[str, float]:
    """cell_id -> expected wall seconds: the median of the same (task, model/method,
    profile) in earlier runs under `root`; cells never seen are absent."""
    if not cells:
        return {}
    signature = {c.spec.cell_id: (c.task_label, c.label, c.spec.profile) for c in cells}
    past = past_wall_times(root, set(signature.values()), exclude=exclude)
    return {cid: past[sig] for cid, sig in signature.items() if sig in past}


def longest_first(
    cells: list[PlannedCell], root: Path, exclude: Path, parallel: bool, expected: dict[str, float] | None = None
) -> list[PlannedCell]:
    """The cells in the order to start them: with several workers, longest expected wall
    time first (LPT scheduling), so a run does not end on one long cell with the other
    workers idle. Expected times (`expected`, else read here) are medians of earlier runs
    under `root`; cells never seen keep plan order, ahead of the known ones (they may be
    long). One worker gains nothing from reordering, so its order stays the plan's, which
    reads best in the log."""
    if not parallel or len(cells) < 3:
        return cells
    past = expected_wall_times(cells, root, exclude) if expected is None else expected
    if not past:
        return cells
    return sorted(cells, key=lambda c: -past.get(c.spec.cell_id, float("inf")))  # stable: ties keep plan order


def _finish(store: RunStore, executor, status: RunStatus, reason: str | None = None) -> None:
    # Ignore further signals while stopping workers and compacting: a second Ctrl-C
    # must not leave the run half-written.
    masked = threading_is_main()
    if masked:
        old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        if executor is not None:
            executor.shutdown(cancel=status != RunStatus.FINISHED)
        try:
            store.finish(status, reason)
        except StoreError:
            if status != RunStatus.FAILED:
                raise
    finally:
        if masked:
            for s, handler in old.items():
                signal.signal(s, handler)


def _raise_interrupted(signum, frame) -> None:
    raise RunInterrupted(signum)


def threading_is_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
