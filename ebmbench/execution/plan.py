"""The grid: tasks x compatible (model, method) pairs x seeds, as `PlannedCell`s.

Everything the user selected is validated here, before the first cell starts, so a
typo costs nothing. Each cell gets its seeds (hashes of its identity, so adding
other cells never changes them) and its `cell_key`: a hash of everything that
decides its numbers, which is what the cache and `--resume` match on.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import sys
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ebmbench._version import __version__
from ebmbench.errors import UsageError
from ebmbench.executor_api import CellSpec
from ebmbench.params import Selection, canonical, label, validate_params
from ebmbench.profiles import get_profile
from ebmbench.registry import Registry
from ebmbench.seeding import derive_seed

__all__ = ["RunConfig", "PlannedCell", "plan", "plan_suite", "core_source_hash", "selections_from_json"]

# The core modules whose code decides a cell's numbers (seeding, contexts, the cell's
# own steps); the runner, store and reports are not among them.
_CELL_CORE_MODULES = (
    "context.py",
    "contracts.py",
    "params.py",
    "profiles.py",
    "seeding.py",
    "executor_api.py",
    "execution/cell.py",
    "execution/artifacts.py",
)


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
    # probed on val during training (profile.curve_probes); None: every Metric.curve_probe
    curve_metrics: tuple[str, ...] | None = None
    jobs: int = 1  # cells side by side
    threads: int = 1  # torch threads per cell (fixed, so numbers do not depend on jobs)
    executor: str = "process"
    max_memory_gb: float | None = None
    startup_timeout: float = 120.0
    scheduler: str | None = None
    force: bool = False  # recompute cells whose key is already stored
    pdb: bool = False
    suite: str | None = None  # a registered suite decides tasks, models, methods, seeds, profile
    status_only: tuple[str, ...] = ()  # set by plan_suite: "task model/method" judged on status only
    argv: list[str] = field(default_factory=lambda: list(sys.argv))

    def grid_json(self) -> dict[str, Any]:
        """The part of the config that decides *which* cells run (kept in run.json for --resume)."""

        def sels(s):
            return None if s is None else [{"name": x.name, "params": x.params} for x in s]

        return {
            "tasks": sels(self.tasks),
            "models": sels(self.models),
            "methods": sels(self.methods),
            "seeds": self.seeds,
            "base_seed": self.base_seed,
            "profile": self.profile,
            "device": self.device,
            "metrics": list(self.metrics),
            "curve_metrics": list(self.curve_metrics),
            "threads": self.threads,
            "suite": self.suite,
        }


def selections_from_json(data: list[dict[str, Any]] | None) -> list[Selection] | None:
    return None if data is None else [Selection(d["name"], dict(d["params"])) for d in data]


@dataclass
class PlannedCell:
    spec: CellSpec
    model_label: str
    method_label: str
    skip_reason: str | None = None

    @property
    def label(self) -> str:
        return f"{self.model_label}/{self.method_label}"

    @property
    def task_label(self) -> str:
        """The task as results name it: its name, plus non-default parameters (rings[noise=0.1])."""
        return label(self.spec.task, self.spec.task_params)


@cache
def core_source_hash() -> str:
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for rel in _CELL_CORE_MODULES:
        digest.update(rel.encode() + b"\0" + (root / rel).read_bytes())
    return digest.hexdigest()[:16]


def _torch_version() -> str:
    try:  # metadata, not `import torch`: planning stays fast
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "none"


def _resolve(registry: Registry, kind: str, selections: list[Selection] | None):
    """(entry, typed params) for each selection; every name and value is checked."""
    if selections is None:
        return [(registry.get(kind, n), {}) for n in registry.names(kind)]
    if not selections:
        raise UsageError(f"empty selection of {kind}")
    resolved = [
        (entry, validate_params(entry, sel.params)) for sel in selections for entry in [registry.get(kind, sel.name)]
    ]
    for entry, params in resolved:  # parameters that name other entries (Param.names)
        for key, value in params.items():
            names = entry.cls.params[key].names
            if names and value:
                try:
                    registry.get(names, value)
                except UsageError as exc:
                    raise UsageError(f"{entry.name}[{key}={value}]: {exc}") from None
    return resolved


def _default_curve_metrics(registry: Registry, cfg: RunConfig) -> None:
    """No --curve-metric: the metrics that declare `curve_probe` (resolved into cfg, so
    that run.json records the names); a plugin's metric gets no less than a built-in."""
    if cfg.curve_metrics is None:
        cfg.curve_metrics = tuple(n for n in registry.names("metrics") if registry.get("metrics", n).cls.curve_probe)


def plan(registry: Registry, cfg: RunConfig) -> list[PlannedCell]:
    profile = get_profile(cfg.profile)
    seeds = cfg.seeds if cfg.seeds is not None else profile.seeds
    _default_curve_metrics(registry, cfg)
    for name in (*cfg.metrics, *cfg.curve_metrics):
        registry.get("metrics", name)
    tasks = _resolve(registry, "tasks", cfg.tasks)
    models = _resolve(registry, "models", cfg.models)
    methods = _resolve(registry, "methods", cfg.methods)
    if not (tasks and models and methods):
        raise UsageError("nothing to run: no tasks, models or methods are registered")
    # what every cell shares in its key: code outside the plugins, versions, budget, device
    common = {
        "core": core_source_hash(),
        "ebmbench": __version__,
        "torch": _torch_version(),
        "profile": asdict(profile),
        "device": cfg.device,
        "threads": cfg.threads,
        "samplers": {n: registry.get("samplers", n).source_hash for n in registry.names("samplers")},
        "curve_metrics": sorted(cfg.curve_metrics),
    }
    metric_hashes = {n: registry.get("metrics", n).source_hash for n in registry.names("metrics")}
    cells = []
    for task_entry, tparams in tasks:
        task = task_entry.make(**tparams)  # the task as -t asked for it, parameters included
        t_label = label(task_entry.name, tparams)  # = the name without parameters: seeds unchanged
        applicable = [n for n in registry.names("metrics") if registry.make("metrics", n).applies_to(task) is None]
        measured = [n for n in applicable if not cfg.metrics or n in cfg.metrics]
        task_part = {
            "task": [task_entry.name, task_entry.source_hash, *([tparams] if tparams else [])],
            "metrics": {n: metric_hashes[n] for n in sorted({*measured, *cfg.curve_metrics})},
        }
        for model_entry, mparams in models:
            model = model_entry.make(**mparams)
            for method_entry, hparams in methods:
                method = method_entry.make(**hparams)
                reason = model.compatible(task) or method.compatible(model, task)
                m_label, h_label = label(model_entry.name, mparams), label(method_entry.name, hparams)
                # an incompatible pair is recorded once, not once per seed
                for rep in range(1 if reason else seeds):
                    seed = derive_seed(
                        cfg.base_seed,
                        t_label,
                        model_entry.name,
                        canonical(mparams),
                        method_entry.name,
                        canonical(hparams),
                        rep,
                    )
                    data_seed = derive_seed(cfg.base_seed, t_label, "data", rep)
                    key_parts = {
                        **common,
                        **task_part,
                        "seed": seed,
                        "data_seed": data_seed,
                        "rep": rep,
                        "model": [model_entry.name, model_entry.source_hash, mparams],
                        "method": [method_entry.name, method_entry.source_hash, hparams],
                        "metrics_selected": list(cfg.metrics),
                    }
                    key = hashlib.sha256(json.dumps(key_parts, sort_keys=True, default=str).encode()).hexdigest()
                    spec = CellSpec(
                        cell_id=key[:16],
                        task=task_entry.name,  # the registry key: plugin:name when two plugins share the name
                        task_params=tparams,
                        model=model_entry.name,
                        model_params=mparams,
                        method=method_entry.name,
                        method_params=hparams,
                        rep=rep,
                        seed=seed,
                        data_seed=data_seed,
                        profile=cfg.profile,
                        device=cfg.device,
                        metrics=tuple(cfg.metrics),
                        curve_metrics=tuple(cfg.curve_metrics),
                        cell_key=key,
                    )
                    cells.append(PlannedCell(spec, m_label, h_label, reason))
    return cells


def plan_suite(registry: Registry, cfg: RunConfig) -> list[PlannedCell]:
    """The cells of suite `cfg.suite`: each group planned as its own grid, in order.

    A cell's seeds and key depend only on its own identity, so a cell that two groups
    share is the same cell and runs once; its largest `seeds` wins by construction.
    Sets `cfg.status_only`: the "task model/method" pairs of groups whose metrics the
    suite does not judge (run.json keeps them; compare reads them from there)."""
    _default_curve_metrics(registry, cfg)
    from dataclasses import replace

    from ebmbench.params import parse_selection

    suite = registry.get("suites", cfg.suite)
    cells: dict[str, PlannedCell] = {}
    status_only: set[str] = set()
    judged: set[str] = set()
    profiles: dict[str, tuple[str, int]] = {}
    for i, group in enumerate(suite.cls.groups):

        def sels(names: tuple[str, ...], what: str, i: int = i) -> list[Selection]:
            try:
                return [s for text in names for s in parse_selection(text)]
            except UsageError as exc:
                raise UsageError(f"suite {suite.name!r} groups[{i}].{what}: {exc}") from None

        group_cfg = replace(
            cfg,
            tasks=sels(group.tasks, "tasks"),
            models=sels(group.models, "models"),
            methods=sels(group.methods, "methods"),
            seeds=group.seeds,
            profile=group.profile or suite.cls.profile,
        )
        try:
            planned = plan(registry, group_cfg)
        except UsageError as exc:
            raise UsageError(f"suite {suite.name!r} groups[{i}]: {exc}") from None
        for cell in planned:
            # the same skipped pair in two groups is recorded once, like any other cell
            cells.setdefault(cell.spec.cell_key, cell)
            pair = f"{cell.task_label} {cell.label}"
            # compare matches cells by (task, label, rep): one pair, one budget
            first = profiles.setdefault(pair, (cell.spec.profile, i))
            if first[0] != cell.spec.profile:
                raise UsageError(
                    f"suite {suite.name!r}: {pair} is in groups[{first[1]}] at profile {first[0]} and in "
                    f"groups[{i}] at profile {cell.spec.profile}; a pair runs at one profile"
                )
            (judged if group.judge_metrics else status_only).add(pair)
    for name in (*suite.cls.metrics, *suite.cls.tolerances):
        try:
            registry.get("metrics", name)
        except UsageError as exc:
            raise UsageError(f"suite {suite.name!r}: {exc}") from None
    # a pair that any judged group lists stays judged
    cfg.status_only = tuple(sorted(status_only - judged))
    return list(cells.values())
