"""Checks of a metric on a perfect and a poor model of one task (ebmbench.testing.references).

The perfect context holds the task's exact energy (or a kernel density estimate) and
true samples; the poor one the same model moved off the data. A metric with a direction
must rank them that way round, return a Python float, be finite on the perfect model,
give the same value twice for the same seed, and leave the global RNG alone.
"""

from __future__ import annotations

import math

from ebmbench.testing.checks_entries import watched

__all__ = ["check_metric_direction", "check_metric_determinism"]


def _value(kit, name: str, ctx) -> float:
    v = watched(f"metric {name}.compute()", kit.make("metrics", name).compute, ctx)
    assert isinstance(v, int | float) and not isinstance(v, bool), (
        f"compute() must return a Python float (float(t)), got {type(v).__name__}"
    )
    return float(v)


def check_metric_direction(kit, name: str) -> None:
    """Finite on the perfect model; for a ranked metric, perfect strictly better than poor."""
    task_name = kit.task_for_metric(name)
    direction = kit.registry.get("metrics", name).cls.direction
    good = _value(kit, name, kit.reference(task_name, poor=False))
    where = f"metric {name} on task {task_name}"
    if direction == "none":  # a reported quantity: nan says "not defined here" (§4.6), inf never
        assert not math.isinf(good), f"{where}: {good} on the task's exact model and true samples"
        return
    assert math.isfinite(good), f"{where}: {good} on the task's exact model and true samples"
    bad = _value(kit, name, kit.reference(task_name, poor=True))
    assert not math.isnan(bad), f"{where}: nan on the poor model (perfect: {good:.4g})"
    better = good > bad if direction == "higher" else good < bad
    assert better, (
        f"{where}: direction {direction!r}, but the perfect model scores {good:.4g} and the poor one "
        f"(moved off the data) {bad:.4g}"
    )


def check_metric_determinism(kit, name: str) -> None:
    """Two fresh contexts with the same seed give the identical value."""
    task_name = kit.task_for_metric(name)
    a = _value(kit, name, kit.reference(task_name, poor=False, fresh=True))
    b = _value(kit, name, kit.reference(task_name, poor=False, fresh=True))
    assert a == b or (math.isnan(a) and math.isnan(b)), f"metric {name}: {a!r} then {b!r} with the same seed"
