"""The vertical slice's metrics and ground truth against independent references:
MMD^2 against a direct SciPy computation, AUROC against scikit-learn, the energy gap
against its closed form, the exact 8gaussians log-density, and horn's support distance
(plugins/metrics/{sample_quality,energy}.py, plugins/tasks/{toy2d,conditional}.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from sklearn.metrics import roc_auc_score

from ebmbench.context import EvalContext
from ebmbench.profiles import get_profile
from ebmbench.registry import LoadConfig, load_registry
from ebmbench.seeding import make_generator
from ebmbench_plugins.metrics.energy import auroc_lower_is_positive
from ebmbench_plugins.metrics.sample_quality import BANDWIDTHS, mmd2_unbiased


@pytest.fixture(scope="module")
def registry():
    return load_registry(LoadConfig())


# --------------------------------------------------------------------------- MMD^2
def mmd2_reference(a: np.ndarray, b: np.ndarray, bandwidths) -> float:
    """Gretton et al. 2012, eq. 3 (unbiased), k = sum of RBF kernels, by dense matrices."""

    def k(u, v):
        d2 = cdist(u, v, "sqeuclidean")
        return sum(np.exp(-d2 / (2 * h * h)) for h in bandwidths)

    m, n = len(a), len(b)
    kxx, kyy, kxy = k(a, a), k(b, b), k(a, b)
    return (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2 * kxy.mean()


@pytest.mark.parametrize("block", [2048, 16, 7])
def test_mmd2_matches_direct_scipy_computation(block):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(53, 2))
    b = rng.normal(loc=0.4, scale=1.3, size=(37, 2))
    got = mmd2_unbiased(torch.from_numpy(a), torch.from_numpy(b), BANDWIDTHS, block=block)
    assert got == pytest.approx(mmd2_reference(a, b, BANDWIDTHS), rel=1e-10, abs=1e-12)


def test_mmd2_other_bandwidths_and_dimension():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(40, 5)), rng.normal(size=(60, 5)) + 0.2
    hs = (0.3, 1.7)
    got = mmd2_unbiased(torch.from_numpy(a).float(), torch.from_numpy(b).float(), hs, block=9)
    assert got == pytest.approx(mmd2_reference(a.astype(np.float32), b.astype(np.float32), hs), rel=1e-5)


def test_mmd2_is_unbiased_near_zero_and_grows_with_shift():
    g = make_generator(2)
    a, b = torch.randn(400, 2, generator=g), torch.randn(400, 2, generator=g)
    same = mmd2_unbiased(a, b)
    assert abs(same) < 0.01  # can be negative: the estimator is unbiased
    shifted = [mmd2_unbiased(a, b + s) for s in (0.25, 0.5, 1.0)]
    assert same < shifted[0] < shifted[1] < shifted[2]


# --------------------------------------------------------------------------- AUROC
def sklearn_auroc(e_data, e_neg) -> float:
    labels = np.r_[np.ones(len(e_data)), np.zeros(len(e_neg))]
    return roc_auc_score(labels, -np.r_[e_data, e_neg])  # lower energy = positive


def test_auroc_matches_sklearn_continuous():
    rng = np.random.default_rng(3)
    e_data, e_noise = rng.normal(0, 1, 300), rng.normal(0.8, 1.5, 200)
    assert auroc_lower_is_positive(e_data, e_noise) == pytest.approx(sklearn_auroc(e_data, e_noise), abs=1e-12)


def test_auroc_matches_sklearn_with_ties():
    rng = np.random.default_rng(4)
    e_data = rng.integers(0, 5, 250).astype(float)  # heavy ties, within and across groups
    e_noise = rng.integers(2, 8, 180).astype(float)
    got = auroc_lower_is_positive(e_data, e_noise)
    assert got == pytest.approx(sklearn_auroc(e_data, e_noise), abs=1e-12)
    # pairwise definition: P(E_data < E_noise) + 0.5 P(tie)
    diff = e_data[:, None] - e_noise[None, :]
    assert got == pytest.approx((diff < 0).mean() + 0.5 * (diff == 0).mean(), abs=1e-12)


def test_auroc_extremes():
    assert auroc_lower_is_positive([0.0, 1.0], [2.0, 3.0, 4.0]) == 1.0
    assert auroc_lower_is_positive([5.0, 6.0], [2.0, 3.0]) == 0.0
    assert auroc_lower_is_positive([1.0, 1.0], [1.0, 1.0, 1.0]) == 0.5
    assert auroc_lower_is_positive(torch.tensor([0.0, 1.0]), torch.tensor([0.5])) == 0.5


# ---------------------------------------------------------- metrics on a known energy
class SquaredNorm(torch.nn.Module):
    """E(y) = ||y||^2: every expectation below has a closed form."""

    def forward(self, y, x=None):
        return (y**2).sum(-1)


def eval_context(registry, task_name, model, seed=0):
    task = registry.make("tasks", task_name)
    profile = get_profile("smoke")
    data = task.make(profile, make_generator(seed))
    method = registry.make("methods", "dsm")
    return EvalContext(registry, task, profile, seed, "cpu", model=model, data=data, method=method)


def test_energy_gap_and_auroc_metrics_on_a_closed_form_energy(registry):
    ctx = eval_context(registry, "8gaussians", SquaredNorm())
    gap = registry.make("metrics", "energy_gap").compute(ctx)
    # noise uniform on [-4.5, 4.5]^2: E||u||^2 = 2 * 4.5^2 / 3 = 13.5; data: E||y||^2 = r^2 + 2 s^2
    r, s = 4.0 / 1.414, 0.5 / 1.414
    expected = 13.5 - (r * r + 2 * s * s)
    n = len(ctx.data.test)
    sd = math.sqrt(2 * 4.5**4 * 4 / 45 / n + 4 * r * r * s * s / n)  # std of the two sample means
    assert gap == pytest.approx(expected, abs=5 * sd)
    auroc = registry.make("metrics", "auroc_noise").compute(ctx)
    # P(||y|| < ||u||) for the ring of radius ~2.83 against the uniform square
    assert 0.5 < auroc < 0.9
    # a perfect energy (the true negative log-density) separates data from noise better
    task = ctx.task

    class TrueEnergy(torch.nn.Module):
        def forward(self, y, x=None):
            return -task.log_density(y)

    better = registry.make("metrics", "auroc_noise").compute(eval_context(registry, "8gaussians", TrueEnergy()))
    assert better > max(auroc, 0.9)


# ------------------------------------------------------------- 8gaussians density
def test_8gaussians_mean_nll_is_the_primers(registry):
    task = registry.make("tasks", "8gaussians")
    y = task.sample(200_000, make_generator(7)).y.double()
    nll = -task.log_density(y).double()
    assert float(nll.mean()) == pytest.approx(2.831, abs=0.01)  # docs/science.md §5: true test NLL


def test_8gaussians_density_integrates_to_one(registry):
    task = registry.make("tasks", "8gaussians")
    lin = torch.linspace(-6, 6, 601, dtype=torch.float64)
    h = float(lin[1] - lin[0])
    yy, xx = torch.meshgrid(lin, lin, indexing="ij")
    grid = torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)
    logp = torch.cat([task.log_density(chunk) for chunk in grid.split(65536)]).double()
    p = logp.exp()
    assert float(p.sum()) * h * h == pytest.approx(1.0, abs=1e-4)
    # the entropy by quadrature equals the Monte Carlo NLL above
    entropy = float(-(p * logp).sum()) * h * h
    assert entropy == pytest.approx(2.831, abs=0.01)


def test_8gaussians_log_density_matches_scipy_mixture(registry):
    from scipy.stats import multivariate_normal

    task = registry.make("tasks", "8gaussians")
    y = task.sample(50, make_generator(8)).y.double()
    centers = task.centers().numpy()
    s2 = (0.5 / 1.414) ** 2
    ref = np.log(np.mean([multivariate_normal(c, s2 * np.eye(2)).pdf(y.numpy()) for c in centers], axis=0))
    np.testing.assert_allclose(task.log_density(y).double().numpy(), ref, rtol=1e-10)


# --------------------------------------------------------------- horn support
def test_horn_support_distance_on_the_curve_is_zero(registry):
    task = registry.make("tasks", "horn")
    g = make_generator(9)
    x = torch.rand(500, 1, generator=g, dtype=torch.float64)
    theta = torch.rand(500, 1, generator=g, dtype=torch.float64) * 2 * math.pi
    r = task.radii(x)
    on_curve = r * torch.cat([theta.cos(), theta.sin()], 1)
    d = task.support_distance(on_curve.float(), x.float())
    # the curve is searched on 4096 angles: the error is below half a chord (~0.012)
    assert float(d.max()) < 0.02


def test_horn_support_distance_at_known_offsets(registry):
    task = registry.make("tasks", "horn")
    # at x = 0.5 both radii are 1.75 e: a circle, so radial offsets are exact distances
    r = 1.75 * math.e
    theta = torch.linspace(0, 2 * math.pi, 13, dtype=torch.float64)[:-1, None]
    ring = torch.cat([theta.cos(), theta.sin()], 1)
    x = torch.full((len(theta), 1), 0.5)
    for offset in (0.3, -0.3, 1.0):
        d = task.support_distance(((r + offset) * ring).float(), x)
        np.testing.assert_allclose(d.numpy(), abs(offset), atol=0.015)
    assert float(task.support_distance(torch.zeros(1, 2), torch.full((1, 1), 0.5))) == pytest.approx(r, abs=1e-3)
    # at x = 0 the ellipse has semi-axes 2 (along y1) and 1.5 (along y2); outside points on an
    # axis are nearest to that axis' vertex
    x0 = torch.zeros(2, 1)
    d = task.support_distance(torch.tensor([[2.3, 0.0], [0.0, -1.8]]), x0)
    np.testing.assert_allclose(d.numpy(), [0.3, 0.3], atol=1e-4)


def test_horn_samples_lie_near_their_curve(registry):
    task = registry.make("tasks", "horn")
    split = task.sample(2000, make_generator(10))
    d = task.support_distance(split.y, split.x)
    # Gaussian noise of std 0.05 in 2-D: the distance to the curve is ~ |N(0, 0.05^2)| along the normal
    assert float(d.mean()) == pytest.approx(0.05 * math.sqrt(2 / math.pi), rel=0.15)
