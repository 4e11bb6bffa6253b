"""`mode_weight_error` (plugins/metrics/modes.py) against independent references: SciPy
quadrature of each Gaussian's mass in each mode's Voronoi wedge, closed-form total
variations, a k-d tree's nearest centres, and the metric's own floor and calibration."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from support import fn_energy

import ebmbench
from ebmbench.context import EvalContext
from ebmbench.profiles import get_profile
from ebmbench_plugins.metrics import modes as M
from ebmbench_plugins.tasks import grid
from ebmbench_plugins.tasks.toy2d import EightGaussians, Rings
from ebmbench_plugins.tasks.weighted import WeightedEightGaussians, weighted_mixture_log_density

RADIUS, SD = 4 / 1.414, 0.5 / 1.414  # 8gaussians' law, written out independently
W = WeightedEightGaussians.weights()
UNIFORM = torch.full((8,), 1 / 8, dtype=torch.float64)


class EqualEightGaussians(EightGaussians):
    """8gaussians declaring its (equal) mixture weights, as the metric needs."""

    name = "8gaussians-mixture-test"
    ground_truth = EightGaussians.ground_truth | {"mixture"}

    def mixture_components(self):
        return self.centers(), torch.full((8,), 1 / 8, dtype=torch.float64)


def make_ctx(task, model, seed=0):
    g = torch.Generator().manual_seed(seed)
    data = ebmbench.TaskData(*(task.sample(k, g) for k in (500, 500, 500)))
    return EvalContext(None, task, get_profile("smoke"), seed, "cpu", model=model, data=data, method=None)


def mixture_energy(weights, std=WeightedEightGaussians.STD / WeightedEightGaussians.DIV):
    """-log of the mixture of 8gaussians' centres with these weights (a normalised density)."""
    return fn_energy(lambda y: -weighted_mixture_log_density(y, EightGaussians.centers(), weights, std))


def error(ctx, calibrated=False):
    return (M.ModeWeightErrorCal if calibrated else M.ModeWeightError)().compute(ctx)


def wedge_mass(offset: int) -> float:
    """Mass of N(c, SD^2 I), |c| = RADIUS at angle offset * pi/4, in the wedge |theta| < pi/8
    (the Voronoi cell of the centre at angle 0): SciPy quad over theta of the radial integral
    int_0^inf r N2(r u; c, SD^2 I) dr in closed form, with a = u.c, b^2 = |c|^2 - a^2:
    exp(-b^2 / 2 SD^2) (SD^2 exp(-a^2 / 2 SD^2) + a SD sqrt(2 pi) Phi(a / SD)) / (2 pi SD^2)."""
    from scipy import integrate
    from scipy.stats import norm

    def radial(theta):
        a = RADIUS * math.cos(theta - offset * math.pi / 4)
        b2 = RADIUS**2 - a * a
        inner = SD**2 * math.exp(-a * a / (2 * SD**2)) + a * SD * math.sqrt(2 * math.pi) * norm.cdf(a / SD)
        return math.exp(-b2 / (2 * SD**2)) * inner / (2 * math.pi * SD**2)

    return integrate.quad(radial, -math.pi / 8, math.pi / 8, epsabs=1e-13, epsrel=1e-13)[0]


def wedge_weights(weights):
    """Exact mass of each mode's Voronoi wedge under the mixture with these weights (in the
    order of centers()), the plane unbounded: sum_j w_j M(angular offset of j from k)."""
    c = EightGaussians.centers().numpy()
    pos = np.rint(np.mod(np.arctan2(c[:, 1], c[:, 0]), 2 * np.pi) / (np.pi / 4)).astype(int)
    m = [wedge_mass(d) for d in range(8)]
    w = np.asarray(weights, dtype=np.float64)
    return np.array([sum(w[j] * m[(pos[j] - pos[k]) % 8] for j in range(8)) for k in range(8)])


def test_voronoi_labels_are_a_kd_trees_nearest_centres():
    from scipy.spatial import cKDTree

    pts = torch.from_numpy(np.random.default_rng(1).uniform(-4.5, 4.5, (20_000, 2)))
    centres = EightGaussians.centers()
    ours = M.voronoi_labels(pts, centres).numpy()
    np.testing.assert_array_equal(ours, cKDTree(centres.numpy()).query(pts.numpy())[1])
    assert M.total_variation([0.5, 0.5], [1.0, 0.0]) == 0.5


def test_exact_densities_score_zero():
    for task in (WeightedEightGaussians(), EqualEightGaussians()):
        ctx = make_ctx(task, fn_energy(lambda y, t=task: -t.log_density(y)))
        assert error(ctx) < 1e-8  # the floor's share, EPS = 1e-10, is all that differs
        assert error(ctx, calibrated=True) < 1e-4  # beta_cal of the truth is 1 up to its val split


def test_true_cell_masses_are_the_nominal_weights_up_to_the_tails():
    """The target of the metric: the truth's mass per Voronoi cell on the grid. It equals the
    SciPy wedge masses to the grid's quadrature error, and the nominal weights to within the
    Gaussian tails that cross the cell edges (at most 5e-4 per mode, TV 0.0011: docstring)."""
    task = WeightedEightGaussians()
    ctx = make_ctx(task, fn_energy(lambda y: -task.log_density(y)))
    _, w_grid = M.ModeWeightError().weights(ctx)
    exact = wedge_weights(W.numpy())
    np.testing.assert_allclose(w_grid.numpy(), exact, atol=2e-5)
    assert float((w_grid - W).abs().max()) == pytest.approx(4.9e-4, abs=0.5e-4)
    assert M.total_variation(w_grid, W) == pytest.approx(0.0011, abs=0.0001)


@pytest.mark.parametrize(
    "task_cls, model_weights",
    [
        (WeightedEightGaussians, UNIFORM),  # weight blindness: the equal mixture on the unequal task
        (EqualEightGaussians, W),  # and the other way round, on 8gaussians
        (WeightedEightGaussians, W.flip(0)),  # the weights reversed
    ],
)
def test_wrong_weights_score_the_tv_of_the_scipy_wedge_masses(task_cls, model_weights):
    task = task_cls()
    true_weights = task.mixture_components()[1]
    value = error(make_ctx(task, mixture_energy(model_weights)))
    reference = 0.5 * np.abs(wedge_weights(model_weights.numpy()) - wedge_weights(true_weights.numpy())).sum()
    assert value == pytest.approx(reference, abs=5e-5)
    # and the closed form of the nominal weights, up to the tails crossing the cell edges
    # (largest where neighbours' weights differ most: 0.4978 for 0.5 with the weights reversed)
    assert value == pytest.approx(0.5 * float((model_weights - true_weights).abs().sum()), abs=3e-3)


def test_temperature_reweights_the_modes_and_beta_cal_undoes_it():
    """E = -2 log p is p^2 / Z: equal-shape modes get masses proportional to w_k^2 (their
    shapes narrow alike), so the error at beta = 1 is the TV between w^2 / sum w^2 and w;
    beta_cal = 1/2 recovers p, and the calibrated error its floor."""
    task = WeightedEightGaussians()
    ctx = make_ctx(task, fn_energy(lambda y: -2 * task.log_density(y)))
    squared = W**2 / (W**2).sum()
    assert error(ctx) == pytest.approx(M.total_variation(squared, W), abs=3e-3)
    assert error(ctx) > 0.1
    assert error(ctx, calibrated=True) < 0.01


def test_applies_to_mixtures_on_the_grid_only():
    metric = M.ModeWeightError()
    assert metric.applies_to(WeightedEightGaussians()) is None
    assert metric.applies_to(EqualEightGaussians()) is None
    assert "needs ground truth mixture" in metric.applies_to(Rings())  # no discrete modes

    class Wide(WeightedEightGaussians):
        name = "wide-test"
        domain = ((-6.0, 6.0), (-6.0, 6.0))

    assert "outside the evaluation grid" in metric.applies_to(Wide())
    assert grid.GRID_DOMAIN == (-4.5, 4.5)
