"""The KDE's cell list (plugins/models/_kde_cells.py) against the dense sum and a NumPy
brute force, and the density laws' exact draws (the `decode` sampler of kde / gaussian)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ebmbench_plugins.models import _kde_cells
from ebmbench_plugins.models._density_nets import FittedDensity, GaussianEnergy, KDEEnergy
from ebmbench_plugins.tasks import toy2d


def gen(seed):
    return torch.Generator().manual_seed(seed)


def brute_log_density(y, c, h):
    from scipy.special import logsumexp

    d2 = ((y[:, None, :] - c[None]) ** 2).sum(-1)
    return logsumexp(-d2 / (2 * h * h), 1) - math.log(len(c)) - c.shape[1] / 2 * math.log(2 * math.pi * h * h)


def kde_pair(c, h):
    """The same KDE twice: with the cell list (forced on for a small n) and dense."""
    fast, dense = KDEEnergy(c, h), KDEEnergy(c, h)
    fast.use_cells, dense.use_cells = True, False
    return fast, dense


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_cell_sums_equal_the_brute_force_near_and_far_from_the_data(dim):
    # clustered centres (most of the box is far from every centre) and queries spread
    # over twice the box: near rows use the cells, far ones fall back to the dense sum
    g = gen(dim)
    c = (torch.randint(0, 6, (3000, dim), generator=g) + 0.05 * torch.randn(3000, dim, generator=g)).double()
    y = torch.rand(400, dim, generator=gen(10 + dim), dtype=torch.float64) * 10 - 2
    y = torch.cat([y, c[:100] + 0.01])  # and rows on the data
    h = 0.04
    fast, dense = kde_pair(c, h)
    cells = fast.cells()
    assert cells is not None
    _, needs_dense, _ = cells.logsum(y)
    assert 0 < int(needs_dense.sum()) < len(y)  # both paths are exercised
    want = brute_log_density(y.numpy(), c.numpy(), h)
    np.testing.assert_allclose(fast.log_density(y).numpy(), want, rtol=0, atol=1e-9)
    np.testing.assert_allclose(dense.log_density(y).numpy(), want, rtol=0, atol=1e-9)


def test_cell_gradients_equal_the_dense_ones_and_pass_gradcheck(monkeypatch):
    monkeypatch.setattr(_kde_cells, "PAIR_BUDGET", 50)  # many blocks of rows
    c = torch.randn(500, 2, generator=gen(3), dtype=torch.float64)
    fast, dense = kde_pair(c, 0.05)
    y = torch.cat([c[:40] + 0.02, torch.full((3, 2), 5.0, dtype=torch.float64)]).requires_grad_(True)
    (g_fast,) = torch.autograd.grad(fast.log_density(y).sum(), y)
    (g_dense,) = torch.autograd.grad(dense.log_density(y).sum(), y)
    torch.testing.assert_close(g_fast, g_dense, rtol=0, atol=1e-8)
    few = y[[0, 1, 2, 41]].detach().requires_grad_(True)  # near rows and a far one
    assert torch.autograd.gradcheck(fast.log_density, (few,))
    assert torch.autograd.gradgradcheck(fast.log_density, (few,))


def test_cells_are_used_only_where_they_pay():
    big = torch.rand(5000, 2, generator=gen(4))
    assert KDEEnergy(big, 0.01).cells() is not None
    assert KDEEnergy(big, 0.05).cells() is None  # 9 bandwidths span the data's box: dense
    assert KDEEnergy(big[:100], 0.01).cells() is None  # a small n: the dense sum is as fast
    assert KDEEnergy(torch.rand(5000, 8, generator=gen(5)), 0.01).cells() is None  # 8-D
    kde, dense = kde_pair(big, 0.01)
    y = torch.rand(50, 2, generator=gen(6), dtype=torch.float64)
    # other bandwidths (the validation search asks ~30): cells where they pay, else dense
    assert kde.cells(0.005) is not None and kde.cells(0.2) is None
    for h in (0.005, 0.2):
        torch.testing.assert_close(kde.log_density(y, h), dense.log_density(y, h), rtol=0, atol=1e-9)


def test_truncation_bound_holds_on_a_full_profile_sized_task():
    task = toy2d.Rings()
    c = task.sample(20000, gen(7)).y
    fast, dense = kde_pair(c, 0.035)
    y = torch.cat([task.sample(2000, gen(8)).y, (torch.rand(500, 2, generator=gen(9)) - 0.5) * 9]).double()
    with torch.no_grad():
        torch.testing.assert_close(fast.log_density(y), dense.log_density(y), rtol=0, atol=1e-9)


# --------------------------------------------------------------- exact draws
def test_kde_draws_have_the_kde_laws_mean_and_covariance():
    c = torch.randn(300, 2, generator=gen(11), dtype=torch.float64) * torch.tensor([1.0, 3.0])
    h = 0.7
    law = FittedDensity(2)
    law.fit(KDEEnergy(c, h))
    y = law.generate(200_000, gen(12))
    # the KDE is the centres' empirical law convolved with N(0, h^2 I)
    mean = c.mean(0)
    cov = torch.cov(c.T, correction=0) + h * h * torch.eye(2, dtype=torch.float64)
    se = (cov.diagonal() / len(y)).sqrt()
    assert ((y.mean(0) - mean).abs() < 5 * se).all()
    torch.testing.assert_close(torch.cov(y.T), cov, rtol=0.03, atol=0.03)
    with pytest.raises(ValueError, match="beta = 1"):
        law.generate(5, gen(0), beta=2.0)


def test_gaussian_draws_pass_a_kolmogorov_smirnov_test_on_each_axis():
    from scipy import stats

    mean = torch.tensor([1.0, -2.0], dtype=torch.float64)
    cov = torch.tensor([[2.0, 0.6], [0.6, 0.5]], dtype=torch.float64)
    y = GaussianEnergy(mean, cov).generate(5000, gen(13)).numpy()
    for j in range(2):
        assert stats.kstest(y[:, j], "norm", args=(float(mean[j]), math.sqrt(float(cov[j, j])))).pvalue > 1e-3
    assert np.corrcoef(y.T)[0, 1] == pytest.approx(0.6 / math.sqrt(2.0 * 0.5), abs=0.05)
