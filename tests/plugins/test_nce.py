"""Noise-contrastive estimation (plugins/methods/nce.py).

References: a quadratic energy trained by the NCE loss on samples of a known 2-D
Gaussian must reach the sample's mean and precision (NumPy) and a log-normaliser c
equal to the Gaussian's log-partition function log((2 pi)^(d/2) |C|^(1/2)) — NCE is the
one method here that estimates c. The noise laws are checked against SciPy's
multivariate normal and scikit-learn's GaussianMixture densities.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal
from torch import nn

from ebmbench.context import TrainContext
from ebmbench.profiles import Profile
from ebmbench.registry import LoadConfig, load_registry
from ebmbench.seeding import make_generator
from ebmbench_plugins.methods.nce import fit_noise, nce_loss

MU = np.array([1.0, -0.5])
COV = np.array([[1.0, 0.6], [0.6, 0.8]])


class Quadratic(nn.Module):
    """E(y) = 1/2 ||L^T (y - mu)||^2 with learnable mu and Cholesky factor L of the precision."""

    def __init__(self, d=2):
        super().__init__()
        self.mu = nn.Parameter(torch.zeros(d))
        self.raw = nn.Parameter(torch.zeros(d, d))

    def chol(self):
        return torch.tril(self.raw, -1) + torch.diag(torch.exp(torch.diagonal(self.raw)))

    def forward(self, y, x=None):
        return 0.5 * ((y - self.mu) @ self.chol()).pow(2).sum(-1)


@pytest.fixture(scope="module")
def gaussian():
    g = torch.Generator().manual_seed(0)
    chol = torch.from_numpy(np.linalg.cholesky(COV)).float()
    y = torch.from_numpy(MU).float() + torch.randn(20000, 2, generator=g) @ chol.T
    y64 = y.double().numpy()
    return y, y64.mean(0), np.cov(y64.T)


@pytest.mark.parametrize("kind,scale,nu", [("gaussian", 1.5, 4), ("gaussian", 1.0, 1), ("mixture", 1.5, 2)])
def test_nce_recovers_mean_precision_and_log_partition(gaussian, kind, scale, nu):
    y, mean, cov = gaussian
    g = torch.Generator().manual_seed(1)
    noise = fit_noise(y, kind, 3, scale, g)
    model = Quadratic()
    log_c = nn.Parameter(torch.tensor(0.0))
    opt = torch.optim.Adam([*model.parameters(), log_c], lr=0.02)
    steps = 600
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)  # decay averages out batch noise
    for _ in range(steps):
        yb = y[torch.randint(0, y.shape[0], (256,), generator=g)]
        loss, diag = nce_loss(model, log_c, yb, None, noise, nu, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    chol = model.chol().detach().double().numpy()
    precision = chol @ chol.T
    target = np.linalg.inv(cov)
    assert np.abs(model.mu.detach().numpy() - mean).max() < 0.05
    assert np.linalg.norm(precision - target) / np.linalg.norm(target) < 0.05, (precision, target)
    log_z = math.log(2 * math.pi) + 0.5 * math.log(np.linalg.det(cov))
    assert abs(log_c.item() - log_z) < 0.05, (log_c.item(), log_z)
    assert 0.0 <= float(diag["accuracy"]) <= 1.0


def test_gaussian_noise_matches_scipy(gaussian):
    y, mean, cov = gaussian
    g = torch.Generator().manual_seed(2)
    noise = fit_noise(y, "gaussian", 1, 1.3, g)
    probe = torch.randn(500, 2, generator=g) * 2
    ridge = 1e-3 * y.double().var(0).mean().item()
    ref = multivariate_normal(mean, (cov + ridge * np.eye(2)) * 1.3**2).logpdf(probe.double().numpy())
    assert np.allclose(noise.log_prob(probe).numpy(), ref, atol=1e-4)
    draws = noise.sample(200000, g).double().numpy()
    assert np.allclose(draws.mean(0), mean, atol=0.02)
    assert np.allclose(np.cov(draws.T), cov * 1.3**2, atol=0.03)


def test_mixture_noise_matches_sklearn():
    from sklearn.mixture import GaussianMixture

    g = torch.Generator().manual_seed(3)
    centres = torch.tensor([[-2.0, 0.0], [2.0, 1.0], [0.0, 3.0]])
    y = centres[torch.randint(0, 3, (3000,), generator=g)] + 0.3 * torch.randn(3000, 2, generator=g)
    gen = torch.Generator().manual_seed(4)
    noise = fit_noise(y, "mixture", 3, 1.0, gen)
    # the same fit, by scikit-learn, with the seed fit_noise drew from the same generator
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=torch.Generator().manual_seed(4)))
    ridge = 1e-3 * y.double().var(0).mean().item()
    gmm = GaussianMixture(3, covariance_type="full", reg_covar=ridge, random_state=seed).fit(y.double().numpy())
    probe = torch.randn(400, 2, generator=g) * 3
    # fit_noise adds the ridge once more (a floor for the single-Gaussian case too)
    ref = GaussianMixture(3, covariance_type="full")
    ref.weights_, ref.means_ = gmm.weights_, gmm.means_
    ref.covariances_ = gmm.covariances_ + ridge * np.eye(2)
    ref.precisions_cholesky_ = np.linalg.cholesky(np.linalg.inv(ref.covariances_))
    assert np.allclose(noise.log_prob(probe).numpy(), ref.score_samples(probe.double().numpy()), atol=1e-4)
    draws = noise.sample(100000, g)
    # every component is drawn with its weight: nearest-centre shares match the weights
    share = torch.bincount(torch.cdist(draws, torch.from_numpy(gmm.means_).float()).argmin(1), minlength=3) / 1e5
    assert np.allclose(np.sort(share.numpy()), np.sort(gmm.weights_), atol=0.01)


def test_ridge_keeps_constant_coordinates_invertible():
    g = torch.Generator().manual_seed(5)
    y = torch.cat([torch.rand(500, 3, generator=g), torch.zeros(500, 1)], 1)  # a dead pixel
    noise = fit_noise(y, "gaussian", 1, 1.0, g)
    assert torch.isfinite(noise.log_prob(y)).all()


# ------------------------------------------------------------------ through the plugin API
@pytest.fixture(scope="module")
def registry():
    return load_registry(LoadConfig())


def train_nce(registry, task, steps, **params):
    profile = Profile("tiny", 2000, 200, 200, steps, 128, 50, 5, 5, 2, 5, 1)
    t = registry.make("tasks", task)
    data = t.make(profile, make_generator(1))
    model = registry.make("models", "mlp").build(t, data, make_generator(2))
    ctx = TrainContext(registry, t, profile, 3, "cpu")
    registry.make("methods", "nce", **params).train(model, data, ctx)
    return ctx.curve


@pytest.mark.parametrize(
    "task,params", [("8gaussians", {}), ("horn", {"nu": 2}), ("8gaussians", {"noise": "mixture", "components": 4})]
)
def test_nce_trains_and_logs(registry, task, params):
    curve = train_nce(registry, task, 30, **params)
    assert {"loss", "energy_gap", "noise_gap", "grad_norm", "accuracy", "log_normaliser"} <= set(curve[-1])
    assert all(math.isfinite(v) for row in curve for v in row.values())


def test_nce_learns_to_tell_data_from_gaussian_noise(registry):
    """8gaussians is far from its fitted Gaussian: the classifier must beat chance clearly."""
    curve = train_nce(registry, "8gaussians", 300)
    late = np.mean([row["accuracy"] for row in curve[-10:]])
    assert late > 0.7, late
    assert np.mean([row["loss"] for row in curve[-10:]]) < curve[0]["loss"] - 0.2
    assert curve[-1]["energy_gap"] > 0  # noise has higher energy than data
