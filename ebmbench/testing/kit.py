"""The conformance kit's plan: which entries a plugin selection has, which checks each
gets, which partners (a task for a model, a model and task for a method) they run with.

The registry is loaded once per kit and every shared input (a task's smoke data, the
perfect and poor evaluation contexts) is made once and reused by all checks.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["KitConfig", "Kit", "Case", "SCIENCE_KINDS"]

SCIENCE_KINDS = ("tasks", "models", "methods", "samplers", "metrics")


@dataclass(frozen=True)
class KitConfig:
    """What to check. `select`: a distribution name (`ebm-example`), a plugin name
    (`ebm_example.tasks`), or a plugin-name prefix (`ebm_example` selects
    `ebm_example.*`). `partners`: entry names to try first as partners (the kit's own
    entries always come first). `exempt`: {case-id pattern: reason}; matching cases are
    skipped with that reason (e.g. {"metrics:samples_per_s:direction": "a cost"}).
    `slow`: case-id patterns marked `slow` (run in the slow pass), e.g. an expensive metric."""

    select: str
    plugins_dirs: tuple[str, ...] = ()
    partners: tuple[str, ...] = ()
    exempt: tuple[tuple[str, str], ...] = ()
    device: str = "cpu"
    slow: tuple[str, ...] = ()


@dataclass
class Case:
    """One check of one entry; its id is `kind:name:check` (the pytest parameter id)."""

    id: str
    run: Callable[[], None]
    slow: bool = False
    skip: str | None = None


def _norm(name: str | None) -> str:
    return re.sub(r"[-_.]+", "-", (name or "").lower())


@dataclass
class Kit:
    config: KitConfig
    registry: Any = None
    _memo: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.registry is None:
            from ebmbench.registry import LoadConfig, load_registry

            self.registry = load_registry(LoadConfig(plugins_dirs=tuple(self.config.plugins_dirs)))
        from ebmbench.profiles import get_profile

        self.profile = get_profile("smoke")
        self.device = self.config.device

    # ------------------------------------------------------------------ selection
    def plugins(self) -> list:
        sel = self.config.select
        return [
            p
            for p in self.registry.plugins
            if p.name == sel or p.name.startswith(sel + ".") or (p.dist and _norm(p.dist) == _norm(sel))
        ]

    def own(self, kind: str) -> list[str]:
        names = {p.name for p in self.plugins()}
        return [n for n, e in sorted(self.registry.entries[kind].items()) if e.plugin in names]

    def ordered(self, kind: str, key: Callable[[str], Any] = lambda n: 0) -> list[str]:
        """Names of `kind`: own entries first, then the preferred partners, then by `key`, name."""
        own, pref = set(self.own(kind)), self.config.partners
        rank = {n: i for i, n in enumerate(pref)}
        return sorted(self.registry.entries[kind], key=lambda n: (n not in own, rank.get(n, len(pref)), key(n), n))

    # -------------------------------------------------------------- shared inputs
    def make(self, kind: str, name: str, **params: Any):
        return self.registry.make(kind, name, **params)

    def task(self, name: str):
        """A default instance of task `name`, or None if it cannot be built."""
        key = ("task", name)
        if key not in self._memo:
            try:
                self._memo[key] = self.make("tasks", name)
            except Exception:  # noqa: BLE001 - the task's own metadata check reports it
                self._memo[key] = None
        return self._memo[key]

    def data(self, name: str):
        key = ("data", name)
        if key not in self._memo:
            from ebmbench.seeding import make_generator

            self._memo[key] = self.task(name).make(self.profile, make_generator(12)).to(self.device)
        return self._memo[key]

    def reference(self, task_name: str, poor: bool, fresh: bool = False):
        from ebmbench.testing.references import reference_context

        key = ("ref", task_name, poor)
        if fresh or key not in self._memo:
            ctx = reference_context(
                self.registry, self.task(task_name), self.data(task_name), self.profile, 21, poor, self.device
            )
            if fresh:
                return ctx
            self._memo[key] = ctx
        return self._memo[key]

    def spec(self, task: str, model: str, method: str, seed: int, metrics: tuple[str, ...] = ()):
        from ebmbench.executor_api import CellSpec
        from ebmbench.seeding import derive_seed

        return CellSpec(
            cell_id=f"conformance-{seed}",
            task=task,
            model=model,
            model_params={},
            method=method,
            method_params={},
            rep=0,
            seed=derive_seed(seed, task, model, method),
            data_seed=derive_seed(seed, task),
            profile="smoke",
            device=self.device,
            metrics=metrics,
        )

    # ------------------------------------------------------------------- partners
    def _tasks(self):
        for name in self.ordered("tasks", key=lambda n: self.registry.get("tasks", n).cls.dim):
            if self.task(name) is not None:
                yield name, self.task(name)

    def task_for_model(self, model: str) -> str:
        spec = self.make("models", model)
        for name, task in self._tasks():
            if spec.compatible(task) is None:
                return name
        raise AssertionError(f"model {model}: no loaded task it can score")

    def pair_for_method(self, method: str) -> tuple[str, str]:
        m = self.make("methods", method)
        for name, task in self._tasks():
            for model in self.ordered("models"):
                spec = self.make("models", model)
                if spec.compatible(task) is None and m.compatible(spec, task) is None:
                    return name, model
        raise AssertionError(f"method {method}: no loaded task and model it can train")

    def cell_for(self, kind: str, name: str, task: str | None = None) -> tuple[str, str, str]:
        """(task, model, method) of a cell that exercises entry `name` of `kind` (on `task`)."""
        if kind == "tasks" or task is not None:
            tasks = [(task or name, self.task(task or name))]
        else:
            tasks = list(self._tasks())
        models = [name] if kind == "models" else self.ordered("models")
        methods = [name] if kind == "methods" else self.ordered("methods")
        for t, task in tasks:
            for mo in models:
                spec = self.make("models", mo)
                if spec.compatible(task) is not None:
                    continue
                for me in methods:
                    if self.make("methods", me).compatible(spec, task) is None:
                        return t, mo, me
        raise AssertionError(f"{kind[:-1]} {name}: no compatible task/model/method to run a cell with")

    def task_for_metric(self, metric: str) -> str:
        m = self.make("metrics", metric)
        exact = lambda n: "log_density" not in self.registry.get("tasks", n).cls.ground_truth  # noqa: E731
        for name in self.ordered("tasks", key=lambda n: (exact(n), self.registry.get("tasks", n).cls.dim)):
            if self.task(name) is not None and m.applies_to(self.task(name)) is None:
                return name
        raise AssertionError(f"metric {metric}: applies to no loaded task")

    def task_problems(self) -> list[str]:
        if "problems" not in self._memo:
            self._memo["problems"] = self.registry.task_problems()
        return self._memo["problems"]

    # ---------------------------------------------------------------------- cases
    def cases(self) -> list[Case]:
        from ebmbench.testing import checks_entries as ce
        from ebmbench.testing import checks_metrics as cm
        from ebmbench.testing import checks_train as ct
        from ebmbench.testing.checks_meta import check_metadata

        out: list[Case] = []
        add = lambda kind, name, check, fn, slow=False: out.append(  # noqa: E731
            Case(f"{kind}:{name}:{check}", fn, slow)
        )
        plugins = self.plugins()
        if not plugins:
            known = ", ".join(sorted({p.dist or p.name for p in self.registry.plugins}))
            out.append(
                Case(
                    f"plugin:{self.config.select}:loads",
                    _fail(f"no loaded plugin matches {self.config.select!r} (loaded: {known})"),
                )
            )
        for p in plugins:
            if p.status == "failed":
                add("plugin", p.name, "loads", _fail(f"plugin {p.name} failed to load: {p.error}"))
            elif p.status == "loaded" and not p.entries:
                add(
                    "plugin",
                    p.name,
                    "loads",
                    _fail(f"plugin {p.name} registered nothing: are its hooks @ebmbench.hookimpl?"),
                )
        for kind in SCIENCE_KINDS:
            for name in self.own(kind):
                add(kind, name, "metadata", lambda k=kind, n=name: check_metadata(self, k, n))
        for name in self.own("tasks"):
            add("tasks", name, "data", lambda n=name: ce.check_task_data(self, n))
            add("tasks", name, "ground_truth", lambda n=name: ce.check_task_ground_truth(self, n))
            add("tasks", name, "smoke_cell", lambda n=name: ct.check_cell(self, "tasks", n, repeat=False), slow=True)
        for name in self.own("models"):
            add("models", name, "build", lambda n=name: ce.check_model_build(self, n))
            add("models", name, "cuda", lambda n=name: ce.check_model_cuda(self, n))
            add("models", name, "compatible", lambda n=name: ct.check_compatible(self, "models", n))
            add("models", name, "smoke_cell", lambda n=name: ct.check_cell(self, "models", n, repeat=False), slow=True)
        for name in self.own("methods"):
            add("methods", name, "train", lambda n=name: ct.check_method_train(self, n))
            add("methods", name, "compatible", lambda n=name: ct.check_compatible(self, "methods", n))
            add("methods", name, "smoke_cell", lambda n=name: ct.check_cell(self, "methods", n, repeat=True), slow=True)
        for name in self.own("samplers"):
            add("samplers", name, "sample", lambda n=name: ce.check_sampler(self, n))
        for name in self.own("metrics"):
            add("metrics", name, "direction", lambda n=name: cm.check_metric_direction(self, n))
            add("metrics", name, "determinism", lambda n=name: cm.check_metric_determinism(self, n), slow=True)
        for case in out:
            if case.id.endswith(":cuda") and not _cuda():
                case.skip = "CUDA is not available: the device check ran on the CPU only"
            for pattern, reason in self.config.exempt:
                if fnmatch.fnmatchcase(case.id, pattern):
                    case.skip = f"exempt: {reason}"
            case.slow = case.slow or any(fnmatch.fnmatchcase(case.id, p) for p in self.config.slow)
        return out


def _fail(message: str) -> Callable[[], None]:
    def run():
        raise AssertionError(message)

    return run


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()
