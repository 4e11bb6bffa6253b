"""Optimiser steps per second of every registered method (issue 10).

One benchmark per name in the registry's `methods`. Each trains the way a cell does
(`Method.train(model, data, TrainContext)`, see ebmbench/execution/cell.py) on the quick
profile's data and batch size, with the profile's `train_steps` cut to K = 10 (a
`dataclasses.replace` copy; no curve probes), on one torch thread. Task and model: the
first of `8gaussians`, `horn` (the conditional-only margin losses), then the other
registered tasks in the registry's order, that has a compatible model — `mlp` if it is, else the
first registered model for which `model.compatible(task)` and
`method.compatible(model, task)` are None, as the planner decides (kmeans, pca, glo,
... get their own model family, dae / mae the autoencoder; rbm, binary only, runs on
`digits`). Each round trains a freshly built model with a fresh method and context
(built in pytest-benchmark's untimed `setup`); one untimed run warms up first, and
its time sets the timed rounds: as many as fit in about a second, 5 to 10.

pytest-benchmark times the whole K-step `train` call (set-up such as a replay buffer,
K steps, and the curve logging, which at K < 100 runs at every step). One optimiser
step itself is timed inside those runs: from the method's minibatch draw
(`ctx.minibatch`) to its last optimiser update of that step (torch's global optimiser
step post-hook), so the method's logging between steps is left out. The median over
the steps of all timed rounds (the first step of a run, with the optimiser's state
allocation, excluded) gives `steps_per_s` in `extra_info`; `train_runs_per_s` is the
whole call. Methods without optimiser steps (kmeans' Lloyd iterations, pca's SVD)
record `train_runs_per_s` only.

    pytest -q -m slow -s tests/benchmarks/test_method_step.py --benchmark-enable
"""

from __future__ import annotations

import dataclasses
import statistics
import time

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from ebmbench.context import TrainContext
from ebmbench.profiles import get_profile
from ebmbench.registry import LoadConfig, load_registry

pytestmark = [pytest.mark.slow, pytest.mark.bench]
REGISTRY = load_registry(LoadConfig())
K = 10  # optimiser steps per timed run
PROFILE = dataclasses.replace(get_profile("quick"), train_steps=K, curve_probes=0)
BUDGET_S = 1.0  # timed rounds per benchmark, roughly
ROWS: list[tuple[str, str, str, float, float]] = []


def pick(method_name: str) -> tuple[str, str] | None:
    """(task, model) the method is benchmarked on, or None if no registered pair runs."""
    method = REGISTRY.make("methods", method_name)
    tasks = ["8gaussians", "horn", *(t for t in REGISTRY.names("tasks") if t not in ("8gaussians", "horn"))]
    models = ["mlp", *(m for m in REGISTRY.names("models") if m != "mlp")]
    for task_name in tasks:
        task = REGISTRY.make("tasks", task_name)
        for model_name in models:
            model = REGISTRY.make("models", model_name)
            if model.compatible(task) is None and method.compatible(model, task) is None:
                return task_name, model_name
    return None


@pytest.fixture(scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as a cell runs (RunConfig.threads)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def datasets():
    """Quick-profile splits per task, made once (seeded)."""
    cache = {}

    def get(task_name):
        if task_name not in cache:
            task = REGISTRY.make("tasks", task_name)
            cache[task_name] = task.make(PROFILE, torch.Generator().manual_seed(0))
        return cache[task_name]

    return get


@pytest.fixture(scope="module")
def step_clock():
    """Timestamps of every optimiser step taken while the module runs (global hook)."""
    ends: list[float] = []
    handle = register_optimizer_step_post_hook(lambda opt, args, kwargs: ends.append(time.perf_counter()))
    yield ends
    handle.remove()


@pytest.fixture(scope="module", autouse=True)
def table(request):
    yield
    if not ROWS:
        return
    lines = [f"{'method':<15}{'task':<16}{'model':<13}{'steps/s':>9}{'runs/s':>8}"]
    lines += [f"{h:<15}{t:<16}{m:<13}{s:>9.1f}{r:>8.2f}" for h, t, m, s, r in ROWS]
    text = "\n".join(["", f"one optimiser step per method (quick data and batch, {K}-step runs)", *lines])
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():  # show the table without -s
        print(text)


def step_times(starts: list[float], ends: list[float], stop: float) -> list[float]:
    """Per step: last optimiser update after a minibatch draw and before the next draw
    (or the end of training) minus that draw; the first step and steps without an update
    are left out."""
    bounds = [*starts, stop]
    out = []
    for a, b in zip(bounds, bounds[1:]):
        done = [e for e in ends if a <= e < b]
        if done:
            out.append(max(done) - a)
    return out[1:]


@pytest.mark.parametrize("name", REGISTRY.names("methods"))
def test_method_steps_per_s(benchmark, one_thread, datasets, step_clock, name):
    choice = pick(name)
    if choice is None:
        pytest.skip(f"method {name} has no compatible (task, model) among the registered ones")
    task_name, model_name = choice
    task = REGISTRY.make("tasks", task_name)
    data = datasets(task_name)
    runs = []  # per run: (minibatch draw times, its context)

    def setup():
        model = REGISTRY.make("models", model_name).build(task, data, torch.Generator().manual_seed(1))
        model.train()
        ctx = TrainContext(REGISTRY, task, PROFILE, 2, "cpu")
        draws: list[float] = []

        def minibatch(n, size, generator):
            draws.append(time.perf_counter())
            return TrainContext.minibatch(ctx, n, size, generator)

        ctx.minibatch = minibatch
        runs.append((draws, ctx))
        return (REGISTRY.make("methods", name), model, ctx), {}

    def train(method, model, ctx):
        method.train(model, data, ctx)
        ctx.stop = time.perf_counter()

    t = time.perf_counter()
    train(*setup()[0])  # warm-up: lazy imports, reference tables, allocator
    warm = time.perf_counter() - t
    runs.clear()
    step_clock.clear()
    rounds = max(5, min(10, int(BUDGET_S / max(warm, 1e-6))))
    benchmark.pedantic(train, setup=setup, rounds=rounds)

    steps = [s for draws, ctx in runs for s in step_times(draws, step_clock, ctx.stop)]
    run_s = benchmark.stats.stats.median if benchmark.stats else warm
    info = {"task": task_name, "model": model_name, "k": K, "train_run_s": run_s, "train_runs_per_s": 1 / run_s}
    if steps:
        step_s = statistics.median(steps)
        info.update(step_s=step_s, steps_per_s=1 / step_s, timed_steps=len(steps))
    benchmark.extra_info.update(info)
    ROWS.append((name, task_name, model_name, info.get("steps_per_s", float("nan")), 1 / run_s))
    for _, ctx in runs:
        assert ctx.curve, f"{name} logged no training curve"
