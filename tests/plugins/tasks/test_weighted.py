"""`8gaussians_weighted` (plugins/tasks/weighted.py) against independent references: a NumPy
transcription of the law, SciPy quadrature of its entropy, SciPy's chi-square test of
its component counts, and the oracle model built on it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ebmbench
from ebmbench_plugins.metrics.density import grid_nll
from ebmbench_plugins.models.oracle import Oracle, oracle_law
from ebmbench_plugins.tasks import grid
from ebmbench_plugins.tasks.toy2d import EightGaussians
from ebmbench_plugins.tasks.weighted import WEIGHTS, WeightedEightGaussians

# the law written out independently of the task's code: radius 4 / 1.414 at the angles
# 0, 45, ..., 315 degrees, std 0.5 / 1.414, and the weights in that angular order (docstring)
RADIUS, SD = 4 / 1.414, 0.5 / 1.414
ANGLES = np.arange(8) * np.pi / 4
BY_ANGLE = np.array([0.30, 0.08, 0.15, 0.05, 0.20, 0.05, 0.10, 0.07])
CENTRES = RADIUS * np.stack([np.cos(ANGLES), np.sin(ANGLES)], 1)


def np_log_density(y):
    from scipy.special import logsumexp

    d2 = ((y[:, None, :] - CENTRES[None]) ** 2).sum(-1)
    return logsumexp(-d2 / (2 * SD * SD), b=BY_ANGLE, axis=1) - np.log(2 * np.pi * SD * SD)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def by_angle_order():
    """Index of each of the task's centres in the angular order above."""
    c = WeightedEightGaussians.centers().numpy()
    return np.rint(np.mod(np.arctan2(c[:, 1], c[:, 0]), 2 * np.pi) / (np.pi / 4)).astype(int) % 8


def test_components_are_8gaussians_centres_with_the_documented_weights():
    task = WeightedEightGaussians()
    centres, weights = task.mixture_components()
    assert torch.equal(centres, EightGaussians.centers())  # the same modes as 8gaussians, by inheritance
    assert (task.STD, task.DIV, task.domain) == (EightGaussians.STD, EightGaussians.DIV, EightGaussians.domain)
    order = by_angle_order()
    np.testing.assert_allclose(centres.numpy(), CENTRES[order], atol=1e-12)
    np.testing.assert_allclose(weights.numpy(), BY_ANGLE[order], atol=0)
    assert math.fsum(WEIGHTS) == pytest.approx(1.0, abs=1e-15)
    assert {"log_density", "sampler", "reference_density", "mixture"} <= task.ground_truth


def test_log_density_equals_an_independent_transcription():
    y = torch.from_numpy(np.random.default_rng(0).uniform(-4.5, 4.5, (500, 2)))
    ours = WeightedEightGaussians().log_density(y).numpy()
    np.testing.assert_allclose(ours, np_log_density(y.numpy()), rtol=1e-12, atol=1e-12)
    assert WeightedEightGaussians().log_density(y.float()).dtype == torch.float32


def test_log_density_integrates_to_one_on_the_grid_and_has_an_exact_score():
    pts = grid.grid_points(dtype=torch.float64)
    mass = float(torch.exp(WeightedEightGaussians().log_density(pts)).sum()) * grid.cell_area()
    assert mass == pytest.approx(1.0, abs=1e-5)  # midpoint rule; the tails beyond the grid are ~1e-6
    y = torch.tensor([[0.3, -1.2], [2.1, 0.4], [-0.7, 2.9]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(WeightedEightGaussians().log_density, (y,))


def entropy_by_quadrature():
    """H = -sum_k w_k E_{N(c_k, sd^2 I)} log p: per component, in polar coordinates about c_k,
    adaptive quadrature (SciPy quad_vec) over the radius of the periodic trapezoid rule over
    the angle (128 nodes: geometric convergence; 64 give the same to 1e-14)."""
    from scipy import integrate

    phi = np.arange(128) * 2 * np.pi / 128
    u = np.stack([np.cos(phi), np.sin(phi)], 1)

    def f(rho):
        return np.array([rho * np.exp(-rho * rho / 2) * np_log_density(c + SD * rho * u).mean() for c in CENTRES])

    v, _ = integrate.quad_vec(f, 0, 12, epsabs=1e-10, epsrel=1e-10)
    return -float(BY_ANGLE @ v)


def test_mean_exact_nll_is_the_quadrature_entropy_within_its_standard_error():
    h = entropy_by_quadrature()
    assert h == pytest.approx(2.63914, abs=1e-5)  # the figure for docs/science.md; 8gaussians: 2.8319
    task, n = WeightedEightGaussians(), 100_000
    lp = task.log_density(task.sample(n, gen(11)).y.double())
    se = float(lp.std()) / math.sqrt(n)
    assert abs(float(-lp.mean()) - h) <= 4 * se, (float(-lp.mean()), h, se)


def test_component_counts_are_multinomial_with_the_weights():
    from scipy.stats import chisquare

    task = WeightedEightGaussians()
    y, k = task.draw_labelled(40_000, gen(5))
    counts = torch.bincount(k, minlength=8).double().numpy()
    expected = np.array(WEIGHTS) * 40_000
    assert chisquare(counts, expected).pvalue > 1e-3
    # an equal split would be rejected outright: the test can tell the weights apart
    assert chisquare(counts, np.full(8, 5000.0)).pvalue < 1e-100
    # each point is its own categorical draw: counts of n = 80 vary between draws with the
    # binomial variance n w (1 - w) (300 repeats: the sample variance is within ~10 % of it)
    reps = torch.stack([torch.bincount(task.draw_labelled(80, gen(100 + r))[1], minlength=8) for r in range(300)])
    w = np.array(WEIGHTS)
    np.testing.assert_allclose(reps.double().var(0).numpy(), 80 * w * (1 - w), rtol=0.3)
    # given its component, a point is c_k + N(0, sd^2 I)
    resid = (y - task.centers()[k]).numpy()
    np.testing.assert_allclose(resid.mean(0), 0, atol=4 * SD / math.sqrt(40_000))
    np.testing.assert_allclose(resid.std(0), SD, rtol=0.02)


def test_sample_is_the_draw_seeded_by_the_generator():
    task = WeightedEightGaussians()
    a, b, c = task.sample(64, gen(1)).y, task.sample(64, gen(1)).y, task.sample(64, gen(2)).y
    assert a.dtype == torch.float32 and a.shape == (64, 2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(a, task.draw_labelled(64, gen(1))[0].float())


def test_oracle_is_the_exact_density():
    task = WeightedEightGaussians()
    assert oracle_law(task) == "exact" and Oracle().compatible(task) is None
    profile = ebmbench.Profile("t", 2000, 2000, 2000, 1, 1, 1, 1, 1, 1, 1, 1)
    data = task.make(profile, gen(0))
    module = Oracle().build(task, data, gen(1))
    with torch.no_grad():
        e_test = module(data.test.y).double()
        assert torch.allclose(e_test, -task.log_density(data.test.y.double()), atol=1e-5)
        e_grid = module(grid.grid_points()).double()
    # normalising exp(-E) on the grid changes nothing for a normalised density
    nll = grid_nll(e_grid, float(e_test.mean()), 1.0, grid.cell_area())
    assert nll == pytest.approx(float(e_test.mean()), abs=1e-4)
