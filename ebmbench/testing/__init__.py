"""`ebmbench.testing`: the conformance kit for plugin authors.

One line in a test file checks every task, model, method, sampler and metric that a
plugin package registers against the contracts of docs/plugins.md:

    from ebmbench.testing import conformance_suite

    test_conformance = conformance_suite("ebm-example")  # a distribution or plugin name

pytest then runs one test per entry and check (`methods:short_cd:train`, …); the
checks that run whole smoke-profile cells are marked `slow`. `run_conformance` runs
the same checks without pytest and returns their outcomes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ebmbench.testing.kit import Case, Kit, KitConfig

__all__ = ["conformance_suite", "run_conformance", "run_case", "Outcome", "Kit", "KitConfig", "Case"]

_KITS: dict[KitConfig, Kit] = {}  # one registry and one set of shared inputs per selection


def _config(select, plugins_dirs, partners, exempt, device, slow=()) -> KitConfig:
    return KitConfig(
        str(select),
        tuple(str(d) for d in plugins_dirs),
        tuple(partners),
        tuple(sorted(dict(exempt or {}).items())),
        device,
        tuple(slow),
    )


def kit_for(config: KitConfig) -> Kit:
    if config not in _KITS:
        _KITS[config] = Kit(config)
    return _KITS[config]


def run_case(case: Case) -> None:
    """Run one check; the global RNG states the checks set are put back afterwards, so
    the kit never changes what the author's other tests see."""
    from ebmbench.testing.guards import rng_restore, rng_snapshot

    saved = rng_snapshot()
    try:
        case.run()
    finally:
        rng_restore(saved)


def conformance_suite(
    select: str,
    *,
    plugins_dirs: Iterable[str] = (),
    partners: Iterable[str] = (),
    exempt: Mapping[str, str] | None = None,
    device: str = "cpu",
    slow: Iterable[str] = (),
):
    """A pytest test function, parametrised (by ebmbench's pytest plugin) with one case per
    entry and check of the plugins `select` names. Assign it to a `test_*` name.

    `plugins_dirs`: local plugin folders to load too. `partners`: names of entries to try
    first when a check needs a partner (a task for a model, a task and model for a method).
    `exempt`: {case-id pattern (fnmatch): reason}; those cases are skipped with the reason.
    `slow`: case-id patterns (fnmatch) marked `slow`, e.g. an expensive metric's checks.
    """
    import pytest

    config = _config(select, plugins_dirs, partners, exempt, device, slow)

    def test_conformance(ebmbench_case):
        run_case(ebmbench_case)

    test_conformance.pytestmark = [pytest.mark.ebmbench_conformance(config)]
    return test_conformance


@dataclass
class Outcome:
    id: str
    status: str  # passed | failed | skipped
    message: str = ""


def run_conformance(
    select: str,
    *,
    plugins_dirs: Iterable[str] = (),
    partners: Iterable[str] = (),
    exempt: Mapping[str, str] | None = None,
    device: str = "cpu",
    slow: bool = False,
    only: Iterable[str] = ("*",),
) -> list[Outcome]:
    """Run the checks without pytest (`slow`: also the smoke cells; `only`: case-id
    patterns); one Outcome per case, in order."""
    import fnmatch

    kit = Kit(_config(select, plugins_dirs, partners, exempt, device))
    outcomes = []
    for case in kit.cases():
        if not any(fnmatch.fnmatchcase(case.id, p) for p in only):
            continue
        if case.skip or (case.slow and not slow):
            outcomes.append(Outcome(case.id, "skipped", case.skip or "slow"))
            continue
        try:
            run_case(case)
        except AssertionError as exc:
            outcomes.append(Outcome(case.id, "failed", str(exc)))
        except Exception as exc:  # noqa: BLE001 - a plugin's crash is a failed check
            outcomes.append(Outcome(case.id, "failed", f"{type(exc).__name__}: {exc}"))
        else:
            outcomes.append(Outcome(case.id, "passed"))
    return outcomes
