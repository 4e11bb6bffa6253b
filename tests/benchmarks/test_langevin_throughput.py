"""Throughput of our Langevin sampler against a hand-written torch loop (issue 4).

Both run the same ULA update — y <- clamp(y - step grad E(y) + noise xi) — on the
same 2-128-128-1 MLP energy with 1 024 chains for 100 steps, from the same start and
generator seed. The rounds alternate (raw, ours, raw, ours, ...) so that a load
spike on the shared machine hits both; the score is median(raw) / median(ours),
which must be >= 0.95. pytest-benchmark records our sampler's own timing
(`--benchmark-enable`; with the project's default `--benchmark-disable` the
fixture runs it once), and the ratio and our `chain_steps_per_s` (per CPU second,
median of the rounds) go into its `extra_info`. Run it with
`pytest -m slow -s tests/benchmarks/test_langevin_throughput.py` (prints the ratio).
"""

from __future__ import annotations

import math
import statistics
import time

import pytest
import torch
from ebmbench_plugins.models._nets import MLPEnergy
from ebmbench_plugins.samplers.langevin import Langevin

CHAINS, STEPS, ROUNDS = 1024, 100, 15
STEP = 0.01
BOX = torch.tensor([[-4.5, 4.5], [-4.5, 4.5]])


def raw_loop(energy, y, steps, step, noise, generator, lo, hi):
    """The loop one would write by hand (as in IGEBM / the UvA tutorial)."""
    y = y.clone()
    for _ in range(steps):
        y.requires_grad_(True)
        (grad,) = torch.autograd.grad(energy(y).sum(), y)
        with torch.no_grad():
            y = y - step * grad + noise * torch.randn(y.shape, generator=generator)
            y = torch.max(torch.min(y, hi), lo)
    return y.detach()


@pytest.fixture(scope="module")
def setup():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one core each: the two measurements share a loaded machine
    g = torch.Generator().manual_seed(0)
    model = MLPEnergy(torch.zeros(2), torch.ones(2), hidden=128, depth=2, generator=g)
    model.requires_grad_(False)  # as at evaluation: gradients w.r.t. the inputs only
    init = BOX[:, 0] + torch.rand(CHAINS, 2, generator=g) * (BOX[:, 1] - BOX[:, 0])
    yield model, init
    torch.set_num_threads(threads)


def test_langevin_matches_the_raw_loop_exactly(setup):
    """Same update, same draws: the two implementations agree to float precision."""
    model, init = setup
    sampler = Langevin(steps=10, step=STEP, scale_to_domain=False)
    ours = sampler.sample(lambda y: model(y), init, torch.Generator().manual_seed(1), domain=BOX).samples
    step, noise = sampler.settings(BOX)
    raw = raw_loop(model, init, 10, step, noise, torch.Generator().manual_seed(1), BOX[:, 0], BOX[:, 1])
    assert torch.allclose(ours, raw, atol=1e-5)


@pytest.mark.slow  # ~8 s: 2 x 15 interleaved rounds of 100 steps on 1 024 chains
@pytest.mark.bench
def test_langevin_throughput(setup, benchmark):
    model, init = setup
    sampler = Langevin(steps=STEPS, step=STEP, scale_to_domain=False)
    step, noise = sampler.settings(BOX)
    lo, hi = BOX[:, 0], BOX[:, 1]

    def ours():
        return sampler.sample(model, init, torch.Generator().manual_seed(1), domain=BOX).samples

    def raw():
        return raw_loop(model, init, STEPS, step, noise, torch.Generator().manual_seed(1), lo, hi)

    ours(), raw()  # warm-up: allocator, autograd, lazy imports
    cpu = {"raw": [], "ours": []}
    wall = {"raw": [], "ours": []}
    for r in range(ROUNDS):
        pair = (("raw", raw), ("ours", ours)) if r % 2 == 0 else (("ours", ours), ("raw", raw))
        for name, fn in pair:
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            cpu[name].append(time.process_time() - c0)
            wall[name].append(time.perf_counter() - w0)
    med = {k: statistics.median(v) for k, v in cpu.items()}
    ratio = statistics.median(a / b for a, b in zip(cpu["raw"], cpu["ours"]))
    ratio_of_medians = med["raw"] / med["ours"]
    wall_ratio = statistics.median(a / b for a, b in zip(wall["raw"], wall["ours"]))
    benchmark.extra_info.update(
        {
            "ratio_raw_over_ours": ratio,
            "ratio_of_medians": ratio_of_medians,
            "wall_ratio_raw_over_ours": wall_ratio,
            "median_cpu_raw_s": med["raw"],
            "median_cpu_ours_s": med["ours"],
            "chains": CHAINS,
            "steps": STEPS,
            "chain_steps_per_s": CHAINS * STEPS / med["ours"],  # of our sampler, per CPU second
        }
    )
    benchmark.pedantic(ours, rounds=3, iterations=1)
    print(
        f"\nLangevin throughput: raw {med['raw'] * 1e3:.1f} ms, ours {med['ours'] * 1e3:.1f} ms CPU "
        f"(median of {ROUNDS}); ratio raw/ours = {ratio:.3f} (median of paired ratios; of medians "
        f"{ratio_of_medians:.3f}; wall time {wall_ratio:.3f}); "
        f"{CHAINS * STEPS / med['ours']:.3g} chain-steps/s"
    )
    assert math.isfinite(ratio) and ratio >= 0.95, ratio
