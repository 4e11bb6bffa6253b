"""Metadata checks: what `ebmbench list`, the catalog and the planner read without running.

Registration already rejects a missing name or a bad vocabulary value; these checks
ask for what registration lets through but a user needs — a summary and a reference,
help for every parameter, a task's ranked and applicable main metric, ground-truth
tags backed by the methods they promise, and `compatible`/`applies_to` answers that
are None or a one-line reason.
"""

from __future__ import annotations

import math
from typing import Any

from ebmbench.contracts import Component, Task

__all__ = ["check_metadata", "GROUND_TRUTH_METHODS", "reason_problem"]

# A ground-truth tag (docs/plugins.md §6.1) and the task method that must back it.
GROUND_TRUTH_METHODS = {
    "log_density": "log_density",
    "support_distance": "support_distance",
    "sampler": "sample",
    "reference_density": "reference_log_density",
    "modes": "conditional_modes",
    "mode_curve": "conditional_curve",
    "labels": "labels",
    "conditional_quadrature": "conditional_quadrature",
    "mixture": "mixture_components",
}


def reason_problem(reason: Any) -> str | None:
    """None if `reason` is a valid answer of compatible()/applies_to(), else what is wrong."""
    if reason is None:
        return None
    if not isinstance(reason, str) or not reason.strip():
        return f"must return None or a non-empty reason string, got {reason!r}"
    if "\n" in reason.strip():
        return f"reason must be one line (it is printed in a table), got {reason!r}"
    return None


def _common(cls: type[Component]) -> list[str]:
    out = []
    if not str(cls.summary).strip():
        out.append("summary is empty (the one line `ebmbench list` shows)")
    elif "\n" in cls.summary.strip():
        out.append("summary must be one line")
    if not str(cls.reference).strip():
        out.append("reference is empty (the paper or formula it follows; the catalog's source column)")
    for key, param in cls.params.items():
        if not str(param.help).strip():
            out.append(f"parameter {key!r} has no help text (shown by `list --long` and in errors)")
    return out


def _overrides(cls: type, method: str, base: type) -> bool:
    impl = getattr(cls, method, None)
    return callable(impl) and impl is not getattr(base, method, None)


def _task(kit, entry, cls) -> list[str]:
    out = []
    if not (isinstance(cls.dim, int) and not isinstance(cls.dim, bool) and cls.dim > 0):
        out.append(f"dim must be a positive int, got {cls.dim!r}")
    dom = cls.domain
    if not isinstance(dom, tuple) or len(dom) != cls.dim:
        out.append(f"domain must be a tuple of dim={cls.dim} (low, high) pairs, got {dom!r}")
    elif not all(len(b) == 2 and math.isfinite(b[0]) and math.isfinite(b[1]) and b[0] < b[1] for b in dom):
        out.append(f"every domain bound must be a finite (low, high) with low < high, got {dom!r}")
    if (cls.kind == "conditional") != (cls.x_dim > 0):
        out.append(f"x_dim must be > 0 exactly for conditional tasks (kind {cls.kind}, x_dim {cls.x_dim})")
    if not 1 <= len(cls.headline_metrics) <= 4:
        out.append(f"headline_metrics should name 2-4 metrics, got {cls.headline_metrics!r}")
    for tag in sorted(cls.ground_truth):
        method = GROUND_TRUTH_METHODS.get(tag)
        if method and not _overrides(cls, method, Task):
            out.append(f"ground_truth declares {tag!r} but the task does not implement {method}()")
    # the registry's own check, run once every plugin has loaded: main/headline metrics
    # exist, the main one has a direction, and each applies to the task
    for line in kit.task_problems():
        head = line.split(" (", 1)[0]  # "task a" or "tasks a, b"
        if entry.name in head.split(" ", 1)[-1].split(", "):
            out.append(line.split("): ", 1)[-1])
    return out


def _model(kit, entry, cls) -> list[str]:
    out = []
    if not (isinstance(cls.family, str) and cls.family.strip()):
        out.append(f"family must be a non-empty string, got {cls.family!r}")
    if not cls.kinds or not set(cls.kinds) <= {"unconditional", "conditional"}:
        out.append(f"kinds must be a non-empty subset of unconditional/conditional, got {cls.kinds!r}")
    if not isinstance(cls.latent, bool):
        out.append(f"latent must be a bool, got {cls.latent!r}")
    return out


def _method(kit, entry, cls) -> list[str]:
    out = []
    if not cls.model_families:
        out.append("model_families is empty: the method can train no model")
    if not cls.task_kinds or not set(cls.task_kinds) <= {"unconditional", "conditional"}:
        out.append(f"task_kinds must be a non-empty subset of unconditional/conditional, got {cls.task_kinds!r}")
    try:
        choice = entry.make().sampler()
        name, params = choice
        if name is not None:
            kit.registry.make("samplers", name, **params)  # exists, and its parameters are valid
        elif not isinstance(params, dict):
            raise TypeError(f"parameters must be a dict, got {params!r}")
    except Exception as exc:  # noqa: BLE001 - any failure here is the finding
        out.append(f"sampler() must return (registered sampler name or None, valid params): {exc}")
    return out


def _sampler(kit, entry, cls) -> list[str]:
    if "steps" not in cls.params:
        return ["declares no `steps` parameter: evaluation sets it to the profile's sampler_steps (§4.5)"]
    return []


def _metric(kit, entry, cls) -> list[str]:
    out = []
    metric = entry.make()
    applies = []
    for name in kit.registry.names("tasks"):
        task = kit.task(name)
        if task is None:
            continue
        reason = metric.applies_to(task)
        if problem := reason_problem(reason):
            out.append(f"applies_to({name}) {problem}")
        elif reason is None:
            applies.append(name)
    if not applies:
        out.append("applies to no loaded task: it is never measured")
    return out


CHECKS = {"tasks": _task, "models": _model, "methods": _method, "samplers": _sampler, "metrics": _metric}


def check_metadata(kit, kind: str, name: str) -> None:
    entry = kit.registry.get(kind, name)
    problems = _common(entry.cls) + CHECKS[kind](kit, entry, entry.cls)
    assert not problems, f"{kind[:-1]} {name}: " + "; ".join(problems)
