"""Grid density metrics against closed forms (plugins/metrics/density.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from support import fn_energy
import torch

import ebmbench
from ebmbench.context import EvalContext
from ebmbench.profiles import get_profile
from ebmbench_plugins.metrics import density as D
from ebmbench_plugins.tasks.grid import grid_points
from ebmbench_plugins.tasks.toy2d import EightGaussians


class Gauss(ebmbench.Task):
    """N(mu, s^2 I) in 2-D: exact log-density, so every grid quantity has a closed form."""

    name = "gauss-test"
    dim = 2
    domain = ((-4.5, 4.5), (-4.5, 4.5))
    main_metric = "nll_grid"
    ground_truth = frozenset({"log_density", "sampler"})
    mu, s = (0.3, -0.2), 0.6

    def sample(self, n, generator, x=None):
        return ebmbench.Split(torch.randn(n, 2, generator=generator) * self.s + torch.tensor(self.mu))

    def log_density(self, y, x=None):
        return gauss_logpdf(y, self.mu, self.s)


def gauss_logpdf(y, mu, s):
    d2 = (y - torch.tensor(mu, dtype=y.dtype)).pow(2).sum(1)
    return -d2 / (2 * s * s) - math.log(2 * math.pi * s * s)


def make_ctx(task, model, n=(2000, 2000, 2000), seed=0):
    g = torch.Generator().manual_seed(seed)
    data = ebmbench.TaskData(*(task.sample(k, g) for k in n))
    return EvalContext(None, task, get_profile("smoke"), seed, "cpu", model=model, data=data, method=None)


def metric(name, ctx):
    cls = {
        c.name: c for c in (D.NLLGrid, D.KLpqGrid, D.KLqpGrid, D.NLLGridCal, D.KLpqGridCal, D.KLqpGridCal, D.BetaCal)
    }[name]
    return cls().compute(ctx)


def test_nll_of_gaussian_energy_matches_closed_form():
    task = Gauss()
    mu, s = (-0.5, 0.4), 0.45  # the model: another Gaussian, energy without its constant
    ctx = make_ctx(task, fn_energy(lambda y: (y - torch.tensor(mu)).pow(2).sum(1) / (2 * s * s)))
    y = ctx.data.test.y.double()
    closed = float((-gauss_logpdf(y, mu, s)).mean())  # grid-free NLL of the test points
    assert metric("nll_grid", ctx) == pytest.approx(closed, abs=1e-4)


def test_kl_between_gaussians_matches_closed_form():
    task = Gauss()
    mu2, s2 = (-0.5, 0.4), 0.8
    ctx = make_ctx(task, fn_energy(lambda y: -gauss_logpdf(y, mu2, s2)))
    dmu2 = sum((a - b) ** 2 for a, b in zip(task.mu, mu2))

    def kl(m1, s1, m2, s2_):  # KL(N(m1, s1^2 I) || N(m2, s2^2 I)) in 2-D
        return 2 * math.log(s2_ / s1) + (2 * s1**2 + dmu2) / (2 * s2_**2) - 1

    assert metric("kl_pq_grid", ctx) == pytest.approx(kl(task.mu, task.s, mu2, s2), abs=1e-3)
    assert metric("kl_qp_grid", ctx) == pytest.approx(kl(mu2, s2, task.mu, task.s), abs=1e-3)


def test_kl_of_a_distribution_with_itself_is_zero_and_nll_is_exact():
    task = EightGaussians()
    ctx = make_ctx(task, fn_energy(lambda y: -task.log_density(y)))
    assert abs(metric("kl_pq_grid", ctx)) < 1e-8
    assert abs(metric("kl_qp_grid", ctx)) < 1e-8
    exact = float(-task.log_density(ctx.data.test.y.double()).mean())
    assert metric("nll_grid", ctx) == pytest.approx(exact, abs=1e-4)  # Z = 1 on the grid
    assert metric("beta_cal", ctx) == pytest.approx(1.0, abs=0.05)


def test_beta_cal_of_a_quadratic_energy_is_the_closed_form_mle():
    # NLL(beta) = beta*e + log int exp(-beta |y|^2 / c) = beta*e - log(beta) + const
    # (2-D), so the exact minimiser is beta = 1 / mean E(val), whatever c is.
    task = Gauss()
    ctx = make_ctx(task, fn_energy(lambda y: (y - torch.tensor(task.mu)).pow(2).sum(1) / 7.0))
    mle = 1.0 / float(ctx.energy(ctx.data.val.y).double().mean())
    assert metric("beta_cal", ctx) == pytest.approx(mle, rel=1e-4)
    assert metric("nll_grid_cal", ctx) <= metric("nll_grid", ctx)


@pytest.mark.parametrize("beta0", [0.25, 4.0])
def test_beta_cal_recovers_a_known_temperature(beta0):
    task = EightGaussians()
    ctx = make_ctx(task, fn_energy(lambda y: -task.log_density(y) / beta0), n=(100, 5000, 2000))
    assert metric("beta_cal", ctx) == pytest.approx(beta0, rel=0.05)
    # at beta_cal the tempered model is the true law again
    assert metric("kl_pq_grid_cal", ctx) < 2e-3
    assert metric("kl_qp_grid_cal", ctx) < 2e-3
    assert metric("kl_pq_grid", ctx) > 0.1  # ... and at beta = 1 it is not
    exact = float(-task.log_density(ctx.data.test.y.double()).mean())
    assert metric("nll_grid_cal", ctx) == pytest.approx(exact, abs=0.01)


def test_grid_nll_and_fit_beta_against_direct_numpy():
    e = np.random.default_rng(0).normal(size=500) ** 2
    area = 0.01
    for beta in (0.3, 1.0, 2.5):
        direct = beta * 1.7 + math.log(np.exp(-beta * e).sum() * area)
        assert D.grid_nll(e, 1.7, beta, area) == pytest.approx(direct, rel=1e-12)
    from scipy.optimize import minimize

    ref = minimize(lambda b: D.grid_nll(e, 0.8, float(b[0]), area), x0=[1.0], bounds=[(1e-3, 1e3)]).x[0]
    assert D.fit_beta(e, 0.8, area) == pytest.approx(ref, rel=1e-3)


def test_floor_keeps_kl_finite_on_empty_cells_and_keeps_normalisation():
    logv = torch.zeros(100)
    logv[50:] = -math.inf  # half the cells empty, as on the checkerboard
    p = D.floored(D.grid_log_probs(logv))
    assert float(torch.logsumexp(p, 0)) == pytest.approx(0.0, abs=1e-12)
    q = D.grid_log_probs(torch.zeros(100))  # uniform model
    kl = D.grid_kl(q, p)
    # half the model mass sits on empty cells, each costing log(q_i / (eps / n))
    expected = 0.5 * math.log(0.5 / (1 - D.EPS + D.EPS / 2)) * 1 + 0.5 * math.log(0.01 / (D.EPS / 100))
    assert math.isfinite(kl) and kl == pytest.approx(expected, rel=1e-6)
    assert D.grid_kl(p, p) == 0.0


def test_state_is_shared_and_energies_computed_once():
    task = EightGaussians()
    calls = []

    def energy(y):
        calls.append(y.shape[0])
        return -task.log_density(y)

    ctx = make_ctx(task, fn_energy(energy))
    for name in ("nll_grid", "kl_pq_grid", "kl_qp_grid", "nll_grid_cal", "kl_pq_grid_cal", "beta_cal"):
        metric(name, ctx)
    n_grid = grid_points().shape[0]
    assert sum(calls) == n_grid + 2000 + 2000  # grid once, test once, val once


def test_applicability():
    import ebmbench_plugins.tasks.conditional as cond

    horn = next(
        v
        for v in vars(cond).values()
        if isinstance(v, type)
        and issubclass(v, ebmbench.Task)
        and getattr(v, "kind", None) == "conditional"
        and hasattr(v, "name")
    )
    for cls in (D.NLLGrid, D.KLpqGrid, D.BetaCal, D.KLqpGridCal):
        assert cls().applies_to(EightGaussians()) is None
        assert cls().applies_to(horn()) is not None

    class NoTruth(Gauss):
        ground_truth = frozenset({"sampler"})

    assert D.NLLGrid().applies_to(NoTruth()) is None
    assert "ground truth" in D.KLpqGrid().applies_to(NoTruth())

    class Wide(Gauss):
        domain = ((-10.0, 10.0), (-10.0, 10.0))

    assert "outside the evaluation grid" in D.NLLGrid().applies_to(Wide())
