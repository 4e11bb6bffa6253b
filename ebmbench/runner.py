"""Expand the grid (tasks x compatible (model, method) pairs x seeds) and run it.

Everything the user selected is validated before the first cell starts, so a typo
costs nothing. Cells run one after another in an isolated worker process; each
finished cell is written to the store at once.
"""

from __future__ import annotations

import hashlib
import os
import platform
import select
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from ebmbench._version import __version__
from ebmbench.cell import CellSpec
from ebmbench.errors import UsageError
from ebmbench.params import Selection, canonical, label, validate_params
from ebmbench.profiles import get_profile
from ebmbench.registry import Registry
from ebmbench.seeding import derive_seed
from ebmbench.store import RunStore, new_run_id
from ebmbench.worker import CellTimeout, Worker, WorkerDied

__all__ = ["RunConfig", "PlannedCell", "plan", "execute", "STATUSES"]

STATUSES = ("done", "skipped", "error", "diverged", "timeout")


@dataclass
class RunConfig:
    tasks: list[Selection] | None = None  # None = every registered one
    models: list[Selection] | None = None
    methods: list[Selection] | None = None
    seeds: int | None = None  # None = the profile's default
    base_seed: int = 0
    profile: str = "quick"
    timeout: float | None = None
    device: str = "cpu"
    out: Path = Path("results")
    metrics: tuple[str, ...] = ()
    curve_metrics: tuple[str, ...] = ("nll_grid",)  # probed on val during training (profile.curve_probes)
    jobs: int = 1  # worker processes running cells side by side
    threads: int = 1  # torch threads per worker (fixed, so numbers do not depend on jobs)
    argv: list[str] = field(default_factory=lambda: list(sys.argv))


@dataclass
class PlannedCell:
    spec: CellSpec
    model_label: str
    method_label: str
    skip_reason: str | None = None

    @property
    def label(self) -> str:
        return f"{self.model_label}/{self.method_label}"


def _resolve(registry: Registry, kind: str, selections: list[Selection] | None):
    """(entry, typed params) for each selection; every name and value is checked."""
    if selections is None:
        return [(registry.get(kind, n), {}) for n in registry.names(kind)]
    out = []
    for sel in selections:
        entry = registry.get(kind, sel.name)
        out.append((entry, validate_params(entry, sel.params)))
    return out


def plan(registry: Registry, cfg: RunConfig) -> list[PlannedCell]:
    profile = get_profile(cfg.profile)
    seeds = cfg.seeds if cfg.seeds is not None else profile.seeds
    for name in (*cfg.metrics, *cfg.curve_metrics):
        registry.get("metrics", name)
    tasks = _resolve(registry, "tasks", cfg.tasks)
    models = _resolve(registry, "models", cfg.models)
    methods = _resolve(registry, "methods", cfg.methods)
    if not (tasks and models and methods):
        raise UsageError("nothing to run: no tasks, models or methods are registered")
    cells = []
    for task_entry, _ in tasks:
        task = task_entry.make()
        for model_entry, mparams in models:
            model = model_entry.make(**mparams)
            for method_entry, hparams in methods:
                method = method_entry.make(**hparams)
                reason = model.compatible(task) or method.compatible(model, task)
                m_label, h_label = label(model_entry.name, mparams), label(method_entry.name, hparams)
                # an incompatible pair is recorded once, not once per seed
                for rep in range(1 if reason else seeds):
                    key = (cfg.base_seed, task.name, m_label, h_label, rep)
                    spec = CellSpec(
                        cell_id=hashlib.sha256(repr(key).encode()).hexdigest()[:12],
                        task=task.name, model=model_entry.name, model_params=mparams,
                        method=method_entry.name, method_params=hparams, rep=rep,
                        seed=derive_seed(cfg.base_seed, task.name, model_entry.name, canonical(mparams),
                                         method_entry.name, canonical(hparams), rep),
                        data_seed=derive_seed(cfg.base_seed, task.name, "data", rep),
                        profile=cfg.profile, device=cfg.device, metrics=tuple(cfg.metrics),
                        curve_metrics=tuple(cfg.curve_metrics),
                    )
                    cells.append(PlannedCell(spec, m_label, h_label, reason))
    return cells


def _git_commit(path: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def run_meta(registry: Registry, cfg: RunConfig, run_id: str, n_cells: int) -> dict[str, Any]:
    import torch

    return {
        "run_id": run_id,
        "ebmbench_version": __version__,
        "status": "running",
        "started": datetime.now(timezone.utc).isoformat(),
        "ended": None,
        "command": cfg.argv,
        "profile": get_profile(cfg.profile).to_json(),
        "seeds": cfg.seeds,
        "base_seed": cfg.base_seed,
        "timeout_s": cfg.timeout,
        "device": cfg.device,
        "n_cells": n_cells,
        "git_commit": _git_commit(Path.cwd()),
        "ebmbench_git_commit": _git_commit(Path(__file__).resolve().parent),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "jobs": cfg.jobs,
        "torch_threads": cfg.threads,
        "metric_directions": {n: registry.get("metrics", n).cls.direction for n in registry.names("metrics")},
        "main_metrics": {n: registry.get("tasks", n).cls.main_metric for n in registry.names("tasks")},
        **registry.provenance(),
    }


def _row(run_id: str, cell: PlannedCell, result: dict[str, Any]) -> dict[str, Any]:
    s = cell.spec
    row = {
        "run_id": run_id, "cell_id": s.cell_id, "task": s.task, "model": cell.model_label,
        "method": cell.method_label, "label": cell.label, "model_params": canonical(s.model_params),
        "method_params": canonical(s.method_params), "rep": s.rep, "seed": s.seed,
        "data_seed": s.data_seed, "device": s.device, "status": result["status"],
        "reason": result.get("reason"), "traceback": result.get("traceback"),
        "train_time_s": result.get("train_time_s"), "eval_time_s": result.get("eval_time_s"),
        "peak_mem_mb": result.get("peak_mem_mb"), "grad_evals": result.get("grad_evals"),
    }
    row.update(result.get("metrics") or {})
    return row


def execute(registry: Registry, cfg: RunConfig, cells: list[PlannedCell],
            on_start: Callable[[RunStore], None] | None = None,
            on_cell: Callable[[dict[str, Any]], None] | None = None) -> RunStore:
    """Run every planned cell on `cfg.jobs` workers; each finished cell is stored at
    once and handed to `on_cell`. Returns the store."""
    run_id = new_run_id()
    store = RunStore(cfg.out, run_id, run_meta(registry, cfg, run_id, len(cells)))
    if on_start:
        on_start(store)

    def finish(cell: PlannedCell, result: dict[str, Any], t0: float) -> None:
        row = _row(run_id, cell, result)
        row["wall_time_s"] = time.perf_counter() - t0
        store.add(row, result.get("curve") or [], flush=row["status"] != "skipped")
        store.add_artifacts(row["cell_id"], result.get("artifacts"))
        if on_cell:
            on_cell(row)

    status = "interrupted"
    with open(store.dir / "worker.log", "ab") as log:
        workers = [Worker(registry.config, log, cfg.threads) for _ in range(max(1, cfg.jobs))]
        try:
            _schedule(cells, workers, cfg.timeout, finish)
            status = "finished"
        finally:
            for w in workers:
                w.close()
            store.flush()
            store.meta.update(status=status, ended=datetime.now(timezone.utc).isoformat())
            store.write_meta()
    return store


def _schedule(cells, workers, timeout, finish) -> None:
    """Keep every worker busy; a worker whose cell overruns `timeout` is killed."""
    queue = list(reversed(cells))
    busy: dict[Worker, tuple[PlannedCell, float]] = {}
    while queue or busy:
        for w in workers:
            while w not in busy and queue:
                cell, t0 = queue.pop(), time.perf_counter()
                if cell.skip_reason:
                    finish(cell, {"status": "skipped", "reason": cell.skip_reason}, t0)
                    continue
                try:
                    w.submit(cell.spec.to_json(), timeout)
                    busy[w] = (cell, t0)
                except WorkerDied as exc:
                    finish(cell, {"status": "error", "reason": str(exc)}, t0)
        if not busy:
            continue
        deadlines = [w.deadline for w in busy if w.deadline is not None]
        wait = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
        ready, _, _ = select.select(list(busy), [], [], wait)
        for w in list(busy):
            cell, t0 = busy[w]
            try:
                result = w.poll() if w in ready else (w.kill_expired() if w.expired() else None)
            except CellTimeout as exc:
                result = {"status": "timeout", "reason": str(exc)}
            except WorkerDied as exc:
                result = {"status": "error", "reason": str(exc)}
            if result is not None:
                del busy[w]
                finish(cell, result, t0)
