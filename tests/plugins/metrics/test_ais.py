"""`ais_nll` / `ais_nll_se` (plugins/metrics/ais.py) against independent references: exact
enumeration of a small RBM (over its hidden layer, and over its visible layer through the
module's own free energy), the closed-form log Z of a correlated 64-D Gaussian, SciPy
quadrature of a product energy on a box, SciPy's truncated normal, and SciPy's Genz
integration of a correlated Gaussian's box mass."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

import ebmbench
from ebmbench.context import EvalContext
from ebmbench.profiles import get_profile
from ebmbench_plugins.metrics import ais as A
from ebmbench_plugins.models._density_nets import GaussianEnergy
from ebmbench_plugins.models._rbm_net import RBMEnergy
from ebmbench_plugins.tasks.digits import Digits, DigitsInpaint
from ebmbench_plugins.tasks.toy2d import EightGaussians


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread, as cells run by default (--threads 1): AIS is many small steps,
    which a second thread on a shared 2-core machine slows down several-fold."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


class Box(ebmbench.Task):
    """A fixed-data unconditional task on [0, 1]^dim (only what the metric reads)."""

    name = "ais-test-box"
    kind = "unconditional"
    main_metric = "ais_nll"

    def __init__(self, dim):
        super().__init__()
        self.dim = dim
        self.domain = ((0.0, 1.0),) * dim


def _ctx(model, train, test, sampler_steps=60, seed=0):
    task = Box(train.shape[1])
    profile = dataclasses.replace(get_profile("smoke"), sampler_steps=sampler_steps)
    data = ebmbench.TaskData(ebmbench.Split(train), ebmbench.Split(train[:2]), ebmbench.Split(test))
    return EvalContext(None, task, profile, seed, "cpu", model=model, data=data, method=None)


def _metric(name="ais_nll", **params):
    cls = {"ais_nll": A.AISNLL, "ais_nll_se": A.AISNLLSE}[name]
    return cls(**params)


def _small_rbm(beta=1.0, seed=0, n_visible=10, n_hidden=8):
    g = torch.Generator().manual_seed(seed)
    rbm = RBMEnergy(n_visible, n_hidden, torch.rand(n_visible, generator=g) * 0.8 + 0.1, beta=beta, generator=g)
    with torch.no_grad():  # weights large enough for a rugged, correlated law
        rbm.W.copy_(torch.randn(n_visible, n_hidden, generator=g))
        rbm.c.copy_(torch.randn(n_hidden, generator=g))
    rbm.eval().requires_grad_(False)
    return rbm


def _all_binary(n):
    return torch.tensor([[(k >> i) & 1 for i in range(n)] for k in range(2**n)], dtype=torch.float64)


def _hidden_enumeration_log_z(rbm):
    """log sum_h exp(c.h) prod_i (1 + exp(b_i + W_i.h)): the visible layer summed in closed form."""
    W, b, c = rbm.W.double(), rbm.b.double(), rbm.c.double()
    h = _all_binary(W.shape[1])
    return float(torch.logsumexp(h @ c + torch.nn.functional.softplus(h @ W.T + b).sum(1), 0))


def _data(n, dim, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, dim, generator=g)


# ------------------------------------------------------------------------- RBM
def test_rbm_ais_matches_exact_enumeration():
    rbm = _small_rbm()
    exact = _hidden_enumeration_log_z(rbm)
    visible = float(torch.logsumexp(-rbm(_all_binary(10).float()).double(), 0))  # the module's own F
    assert visible == pytest.approx(exact, abs=1e-4)  # the two enumerations agree
    W, b, c = rbm.W, rbm.b, rbm.c
    log_w, log_z0 = A.ais_rbm(W, b, c, torch.zeros(10), A.sigmoid_schedule(1000), 64, torch.Generator().manual_seed(2))
    log_mean, se = A.log_mean_exp_se(log_w)
    assert 0 < se < 0.05
    assert abs(log_z0 + log_mean - exact) < max(3 * se, 0.02)


def test_metric_takes_the_rbm_route_and_reports_the_box_nll():
    rbm = _small_rbm()
    train, test = _data(400, 10), _data(50, 10, seed=3)
    ctx = _ctx(rbm, train, test, sampler_steps=200)  # 1000 temperatures
    state = A.ais_state(ctx, 64, 5, 2, 0.1, 1.5)
    assert state["route"] == "rbm-gibbs"
    # the thresholded energy is constant on orthant cells of volume 2^-10 in [0, 1]^10
    exact = float(rbm(test).double().mean()) + _hidden_enumeration_log_z(rbm) - 10 * math.log(2)
    value = _metric().compute(ctx)
    se = _metric("ais_nll_se").compute(ctx)
    assert 0 < se < 0.05
    assert abs(value - exact) < max(3 * se, 0.02)


def test_binary_route_for_an_rbm_off_beta_one():
    rbm = _small_rbm(beta=3.0, seed=4)  # F_3 has no block-Gibbs structure: Metropolis site flips
    exact = float(torch.logsumexp(-rbm(_all_binary(10).float()).double(), 0))
    train, test = _data(400, 10), _data(50, 10, seed=5)
    ctx = _ctx(rbm, train, test, sampler_steps=40)  # 200 temperatures
    state = A.ais_state(ctx, 32, 5, 2, 0.1, 1.5)
    assert state["route"] == "binary-metropolis"
    assert abs(state["log_z"] - (exact - 10 * math.log(2))) < max(3 * state["se"], 0.05)


# -------------------------------------------------------------- continuous energies
def test_gaussian_64d_closed_form_on_r_d():
    d, rho = 64, 0.5
    i = torch.arange(d)
    cov = rho ** (i[:, None] - i[None]).abs().double()  # AR(1) correlations
    prec, mean = torch.linalg.inv(cov), torch.linspace(-1, 1, d, dtype=torch.float64)

    def energy(y):
        r = y.double() - mean
        return 0.5 * ((r @ prec) * r).sum(-1)

    exact = 0.5 * float(torch.logdet(2 * math.pi * cov))
    base = A.BoxGaussian(mean + 0.1, torch.full((d,), 1.2, dtype=torch.float64))  # off-centre, too broad
    log_w = A.ais_continuous(energy, base, A.sigmoid_schedule(600), 64, torch.Generator().manual_seed(1), 5)
    log_mean, se = A.log_mean_exp_se(log_w)
    assert 0 < se < 0.2
    assert abs(base.log_z + log_mean - exact) < max(3 * se, 0.1)


def _product_energy(dim):
    """E(y) = sum_i a_i (y_i - m_i)^2 + c_i y_i^4: sharp wells against the walls included."""
    g = torch.Generator().manual_seed(7)
    a = torch.exp(torch.rand(dim, generator=g, dtype=torch.float64) * 5)  # curvature 1 .. 150
    m = torch.rand(dim, generator=g, dtype=torch.float64) * 1.4 - 0.2  # some minima outside the box
    c = torch.rand(dim, generator=g, dtype=torch.float64) * 3

    def energy(y):
        y = y.double()
        return (a * (y - m) ** 2 + c * y**4).sum(-1)

    def exact_log_z():
        logs = []
        for ai, mi, ci in zip(a.tolist(), m.tolist(), c.tolist()):

            def density(t, ai=ai, mi=mi, ci=ci):
                return math.exp(-(ai * (t - mi) ** 2 + ci * t**4))

            val, _ = integrate.quad(density, 0, 1, points=[min(max(mi, 0), 1)])
            logs.append(math.log(val))
        return sum(logs)

    return energy, exact_log_z()


def test_box_product_energy_matches_quadrature_through_the_metric():
    dim = 32

    class Product(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.f, self.log_z = _product_energy(dim)

        def forward(self, y, x=None):
            return self.f(y).float()

    model = Product()
    train, test = _data(500, dim), _data(100, dim, seed=2)
    ctx = _ctx(model, train, test, sampler_steps=120)  # 600 temperatures
    value = _metric().compute(ctx)
    se = _metric("ais_nll_se").compute(ctx)
    exact = float(model(test).double().mean()) + model.log_z
    assert A.ais_state(ctx, 32, 5, 2, 0.1, 1.5)["route"] == "continuous-hmc"
    assert 0 < se < 0.2
    assert abs(value - exact) < max(3 * se, 0.1)
    assert _metric().compute(_ctx(model, train, test, sampler_steps=120)) == value  # seeded: the same twice


def test_box_mass_of_a_correlated_gaussian_matches_genz():
    """The `gaussian` baseline's law truncated to the box: log Z = log P(box), by SciPy's
    quasi-Monte Carlo Genz integration (6-D, so it runs in seconds)."""
    d = 6
    g = torch.Generator().manual_seed(11)
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    cov = 0.02 * (a @ a.T / d + 0.2 * torch.eye(d, dtype=torch.float64))
    mean = torch.rand(d, generator=g, dtype=torch.float64) * 0.3 - 0.05  # at the lower wall: mass leaves the box
    model = GaussianEnergy(mean, cov)
    mvn = stats.multivariate_normal(mean.numpy(), cov.numpy(), seed=0, abseps=1e-12, releps=1e-3)
    exact = math.log(mvn.cdf(np.ones(d), lower_limit=np.zeros(d)))
    train, test = _data(300, d), _data(50, d, seed=3)
    ctx = _ctx(model, train, test)
    state = A.ais_state(ctx, 32, 5, 2, 0.1, 1.5)
    assert exact < -1  # a real truncation, not a near-total mass
    assert abs(state["log_z"] - exact) < max(3 * state["se"], 0.05)


def test_box_gaussian_against_scipy_truncnorm():
    mean = torch.tensor([0.5, 0.0, -2.0, 3.0], dtype=torch.float64)  # inside, on, below, above the box
    std = torch.tensor([0.3, 0.01, 0.5, 0.4], dtype=torch.float64)
    bounds = torch.tensor([[0.0, 1.0]] * 4, dtype=torch.float64)
    base = A.BoxGaussian(mean, std, bounds)
    a, b = (0 - mean) / std, (1 - mean) / std
    ref = [stats.truncnorm(ai, bi, loc=mi, scale=si) for ai, bi, mi, si in zip(a, b, mean, std)]
    log_z = sum(
        math.log(si * math.sqrt(2 * math.pi)) + math.log(stats.norm.cdf(bi) - stats.norm.cdf(ai))
        for ai, bi, si in zip(a.tolist(), b.tolist(), std.tolist())
    )
    assert base.log_z == pytest.approx(log_z, rel=1e-9)
    y = base.sample(20000, torch.Generator().manual_seed(0))
    assert ((y >= 0) & (y <= 1)).all()
    for j, r in enumerate(ref):
        assert stats.kstest(y[:, j].numpy(), r.cdf).pvalue > 1e-3


def test_log_mean_exp_se_is_the_delta_method():
    w = np.array([0.5, 1.0, 2.0, 4.0])
    value, se = A.log_mean_exp_se(torch.tensor(np.log(w)))
    assert value == pytest.approx(math.log(w.mean()))
    assert se == pytest.approx(w.std(ddof=1) / (2 * w.mean()))


def test_applies_to_unconditional_tasks_above_2d_only():
    metric = A.AISNLL()
    assert metric.applies_to(Digits()) is None
    assert "grid" in metric.applies_to(EightGaussians())
    assert metric.applies_to(DigitsInpaint()) is not None
