"""Sampler diagnostics: ESS against the AR(1) closed form, stats read-outs, chain recording."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ebmbench
from ebmbench.context import EvalContext
from ebmbench.profiles import get_profile
from ebmbench.registry import load_registry
from ebmbench_plugins.metrics.diagnostics import (
    Acceptance,
    ESSPerSecond,
    SamplerGradEvals,
    SamplesPerSecond,
    autocovariance,
    effective_sample_size,
    record_chain,
)


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def ar1(rho, n, chains=1, seed=0, offsets=None):
    """Stationary AR(1) chains x_t = rho x_{t-1} + sqrt(1 - rho^2) e_t, from a seeded generator."""
    from scipy.signal import lfilter

    g = np.random.default_rng(seed)
    e = g.standard_normal((chains, n))
    x0 = g.standard_normal((chains, 1))  # a stationary start: Var = 1
    x, _ = lfilter([math.sqrt(1 - rho * rho)], [1.0, -rho], e, axis=1, zi=rho * x0)
    return x if offsets is None else x + np.asarray(offsets)[:, None]


def closed_form(rho, n):
    return n * (1 - rho) / (1 + rho)


# ------------------------------------------------------------------ the estimator
def test_autocovariance_matches_direct_sum():
    x = np.random.default_rng(1).standard_normal((3, 257))
    c = x - x.mean(1, keepdims=True)
    direct = np.array([[np.dot(row[: len(row) - k], row[k:]) / len(row) for k in range(len(row))] for row in c])
    np.testing.assert_allclose(autocovariance(x), direct, atol=1e-12)


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9, 0.97])
def test_ess_of_ar1_single_chain(rho):
    n = 1_000_000  # the estimator's relative error ~ sqrt(window / n): ~2 % at rho = 0.97
    assert effective_sample_size(ar1(rho, n, seed=7)) == pytest.approx(closed_form(rho, n), rel=0.10)


def test_ess_of_ar1_many_chains():
    x = ar1(0.8, 5000, chains=20, seed=11)
    assert effective_sample_size(x) == pytest.approx(closed_form(0.8, 20 * 5000), rel=0.10)


def test_ess_penalises_chains_that_do_not_mix():
    """Chains stuck in different modes: the between-chain variance shrinks the ESS."""
    mixed = effective_sample_size(ar1(0.5, 2000, chains=8, seed=5))
    stuck = effective_sample_size(ar1(0.5, 2000, chains=8, seed=5, offsets=[-3, 3] * 4))
    assert mixed == pytest.approx(closed_form(0.5, 16000), rel=0.15)
    assert stuck < 0.05 * mixed


def test_ess_of_antithetic_chain_exceeds_n():
    n = 100_000
    ess = effective_sample_size(ar1(-0.5, n, seed=3))
    assert ess == pytest.approx(closed_form(-0.5, n), rel=0.10)  # 3 n: negatively correlated draws


def test_ess_degenerate_inputs():
    assert math.isnan(effective_sample_size(np.ones((2, 50))))
    assert math.isnan(effective_sample_size(np.zeros((1, 3))))


# --------------------------------------------------------- metrics on a context
class Gauss(ebmbench.Task):
    """N(0, I) in 2-D on a box so large that clamping never acts."""

    name = "test-gauss"
    dim = 2
    domain = ((-50.0, 50.0), (-50.0, 50.0))
    main_metric = "ess_per_s"

    def sample(self, n, generator, x=None):
        return ebmbench.Split(torch.randn(n, 2, generator=generator))


class HalfSquare(torch.nn.Module):
    def forward(self, y, x=None):
        return 0.5 * y.pow(2).sum(1)


class ULA(ebmbench.Method):
    """Langevin with step h on E = |y|^2 / 2 is exactly AR(1): y' = (1 - h) y + sqrt(2h) xi."""

    name = "test-ula"
    family = "contrastive"
    STEP = 0.1

    def sampler(self):
        return "langevin", {"step": self.STEP, "scale_to_domain": False, "clamp": False}


def make_ctx(registry, method=None, seed=0):
    data = Gauss().make(get_profile("smoke"), torch.Generator().manual_seed(seed))
    return EvalContext(
        registry, Gauss(), get_profile("smoke"), seed, "cpu", model=HalfSquare(), data=data, method=method or ULA()
    )


def test_recorded_chain_is_the_langevin_ar1(registry):
    ctx = make_ctx(registry)
    states, seconds = record_chain(ctx, chains=256, steps=400, warmup=20)
    assert states.shape == (256, 400, 2) and seconds > 0
    rho = 1 - ULA.STEP
    x = states.double().numpy()
    for j in range(2):
        assert effective_sample_size(x[:, :, j]) == pytest.approx(closed_form(rho, 256 * 400), rel=0.10)
    lag1 = np.mean([np.corrcoef(x[c, :-1, 0], x[c, 1:, 0])[0, 1] for c in range(256)])
    assert lag1 == pytest.approx(rho, abs=0.03)


def test_ess_per_s_metric(registry):
    ctx = make_ctx(registry)
    fast = ESSPerSecond(chains=64, steps=200, warmup=10).compute(ctx)

    class Slow(ULA):
        STEP = 0.01  # rho = 0.99: ten times slower mixing at the same cost per step

    slow = ESSPerSecond(chains=64, steps=200, warmup=10).compute(make_ctx(registry, Slow()))
    assert math.isfinite(fast) and fast > 0
    assert slow < 0.5 * fast


def test_sampler_without_steps_is_refused(registry):
    class NoSteps(ebmbench.Sampler):
        name = "test-nosteps"

    class M(ULA):
        def sampler(self):
            return "test-nosteps", {}

    reg = load_registry(
        extra_plugins=(
            (
                "test-nosteps-plugin",
                type(
                    "P",
                    (),
                    {"ebmbench_register_samplers": staticmethod(ebmbench.hookimpl(lambda register: register(NoSteps)))},
                )(),
            ),
        )
    )
    with pytest.raises(ValueError, match="steps"):
        ESSPerSecond().compute(make_ctx(reg, M()))


def test_stats_readouts(registry):
    ctx = make_ctx(registry)
    ctx.cache["samples"] = ebmbench.SampleResult(
        torch.zeros(300, 2), {"time_s": 1.5, "grad_evals": 300 * 60.0, "acceptance": 0.62}
    )
    assert Acceptance().compute(ctx) == 0.62
    assert SamplesPerSecond().compute(ctx) == pytest.approx(200.0)
    assert SamplerGradEvals().compute(ctx) == pytest.approx(60.0)
    ctx.cache["samples"] = ebmbench.SampleResult(torch.zeros(300, 2), {"time_s": 1.5})
    assert math.isnan(Acceptance().compute(ctx))  # ULA has no MH step: undefined, not an error


def test_real_samples_cost(registry):
    ctx = make_ctx(registry)
    result = ctx.samples()
    n, steps = get_profile("smoke").n_samples, get_profile("smoke").sampler_steps
    assert SamplerGradEvals().compute(ctx) == steps  # one gradient per Langevin step per chain
    assert SamplesPerSecond().compute(ctx) == pytest.approx(n / result.stats["time_s"])
    assert math.isnan(Acceptance().compute(ctx))


def test_metropolis_sampler_acceptance_and_chain(registry):
    """MALA reports an acceptance rate; its one-step-per-call chain is recorded like any other."""

    class MALA(ULA):
        def sampler(self):
            return "mala", {"step": 0.5, "scale_to_domain": False, "clamp": False}

    ctx = make_ctx(registry, MALA())
    acc = Acceptance().compute(ctx)
    assert acc == ctx.samples().stats["acceptance"] and 0.5 < acc < 1.0
    assert SamplerGradEvals().compute(ctx) > get_profile("smoke").sampler_steps  # MALA: one more per chain
    ess = ESSPerSecond(chains=32, steps=100, warmup=10).compute(ctx)
    assert math.isfinite(ess) and ess > 0


def test_a_resampling_sampler_is_recorded_as_its_kernel(registry):
    """The default evaluation sampler replaces its starts (importance resampling) and adapts
    its step: a one-step call as such would restart every chain at every step (lag-1
    correlation ~0, an ESS of nothing). Recorded as its transition kernel — starts kept,
    the step the sample chains settled on — the chain moves a little per step."""

    class Default(ULA):
        def sampler(self):
            return None, {}

    ctx = make_ctx(registry, Default())
    ctx.task.domain = ((-5.0, 5.0), (-5.0, 5.0))  # where the resampling pool can find the mass
    assert ctx.eval_sampler()[0] == registry.default_sampler() == "sir_mala"
    settled = ctx.samples().stats["step"]
    states, _ = record_chain(ctx, chains=128, steps=100, warmup=5)

    def lag1(states):
        x = states.double().numpy()
        return np.mean([np.corrcoef(x[c, :-1, 0], x[c, 1:, 0])[0, 1] for c in range(x.shape[0])])

    # as the one-step call would run it unchanged: every step a fresh draw
    naive = ctx.sampler("sir_mala", steps=1)
    y, g, restarts = ctx.data.test.y[:128].clone(), torch.Generator().manual_seed(1), []
    for _ in range(100):
        y = naive.sample(ctx.energy_fn(), y, g, domain=ctx.domain()).samples
        restarts.append(y)
    assert abs(lag1(torch.stack(restarts, 1))) < 0.05
    assert lag1(states) > 0.1, lag1(states)  # a Markov chain: each state depends on the last
    assert 0.1 < settled < 10


def test_registered_directions(registry):
    got = {
        n: registry.get("metrics", n).cls.direction
        for n in ("acceptance", "ess_per_s", "samples_per_s", "sampler_grad_evals")
    }
    assert got == {
        "acceptance": "none",
        "ess_per_s": "higher",
        "samples_per_s": "higher",
        "sampler_grad_evals": "lower",
    }
