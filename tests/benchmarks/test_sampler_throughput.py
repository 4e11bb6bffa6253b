"""Chain-steps per second of every registered sampler (issue 10).

One benchmark per name in the registry's `samplers` (a new sampler is benchmarked
without touching this file). Each draws from the energy evaluation hands samplers: the
`mlp` model (2-128-128-1, untrained, frozen weights) built for `8gaussians`, wrapped as
`EvalContext.energy_fn` wraps it (`.module`, `.x`), on the task's domain, with 1 024
chains started uniform on the domain, on one torch thread (as a cell runs). Every
sampler keeps its default settings except `steps` (50); `gibbs` on this continuous
energy is its single-site scheme, and `replay` runs its `rounds` of 50 steps.

Throughput is chains x steps (x rounds) per second of the pytest-benchmark median,
recorded as `chain_steps_per_s` in `extra_info` (with `grad_evals_per_s` from the
sampler's own count, where it reports one). A sampler without a `steps` parameter
records `samples_per_s` only. One untimed call warms up each sampler; from its time,
5 to 10 timed rounds: as many as fit in about a second, at least 5.

    pytest -q -m slow tests/benchmarks/test_sampler_throughput.py --benchmark-enable
"""

from __future__ import annotations

import time

import pytest
import torch

from ebmbench.profiles import get_profile
from ebmbench.registry import LoadConfig, load_registry

pytestmark = [pytest.mark.slow, pytest.mark.bench]
REGISTRY = load_registry(LoadConfig())
CHAINS, STEPS = 1024, 50
BUDGET_S = 1.0  # timed rounds per benchmark, roughly


@pytest.fixture(scope="module")
def energy():
    """(energy callable, domain) of an untrained 2-D MLP energy on 8gaussians."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as a cell runs (RunConfig.threads)
    task = REGISTRY.make("tasks", "8gaussians")
    data = task.make(get_profile("smoke"), torch.Generator().manual_seed(0))
    model = REGISTRY.make("models", "mlp").build(task, data, torch.Generator().manual_seed(1)).eval()
    model.requires_grad_(False)  # as at evaluation: gradients w.r.t. the inputs only
    fn = lambda y: model(y, None)
    fn.module, fn.x = model, None
    yield fn, torch.tensor(task.domain, dtype=torch.float32)
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", REGISTRY.names("samplers"))
def test_sampler_chain_steps_per_s(benchmark, energy, name):
    fn, domain = energy
    params = REGISTRY.get("samplers", name).cls.params
    sampler = REGISTRY.make("samplers", name, **({"steps": STEPS} if "steps" in params else {}))
    lo, width = domain[:, 0], domain[:, 1] - domain[:, 0]
    init = lo + torch.rand(CHAINS, domain.shape[0], generator=torch.Generator().manual_seed(2)) * width

    def run():
        return sampler.sample(fn, init, torch.Generator().manual_seed(3), domain=domain)

    t = time.perf_counter()
    run()  # warm-up: lazy imports, allocator, autograd
    warm = time.perf_counter() - t
    rounds = max(5, min(10, int(BUDGET_S / max(warm, 1e-6))))
    result = benchmark.pedantic(run, rounds=rounds, iterations=1)
    assert result.samples.shape == init.shape and torch.isfinite(result.samples).all()

    # the timed median (pytest-benchmark's stats; a single un-timed call when it is disabled)
    median = benchmark.stats.stats.median if benchmark.stats else warm
    info = {"chains": CHAINS, "median_s": median, "samples_per_s": CHAINS / median}
    if "steps" in sampler.p:
        chain_steps = CHAINS * sampler.p["steps"] * sampler.p.get("rounds", 1)
        info.update(steps=sampler.p["steps"], chain_steps=chain_steps, chain_steps_per_s=chain_steps / median)
    if result.stats.get("grad_evals"):
        info["grad_evals_per_s"] = result.stats["grad_evals"] / median
    benchmark.extra_info.update(info)
    rate = info.get("chain_steps_per_s", info["samples_per_s"])
    unit = "chain-steps/s" if "chain_steps_per_s" in info else "samples/s"
    print(f"\n{name}: {rate:.3g} {unit} (median of {rounds}: {median * 1e3:.1f} ms)")
