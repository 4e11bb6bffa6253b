"""conditional_nll and arc_coverage against closed forms and SciPy quadrature (issue 11).

The quadrature rules of horn and branches integrate densities whose normalisers are
known in closed form; the oracle's conditional NLL equals -log p(y | x) computed by
SciPy's adaptive quadrature of the ellipse law (horn) or by scipy.stats (branches);
an energy collapsed onto one answer per x ranks below the oracle on both metrics.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats
from scipy.special import ndtr

import ebmbench
from ebmbench.context import EvalContext
from ebmbench.profiles import get_profile
from ebmbench.registry import load_registry
from ebmbench_plugins.metrics.conditional import ArcCoverage, ConditionalNLL, covered_fraction, n_pairs
from ebmbench_plugins.tasks.conditional import Branches, Horn
from support import fn_energy

SMOKE = get_profile("smoke")
# two test pairs on horn: its oracle sums 2048 Gaussians per quadrature node
MICRO = dataclasses.replace(SMOKE, n_test=2, n_inference=2)
MID_ARC = math.pi / 8  # the middle of the first of horn's 8 arcs


@pytest.fixture(scope="module")
def registry():
    return load_registry()


class Method(ebmbench.Method):
    name = "test-method"
    family = "contrastive"


def make_ctx(registry, task, model, data, profile=SMOKE):
    return EvalContext(registry, task, profile, 0, "cpu", model=model, data=data, method=Method())


def oracle(registry, task, data):
    return registry.make("models", "oracle").build(task, data, torch.Generator().manual_seed(0))


def log_integral(task, x, log_f):
    """log of the integral over the domain of exp(log_f(y)) by the task's rule for one x."""
    nodes, log_w = task.conditional_quadrature(torch.tensor([[x]]))
    return float(torch.logsumexp(log_f(nodes[0]) + log_w[0], 0))


def truncated_normal_log_z(mean, s, domain):
    """log of the integral over the box `domain` of exp(-|y - mean|^2 / 2 s^2): closed form."""
    out = 0.0
    for m, (lo, hi) in zip(mean, domain):
        out += math.log(math.sqrt(2 * math.pi) * s * (ndtr((hi - m) / s) - ndtr((lo - m) / s)))
    return out


# ------------------------------------------------------------------ quadrature rules
@pytest.mark.parametrize("x", [0.0, 0.37, 1.0])
def test_horn_rule_integrates_known_densities(x):
    task = Horn()
    (xlo, xhi), (ylo, yhi) = task.domain
    area = log_integral(task, x, lambda y: torch.zeros(y.shape[0], dtype=torch.float64))
    assert area == pytest.approx(math.log((xhi - xlo) * (yhi - ylo)), abs=4e-3)  # the outer ring's staircase
    s = task.NOISE  # a bump as narrow as the noise, on the ellipse: the band's resolution
    for angle in (MID_ARC, 1.3, 4.0):
        c = task.radii(torch.tensor([[x]]))[0] * torch.tensor([math.cos(angle), math.sin(angle)], dtype=torch.float64)
        got = log_integral(task, x, lambda y, c=c: -((y - c) ** 2).sum(1) / (2 * s * s))
        assert got == pytest.approx(math.log(2 * math.pi * s * s), abs=1e-4)
    for mean, s in (((0.0, 0.0), 4.0), ((3.0, -6.0), 1.0), ((-9.0, 12.0), 2.5)):  # broad ones, cut by the box
        m = torch.tensor(mean, dtype=torch.float64)
        got = log_integral(task, x, lambda y, m=m, s=s: -((y - m) ** 2).sum(1) / (2 * s * s))
        assert got == pytest.approx(truncated_normal_log_z(mean, s, task.domain), abs=3e-3)


def test_horn_rule_follows_the_ellipse():
    nodes, log_w = Horn().conditional_quadrature(torch.tensor([[0.0], [1.0]]))
    assert nodes.dtype == torch.float64 and nodes.shape == (2, 69632, 2) and log_w.shape == (2, 69632)
    assert Horn().conditional_quadrature(torch.tensor([[0.0]]))[0].shape[1] == 28672
    (xlo, xhi), (ylo, yhi) = Horn.domain
    inside = (nodes[..., 0] >= xlo) & (nodes[..., 0] <= xhi) & (nodes[..., 1] >= ylo) & (nodes[..., 1] <= yhi)
    assert torch.equal(torch.isfinite(log_w), inside)  # nodes outside the domain weigh 0


def test_branches_rule():
    task = Branches()
    for mean, s in ((0.0, 1.0), (2.9, 0.3), (-3.4, 0.05)):
        got = log_integral(task, 0.5, lambda y, mean=mean, s=s: -((y[:, 0] - mean) ** 2) / (2 * s * s))
        # the midpoint rule is second order where the domain cuts the density: its error is
        # h^2 / 24 * (f'(hi) - f'(lo)) / Z to leading order (Euler-Maclaurin), h = 7 / 1024
        lo, hi = task.domain[0]
        log_z = truncated_normal_log_z((mean,), s, task.domain)
        slope = [-(e - mean) / s**2 * math.exp(-((e - mean) ** 2) / (2 * s * s)) for e in (lo, hi)]
        bound = (7 / 1024) ** 2 / 24 * abs(slope[1] - slope[0]) / math.exp(log_z)
        assert abs(got - log_z) <= 1.5 * bound + 1e-10


# ------------------------------------------------------------------------ branches
def branches_log_p(x, y):
    """log p(y | x) of the three-branch mixture, by scipy.stats."""
    f = np.stack([2 + 0.5 * np.sin(2 * np.pi * x), 1.2 * (2 * x - 1) ** 2 - 0.6, -1.5 - x], 1)
    return np.log(stats.norm.pdf(y[:, None], loc=f, scale=Branches.NOISE).mean(1))


def test_branches_nll_of_the_oracle_one_branch_and_a_wide_branch(registry):
    task = Branches()
    data = task.make(SMOKE, torch.Generator().manual_seed(3))
    x, y = data.test.x[:, 0].double().numpy(), data.test.y[:, 0].double().numpy()
    assert n_pairs(make_ctx(registry, task, None, data), 1024) == len(data.test)  # branches scores every pair
    exact = float(-branches_log_p(x, y).mean())
    got = ConditionalNLL().compute(make_ctx(registry, task, oracle(registry, task, data), data))
    assert got == pytest.approx(exact, abs=1e-5)
    # one branch kept, with the noise's width or a wider one: Gaussian in y, normalised in closed form
    f0 = 2 + 0.5 * np.sin(2 * np.pi * x)
    nlls = {}
    for s in (Branches.NOISE, 1.0):
        energy = fn_energy(
            conditional=True, fn=lambda y, x, s=s: ((y[:, 0] - task.branch_values(x)[:, 0].float()) ** 2) / (2 * s * s)
        )
        log_z = np.array([truncated_normal_log_z((m,), s, task.domain) for m in f0])
        expect = float(((y - f0) ** 2 / (2 * s * s) + log_z).mean())
        nlls[s] = ConditionalNLL().compute(make_ctx(registry, task, energy, data))
        assert nlls[s] == pytest.approx(expect, rel=1e-5)
    assert got < nlls[1.0] < nlls[Branches.NOISE]  # collapsed onto one branch: far below the oracle


# ---------------------------------------------------------------------------- horn
def horn_log_p(x, y):
    """log p(y | x) = log (1/2pi) int N2(y - rho(x) (cos t, sin t); s^2 I) dt, by scipy's quad."""
    a, b = (float(v) for v in Horn.radii(torch.tensor([[x]]))[0])
    s = Horn.NOISE
    grid = np.linspace(0, 2 * np.pi, 20001)
    d2 = (y[0] - a * np.cos(grid)) ** 2 + (y[1] - b * np.sin(grid)) ** 2
    t0, shift = grid[d2.argmin()], d2.min() / (2 * s * s)  # the peak, and a scale against underflow

    def f(t):
        return np.exp(-((y[0] - a * np.cos(t)) ** 2 + (y[1] - b * np.sin(t)) ** 2) / (2 * s * s) + shift)

    val, _ = integrate.quad(f, t0 - np.pi, t0 + np.pi, points=[t0], limit=500, epsabs=0, epsrel=1e-11)
    return math.log(val / (2 * np.pi)) - shift - math.log(2 * np.pi * s * s)


@pytest.fixture(scope="module")
def horn_cells(registry):
    """The oracle, an energy collapsed onto one point of each ellipse, and one that knows
    only the half t in [0, pi) of it, on two test pairs (x = 0.1, 0.3: small ellipses, the cheapest rules)."""
    task = Horn()
    data = task.make(MICRO, torch.Generator().manual_seed(5))
    x = torch.tensor([[0.1], [0.3]])
    data.test = task.sample(2, torch.Generator().manual_seed(6), x=x)
    u = torch.tensor([math.cos(MID_ARC), math.sin(MID_ARC)], dtype=torch.float64)
    s = task.NOISE

    def collapsed(y, x):  # one answer per x: the middle of the first arc
        return (((y.double() - task.radii(x) * u) ** 2).sum(1) / (2 * s * s)).float()

    t = (torch.arange(512, dtype=torch.float64) + 0.5) * (math.pi / 512)
    half_ring = torch.stack([torch.cos(t), torch.sin(t)], 1)

    def half(y, x):  # the law with t ~ U[0, pi): the upper half of each ellipse (4 of the 8 arcs)
        c = task.radii(x)[:, None, :] * half_ring[None]
        return -torch.logsumexp(-((y.double()[:, None, :] - c) ** 2).sum(-1) / (2 * s * s), 1).float()

    models = {
        "oracle": oracle(registry, task, data),
        "collapsed": fn_energy(collapsed, conditional=True),
        "half": fn_energy(half, conditional=True),
    }
    return task, data, {k: make_ctx(registry, task, m, data, MICRO) for k, m in models.items()}


def test_horn_oracle_nll_is_the_exact_conditional_nll(horn_cells):
    task, data, ctxs = horn_cells
    exact = np.mean([-horn_log_p(float(x), y.double().numpy()) for x, y in zip(data.test.x[:, 0], data.test.y)])
    assert ConditionalNLL().compute(ctxs["oracle"]) == pytest.approx(exact, abs=1e-4)


def test_horn_collapse_ranks_below_the_oracle(horn_cells):
    task, data, ctxs = horn_cells
    nll = {k: ConditionalNLL().compute(c) for k, c in ctxs.items()}
    cover = {k: ArcCoverage().compute(c) for k, c in ctxs.items()}
    # collapsed: a Gaussian of the noise's width around one point, inside the domain: Z = 2 pi s^2
    u = torch.tensor([math.cos(MID_ARC), math.sin(MID_ARC)], dtype=torch.float64)
    d2 = ((data.test.y.double() - task.radii(data.test.x) * u) ** 2).sum(1)
    expect = float(d2.mean() / (2 * task.NOISE**2) + math.log(2 * math.pi * task.NOISE**2))
    assert nll["collapsed"] == pytest.approx(expect, rel=1e-6)
    assert nll["oracle"] < nll["half"] < nll["collapsed"]
    assert cover == {"oracle": 1.0, "half": 0.5, "collapsed": 1 / 8}


def test_arc_coverage_share_and_mass_rules():
    true = torch.full((8,), 1 / 8, dtype=torch.float64)
    even = torch.full((8,), 0.01 / 8, dtype=torch.float64)  # 1 % of the mass near the curve, spread evenly
    assert covered_fraction(even, true, 0.5, 1e-3) == 1.0
    assert covered_fraction(even, true, 0.5, 0.02) == 0.0  # below min_mass: no answer on the curve
    tilted = torch.tensor([0.3, 0.3, 0.1, 0.1, 0.07, 0.07, 0.03, 0.03], dtype=torch.float64)
    assert covered_fraction(tilted, true, 0.5, 1e-3) == 6 / 8  # 0.03 < 0.0625 = half of 1/8
    assert covered_fraction(tilted, true, 0.2, 1e-3) == 1.0
    assert covered_fraction(tilted / 2, true, 0.5, 1e-3) == 6 / 8  # shares: half the mass off the curve


def test_applicability(registry):
    horn, branches = Horn(), Branches()
    assert ConditionalNLL().applies_to(horn) is None and ConditionalNLL().applies_to(branches) is None
    assert ArcCoverage().applies_to(horn) is None
    assert ArcCoverage().applies_to(branches) is not None  # three points, not a curve
    assert ConditionalNLL().applies_to(registry.make("tasks", "8gaussians")) is not None
    assert (horn.main_metric, branches.main_metric) == ("conditional_nll", "conditional_nll")
    assert "arc_coverage" in horn.headline_metrics and "branch_coverage" in branches.headline_metrics


@pytest.mark.slow
def test_horn_oracle_nll_is_exact_on_large_ellipses(registry):
    """As above where the ellipses are largest (x up to 0.95, radii up to 13.4): the band's
    angular step is longest there."""
    task = Horn()
    profile = dataclasses.replace(SMOKE, n_test=4, n_inference=4)
    data = task.make(profile, torch.Generator().manual_seed(7))
    data.test = task.sample(4, torch.Generator().manual_seed(8), x=torch.tensor([[0.55], [0.7], [0.85], [0.95]]))
    exact = np.mean([-horn_log_p(float(x), y.double().numpy()) for x, y in zip(data.test.x[:, 0], data.test.y)])
    got = ConditionalNLL().compute(make_ctx(registry, task, oracle(registry, task, data), data, profile))
    assert got == pytest.approx(exact, abs=1e-4)
