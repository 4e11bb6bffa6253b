"""Checks that train: a method at a micro budget, and whole cells through the real cell code.

`check_method_train` calls `Method.train` with a TrainContext the way the guide's unit
tests do, at 4 optimiser steps (cheap enough for every method in the default suite).
`check_cell` runs `ebmbench.execution.cell.run_cell` — the code every executor runs —
at the smoke profile, with a spying registry that blames a touched global RNG on the
entry that touched it, then runs the same cell again under another global RNG state.
Incompatible pairs go through `run_cell` too: they must come back `skipped` with the
reason `compatible()` gave.
"""

from __future__ import annotations

import math

from ebmbench.context import Diverged, TrainContext
from ebmbench.seeding import derive_seed, make_generator
from ebmbench.testing.checks_entries import drew
from ebmbench.testing.checks_meta import reason_problem
from ebmbench.testing.guards import SpyRegistry, rng_changes, rng_snapshot, same_value, seed_global_rngs
from ebmbench.testing.references import micro_profile

__all__ = ["check_method_train", "check_compatible", "check_cell"]


def _curve(ctx) -> list[dict]:
    """The curve without wall-clock values (never reproducible)."""
    return [{k: v for k, v in row.items() if not k.endswith("time_s")} for row in ctx.curve]


def _train_once(kit, name: str, task_name: str, model_name: str, seed: int, global_seed: int):
    import torch

    profile = micro_profile()
    seed_global_rngs(global_seed)
    task = kit.make("tasks", task_name)
    data = task.make(profile, make_generator(derive_seed(0, task_name, 0))).to(kit.device)
    g_init = make_generator(derive_seed(seed, "init"))
    module = kit.make("models", model_name).build(task, data, g_init).to(kit.device)
    start = {k: v.detach().clone() for k, v in module.state_dict().items()}
    spy = SpyRegistry(kit.registry)
    ctx = TrainContext(spy, task, profile, seed, kit.device)
    purposes: list[str] = []
    make_gen = ctx.generator
    ctx.generator = lambda purpose: purposes.append(purpose) or make_gen(purpose)  # who draws what
    module.train()
    before = rng_snapshot()
    try:
        kit.make("methods", name).train(module, data, ctx)
    except Diverged as exc:
        raise AssertionError(f"diverged at {profile.train_steps} steps of the smoke profile: {exc}") from exc
    moved = rng_changes(before, rng_snapshot())
    random_init = drew(g_init, derive_seed(seed, "init"))
    assert not moved, f"method {name}.train() changed the global {'/'.join(moved)} RNG"
    assert not spy.findings, "; ".join(map(str, spy.findings))
    return module, ctx, start, bool(purposes) or random_init, torch


def check_method_train(kit, name: str) -> None:
    """train() at a 4-step budget: logs a finite curve, changes the model, keeps it on the
    device, counts grad_evals, is deterministic and seed-sensitive, leaves the global RNG."""
    pair = kit.pair_for_method(name)
    task_name, model_name = pair
    module, ctx, start, random, torch = _train_once(kit, name, task_name, model_name, seed=3, global_seed=1)
    where = f"method {name} on {model_name}/{task_name}"
    assert ctx.curve, f"{where}: train() logged nothing (ctx.log at step 0, regularly and at the last step)"
    steps = [row["step"] for row in ctx.curve]
    assert steps == sorted(steps), f"{where}: logged steps go backwards: {steps}"
    # step 0 always; the last step is the budget's for an optimiser, while a method that
    # counts its own iterations as steps (K-means, PCA: §8.1) may end elsewhere
    assert steps[0] == 0, f"{where}: the first logged step is {steps[0]}: log step 0 (the untrained model)"
    assert isinstance(ctx.grad_evals, int) and ctx.grad_evals >= 0, f"{where}: ctx.grad_evals must stay an int >= 0"
    state = module.state_dict()
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()), f"{where}: non-finite state"
    dev = torch.device(kit.device).type
    assert all(v.device.type == dev for v in state.values()), f"{where}: train() moved tensors off {kit.device}"
    if kit.registry.get("methods", name).cls.family != "baseline":  # a baseline may fit nothing (an oracle)
        changed = not same_value(start, {k: v.detach() for k, v in state.items()})
        assert changed, f"{where}: train() did not change the model"
    again, ctx2, _, _, _ = _train_once(kit, name, task_name, model_name, seed=3, global_seed=2)
    assert same_value(_curve(ctx), _curve(ctx2)), f"{where}: the same seed gave another training curve"
    assert same_value(state, again.state_dict()), f"{where}: the same seed gave another trained model"
    if random:  # it drew from ctx.generator or the model's init: another seed must show
        other, ctx3, _, _, _ = _train_once(kit, name, task_name, model_name, seed=4, global_seed=1)
        differs = not same_value(_curve(ctx), _curve(ctx3)) or not same_value(state, other.state_dict())
        assert differs, f"{where}: another training seed gave the same curve and model"


def _skip_reason_of_cell(kit, task_name: str, model_name: str, method_name: str) -> str | None:
    from ebmbench.execution.cell import run_cell

    result = run_cell(kit.spec(task_name, model_name, method_name, seed=1), kit.registry)
    assert result.status == "skipped", f"run_cell of an incompatible pair ended {result.status}: {result.reason}"
    return result.reason


def check_compatible(kit, kind: str, name: str) -> None:
    """compatible() answers None or a one-line reason on every pair; an incompatible pair
    is skipped by the cell code with exactly that reason (nothing trains)."""
    entry = kit.make(kind, name)
    first = None
    for task_name in kit.ordered("tasks"):
        task = kit.task(task_name)
        if task is None:
            continue
        if kind == "models":
            reason = entry.compatible(task)
            assert not reason_problem(reason), f"compatible({task_name}) {reason_problem(reason)}"
            if reason and first is None:
                first = (task_name, name, kit.ordered("methods")[0], reason)  # any method: the model decides
            continue
        for model_name in kit.ordered("models"):
            model = kit.make("models", model_name)
            if model.compatible(task) is not None:
                continue
            reason = entry.compatible(model, task)
            assert not reason_problem(reason), f"compatible({model_name}, {task_name}) {reason_problem(reason)}"
            if reason and first is None:
                first = (task_name, model_name, name, reason)
    if first is not None:
        task_name, model_name, method_name, reason = first
        got = _skip_reason_of_cell(kit, task_name, model_name, method_name)
        assert got == reason, f"the skipped cell's reason {got!r} is not compatible()'s {reason!r}"


def check_cell(kit, kind: str, name: str, repeat: bool) -> None:
    """A smoke-profile cell through run_cell: `done`, a finite main metric, no global RNG
    touched by any entry; with `repeat`, the same cell again under another global RNG
    state gives the same metrics, curve and cost."""
    from ebmbench.execution.cell import run_cell

    task_name, model_name, method_name = kit.cell_for(kind, name)
    main = kit.task(task_name).main_metric
    spec = kit.spec(task_name, model_name, method_name, seed=5, metrics=(main,))
    where = f"cell {task_name}/{model_name}/{method_name}"

    def once(global_seed: int):
        seed_global_rngs(global_seed)
        spy = SpyRegistry(kit.registry)
        result = run_cell(spec, spy)
        assert result.status == "done", f"{where} ended {result.status}: {result.reason}\n{result.traceback or ''}"
        assert not spy.findings, f"{where}: " + "; ".join(map(str, spy.findings))
        return result

    a = once(1)
    value = a.metrics.get(main, math.nan)
    assert math.isfinite(value), f"{where}: main metric {main} = {value} ({a.metric_errors or 'no error recorded'})"
    if repeat:
        b = once(2)
        same = same_value(a.metrics, b.metrics) and a.grad_evals == b.grad_evals
        assert same and same_value(_curve(a), _curve(b)), f"{where}: the same seed gave other results"
