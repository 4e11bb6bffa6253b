"""The conditional tasks: horn's ellipses and the three branches of `branches`."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ebmbench.profiles import get_profile
from ebmbench_plugins.tasks.conditional import Branches, Horn


def gen(seed):
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------------ branches
def test_branches_formula_and_separation():
    x = torch.linspace(0, 1, 10_001)
    f = Branches.branch_values(x).numpy()
    xs = x.double().numpy()
    np.testing.assert_allclose(f[:, 0], 2 + 0.5 * np.sin(2 * np.pi * xs), atol=1e-12)
    np.testing.assert_allclose(f[:, 1], 1.2 * (2 * xs - 1) ** 2 - 0.6, atol=1e-12)
    np.testing.assert_allclose(f[:, 2], -1.5 - xs, atol=1e-12)
    gaps = np.diff(f[:, ::-1], axis=1)  # f2 < f1 < f0 everywhere: the curves never cross
    assert gaps.min() == pytest.approx(1.35, abs=0.01)  # the docstring's figure
    lo, hi = Branches.domain[0]
    assert lo + 10 * Branches.NOISE <= f.min() and f.max() <= hi - 10 * Branches.NOISE


def test_branches_samples_sit_on_the_branches_with_equal_weights():
    s = Branches().sample(60_000, gen(0))
    assert s.y.shape == (60_000, 1) and s.x.shape == (60_000, 1)
    assert s.y.dtype == torch.float32 and float(s.x.min()) >= 0 and float(s.x.max()) <= 1
    k = Branches().assign_branch(s.y, s.x)
    assert torch.allclose(torch.bincount(k, minlength=3) / 60_000, torch.full((3,), 1 / 3), atol=0.01)
    f = Branches.branch_values(s.x)
    resid = s.y.double()[:, 0] - f[torch.arange(60_000), k]
    assert abs(float(resid.mean())) < 0.003 and float(resid.std()) == pytest.approx(0.1, rel=0.02)
    d = Branches().support_distance(s.y, s.x)
    assert float(d.double().mean()) == pytest.approx(0.1 * math.sqrt(2 / math.pi), rel=0.03)  # E|N(0, s^2)|


def test_branches_modes_are_the_modes_of_y_given_x():
    task = Branches()
    x0 = torch.full((90_000, 1), 0.3)
    s = task.sample(90_000, gen(1), x=x0)
    assert torch.equal(s.x, x0)
    modes = task.conditional_modes(torch.tensor([[0.3]]))
    assert modes.shape == (1, 3, 1)
    # the empirical density of y | x = 0.3 peaks at each mode: a histogram's highest bin
    # in a window around each mode is the one containing it
    y = s.y[:, 0].double().numpy()
    for m in modes[0, :, 0].tolist():
        counts, edges = np.histogram(y, bins=40, range=(m - 0.4, m + 0.4))
        peak = 0.5 * (edges[counts.argmax()] + edges[counts.argmax() + 1])
        assert abs(peak - m) <= 0.04
        assert abs(float(np.median(y[np.abs(y - m) < 0.5])) - m) < 0.005
    assert torch.allclose(
        task.support_distance(modes[:, :, 0].reshape(3, 1), torch.full((3, 1), 0.3)),
        torch.zeros(3, dtype=torch.float64),
        atol=1e-12,
    )


# ---------------------------------------------------------------------------- horn
def test_horn_curve_radii_and_support_distance():
    task = Horn()
    x = torch.tensor([[0.0], [1.0], [0.5]])
    r = Horn.radii(x)
    assert torch.allclose(r[0], torch.tensor([2.0, 1.5], dtype=torch.float64))
    assert torch.allclose(r[1], torch.tensor([1.5, 2.0], dtype=torch.float64) * math.e**2)
    curve = task.conditional_curve(x, 64)
    assert curve.shape == (3, 64, 2)
    # each curve point satisfies the ellipse equation (y1 / r1)^2 + (y2 / r2)^2 = 1
    assert torch.allclose(((curve / r[:, None, :]) ** 2).sum(-1), torch.ones(3, 64, dtype=torch.float64))
    on = curve[:, 5, :].float()
    assert float(task.support_distance(on, x).max()) < 1e-4


def test_horn_samples_lie_within_noise_of_their_ellipse():
    task = Horn()
    s = task.sample(4000, gen(2))
    d = task.support_distance(s.y, s.x).double()
    # the 2-D noise N(0, 0.05^2 I) moves a point ~0.05 * sqrt(2/pi) off the curve on average
    assert float(d.mean()) == pytest.approx(0.05 * math.sqrt(2 / math.pi), rel=0.1)
    lo = torch.tensor([a for a, _ in Horn.domain])
    hi = torch.tensor([b for _, b in Horn.domain])
    assert ((s.y >= lo) & (s.y <= hi)).all()


# --------------------------------------------------------------------------- seeds
@pytest.mark.parametrize("cls", [Horn, Branches])
def test_same_seed_same_data(cls):
    profile = get_profile("smoke")
    a, b, c = (cls().make(profile, gen(s)) for s in (3, 3, 4))
    assert a.train.x.shape == (profile.n_train, cls.x_dim) and a.train.y.shape == (profile.n_train, cls.dim)
    assert torch.equal(a.test.y, b.test.y) and torch.equal(a.test.x, b.test.x)
    assert not torch.equal(a.test.y, c.test.y)
