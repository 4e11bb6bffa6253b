"""Fisher divergence against closed forms (plugins/metrics/fisher.py)."""

from __future__ import annotations

import math

import pytest
from support import fn_energy
import torch

import ebmbench
from ebmbench.context import EvalContext
from ebmbench.profiles import get_profile
from ebmbench_plugins.metrics.fisher import FisherDivergence, fisher_divergence, score
from ebmbench_plugins.tasks.toy2d import EightGaussians


class Gauss(ebmbench.Task):
    name = "gauss-test"
    dim = 2
    domain = ((-4.5, 4.5), (-4.5, 4.5))
    main_metric = "fisher_div"
    ground_truth = frozenset({"log_density", "sampler"})
    s = 0.7

    def sample(self, n, generator, x=None):
        return ebmbench.Split(torch.randn(n, 2, generator=generator, dtype=torch.float64) * self.s)

    def log_density(self, y, x=None):
        return -y.pow(2).sum(1) / (2 * self.s**2) - math.log(2 * math.pi * self.s**2)


def make_ctx(task, model, n=1000):
    g = torch.Generator().manual_seed(0)
    data = ebmbench.TaskData(*(task.sample(n, g) for _ in range(3)))
    return EvalContext(None, task, get_profile("smoke"), 0, "cpu", model=model, data=data, method=None)


def test_true_energy_has_zero_fisher_divergence():
    task = EightGaussians()
    ctx = make_ctx(task, fn_energy(lambda y: -task.log_density(y)))
    assert FisherDivergence().compute(ctx) == pytest.approx(0.0, abs=1e-10)
    # a wrong energy is not zero: the test can fail
    assert FisherDivergence().compute(make_ctx(task, fn_energy(lambda y: y.pow(2).sum(1)))) > 1.0


def test_shifted_gaussian_matches_closed_form():
    # p = N(0, s^2 I), E = |y - mu|^2 / (2 s^2): grad log p + grad E = -mu / s^2 everywhere
    task = Gauss()
    mu = torch.tensor([0.4, -1.1], dtype=torch.float64)
    ctx = make_ctx(task, fn_energy(lambda y: (y - mu).pow(2).sum(1) / (2 * task.s**2)))
    closed = float(mu.pow(2).sum()) / task.s**4
    assert FisherDivergence().compute(ctx) == pytest.approx(closed, rel=1e-12)


def test_scaled_gaussian_matches_closed_form():
    # E = c |y|^2 / (2 s^2): difference (c - 1) y / s^2, so D = (c - 1)^2 E|y|^2 / s^4 over the test set
    task = Gauss()
    c = 2.5
    ctx = make_ctx(task, fn_energy(lambda y: c * y.pow(2).sum(1) / (2 * task.s**2)))
    y = ctx.data.test.y
    closed = float((c - 1) ** 2 * y.pow(2).sum(1).mean() / task.s**4)
    assert FisherDivergence().compute(ctx) == pytest.approx(closed, rel=1e-12)


def test_chunking_does_not_change_the_value_and_score_leaves_parameters_alone():
    lin = torch.nn.Linear(2, 1).double()
    energy = lambda y, x=None: lin(y).squeeze(-1).pow(2)  # noqa: E731
    logp = Gauss().log_density
    y = torch.randn(333, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    a = fisher_divergence(logp, energy, y, chunk=7)
    b = fisher_divergence(logp, energy, y, chunk=10_000)
    assert a == pytest.approx(b, rel=1e-12)
    assert lin.weight.grad is None
    with torch.no_grad():  # works inside no_grad too (evaluation code often runs there)
        assert torch.allclose(score(logp, y[:5]), -y[:5] / Gauss.s**2)


def test_applies_only_with_exact_log_density():
    assert FisherDivergence().applies_to(EightGaussians()) is None

    class NoTruth(Gauss):
        ground_truth = frozenset({"sampler"})

    assert FisherDivergence().applies_to(NoTruth()) is not None


def test_not_applicable_to_piecewise_constant_densities():
    class Uniform(Gauss):  # uniform on [-1, 1]^2: grad log p = 0 inside, a jump at the edge
        name = "uniform-test"

        def sample(self, n, generator, x=None):
            return ebmbench.Split(torch.rand(n, 2, generator=generator, dtype=torch.float64) * 2 - 1)

        def log_density(self, y, x=None):
            inside = (y.abs() <= 1).all(1)
            return torch.where(inside, y.sum(1) * 0 - math.log(4), torch.full_like(y[:, 0], -math.inf))

    assert "piecewise constant" in FisherDivergence().applies_to(Uniform())
    assert FisherDivergence().applies_to(Gauss()) is None
