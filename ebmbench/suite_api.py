"""The suite contract: a named, versioned selection of cells (`ebmbench run --suite NAME`).

A suite sits beside the profiles: where a profile says how much budget one cell gets,
a suite says *which* cells run — groups of tasks x models x methods, each with its own
number of seeds and, if it needs another budget, its own profile. Suites are what CI tracks from commit to commit,
so they are registered like any other entry (hook `ebmbench_register_suites`): a plugin
package ships a suite that covers its own methods, and its baseline file
(`ebmbench baseline save`) is compared against on every commit.

`version` is part of the suite's identity: change it whenever the selection changes, so
a comparison across versions says so instead of reporting new and gone cells as news.
Names inside groups are selection strings (`"pcd[steps=20]"`) checked when the suite is
planned, since they may come from other plugins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ebmbench.contracts import Component

__all__ = ["Suite", "SuiteGroup"]


@dataclass(frozen=True)
class SuiteGroup:
    """tasks x models x methods, every compatible pair with `seeds` repetitions.

    An incompatible pair is recorded once as `skipped`, as in any run."""

    tasks: tuple[str, ...]
    models: tuple[str, ...]
    methods: tuple[str, ...]
    seeds: int = 1
    profile: str | None = None  # None: the suite's profile
    # False: only the cells' statuses are judged by `compare` (their values are shown,
    # never called worse): for cells that are there to prove a method or a status path
    # runs, with too few seeds or too small a budget for their numbers to be evidence
    judge_metrics: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "tasks": list(self.tasks),
            "models": list(self.models),
            "methods": list(self.methods),
            "seeds": self.seeds,
            "profile": self.profile,
            "judge_metrics": self.judge_metrics,
        }


class Suite(Component):
    """A fixed selection of cells; subclass it and register the class."""

    version: ClassVar[int] = 1
    profile: ClassVar[str] = "smoke"
    groups: ClassVar[tuple[SuiteGroup, ...]] = ()
    # compared by `ebmbench compare` when the user names none (empty: each task's main metric)
    metrics: ClassVar[tuple[str, ...]] = ()
    # compare's band per metric, (relative, absolute), overriding the metric's own
    # declaration for this suite's comparisons (the suite's configuration of the gate)
    tolerances: ClassVar[dict[str, tuple[float, float]]] = {}

    @classmethod
    def problems(cls) -> list[str]:
        """What is wrong with the declaration itself (names are checked when planned)."""
        from ebmbench.profiles import PROFILES

        out = []
        if not _count(cls.version):
            out.append(f"version must be an integer >= 1, got {cls.version!r}")
        if cls.profile not in PROFILES:
            out.append(f"profile must be one of {', '.join(PROFILES)}, got {cls.profile!r}")
        if not _names(cls.metrics, allow_empty=True):
            out.append(f"metrics must be a tuple of metric names, got {cls.metrics!r}")
        if not isinstance(cls.tolerances, dict):
            out.append(f"tolerances must be a dict {{metric: (relative, absolute)}}, got {cls.tolerances!r}")
        else:
            for metric, tol in cls.tolerances.items():
                if not (isinstance(tol, tuple | list) and len(tol) == 2 and all(_nonneg(v) for v in tol)):
                    out.append(f"tolerances[{metric!r}] must be (relative, absolute) >= 0, got {tol!r}")
        if not isinstance(cls.groups, tuple | list):
            return [*out, f"groups must be a tuple of ebmbench.SuiteGroup, got {type(cls.groups).__name__}"]
        if not cls.groups:
            out.append("groups is empty")
        for i, group in enumerate(cls.groups):
            if not isinstance(group, SuiteGroup):
                out.append(f"groups[{i}] must be an ebmbench.SuiteGroup, got {type(group).__name__}")
                continue
            for field in ("tasks", "models", "methods"):
                value = getattr(group, field)
                if not _names(value):
                    out.append(f"groups[{i}].{field} must be a non-empty tuple of names, got {value!r}")
            if group.profile is not None and group.profile not in PROFILES:
                out.append(f"groups[{i}].profile must be one of {', '.join(PROFILES)}, got {group.profile!r}")
            if not _count(group.seeds):
                out.append(f"groups[{i}].seeds must be an integer >= 1, got {group.seeds!r}")
            if not isinstance(group.judge_metrics, bool):
                out.append(f"groups[{i}].judge_metrics must be True or False, got {group.judge_metrics!r}")
        return out

    @classmethod
    def to_json(cls) -> dict[str, Any]:
        return {
            "name": cls.name,
            "version": cls.version,
            "profile": cls.profile,
            "metrics": list(cls.metrics),
            "tolerances": {m: list(t) for m, t in dict(cls.tolerances).items()},
            "groups": [g.to_json() for g in cls.groups],
        }


def _nonneg(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _names(value: Any, allow_empty: bool = False) -> bool:
    """A tuple or list of non-empty strings (a bare string is the classic slip)."""
    if not isinstance(value, tuple | list) or (not value and not allow_empty):
        return False
    return all(isinstance(v, str) and v for v in value)
