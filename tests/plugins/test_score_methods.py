"""Score matching recovers a Gaussian: denoising (one sigma and a ladder) and sliced
score matching with and without variance reduction (plugins/methods/{dsm,ssm}.py).

The reference is closed-form: a quadratic energy E(y) = 1/2 (y - mu)^T P (y - mu)
trained by each loss on samples of a known 2-D Gaussian must reach the sample's
mean (NumPy) and precision. Score matching is consistent, so SSM targets the
inverse sample covariance itself; DSM at noise sigma targets the Gaussian blurred by
it, (C + sigma^2 I)^-1, and the sigma^2-weighted ladder (C + s_eff^2 I)^-1 with
s_eff^2 = sum sigma^4 / sum sigma^2 (derivation in dsm.py). A wrong sign, a missing
term or a wrong weighting moves the optimum away from these.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from ebmbench.context import TrainContext
from ebmbench.profiles import Profile
from ebmbench.registry import LoadConfig, load_registry
from ebmbench.seeding import make_generator
from ebmbench_plugins.methods.dsm import dsm_loss, dsm_multi_loss, effective_sigma, geometric_sigmas
from ebmbench_plugins.methods.ssm import projections, ssm_loss

MU = np.array([1.0, -0.5])
COV = np.array([[1.0, 0.6], [0.6, 0.8]])


class Quadratic(nn.Module):
    """E(y) = 1/2 ||L^T (y - mu)||^2 with learnable mu and Cholesky factor L of the precision."""

    def __init__(self, d=2):
        super().__init__()
        self.mu = nn.Parameter(torch.zeros(d))
        self.raw = nn.Parameter(torch.zeros(d, d))  # strict lower part + log-diagonal of L

    def chol(self):
        return torch.tril(self.raw, -1) + torch.diag(torch.exp(torch.diagonal(self.raw)))

    def precision(self):
        chol = self.chol()
        return (chol @ chol.T).detach().double().numpy()

    def forward(self, y, x=None):
        return 0.5 * ((y - self.mu) @ self.chol()).pow(2).sum(-1)


@pytest.fixture(scope="module")
def gaussian():
    """20 000 draws of N(MU, COV) and their sample mean and covariance (NumPy)."""
    g = torch.Generator().manual_seed(0)
    y = (
        torch.from_numpy(MU).float()
        + torch.randn(20000, 2, generator=g) @ torch.from_numpy(np.linalg.cholesky(COV)).float().T
    )
    y64 = y.double().numpy()
    return y, y64.mean(0), np.cov(y64.T)


def train_quadratic(loss_fn, y, steps=600, batch=512, lr=0.02, seed=1):
    """Adam with a cosine decay (the end of training averages out minibatch noise)."""
    g = torch.Generator().manual_seed(seed)
    model = Quadratic()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    for _ in range(steps):
        yb = y[torch.randint(0, y.shape[0], (batch,), generator=g)]
        loss = loss_fn(model, yb, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return model


def assert_gaussian(model, mean, precision, mean_tol=0.05, rel_tol=0.04):
    got_mu = model.mu.detach().double().numpy()
    got_p = model.precision()
    assert np.abs(got_mu - mean).max() < mean_tol, (got_mu, mean)
    rel = np.linalg.norm(got_p - precision) / np.linalg.norm(precision)
    assert rel < rel_tol, (rel, got_p, precision)


def test_dsm_single_sigma_recovers_the_blurred_gaussian(gaussian):
    y, mean, cov = gaussian
    sigma = 0.3  # large enough for the blur to be measurable (and low gradient noise)
    model = train_quadratic(lambda m, yb, g: dsm_loss(m, yb, None, sigma, g), y)
    assert_gaussian(model, mean, np.linalg.inv(cov + sigma**2 * np.eye(2)))
    rel = np.linalg.norm(model.precision() - np.linalg.inv(cov)) / np.linalg.norm(np.linalg.inv(cov))
    assert rel > 0.15  # ... and it is there: DSM fits the noisy data, not the data


def test_dsm_ladder_recovers_the_effective_blur(gaussian):
    y, mean, cov = gaussian
    sigmas = geometric_sigmas(1.0, 0.1, 10)
    s_eff = effective_sigma(sigmas)
    model = train_quadratic(lambda m, yb, g: dsm_multi_loss(m, yb, None, sigmas, g), y)
    assert_gaussian(model, mean, np.linalg.inv(cov + s_eff**2 * np.eye(2)))
    # s_eff ~ 0.79 for this ladder: the data's own precision is far from what is learned.
    rel = np.linalg.norm(model.precision() - np.linalg.inv(cov)) / np.linalg.norm(np.linalg.inv(cov))
    assert rel > 0.3


def test_geometric_ladder():
    sigmas = geometric_sigmas(1.0, 0.01, 10)
    assert sigmas[0] == pytest.approx(1.0) and sigmas[-1] == pytest.approx(0.01)
    assert np.allclose(np.diff(np.log(sigmas)), math.log(0.01) / 9)
    assert geometric_sigmas(1.0, 0.3, 1) == [0.3]
    assert effective_sigma([0.2]) == pytest.approx(0.2)


@pytest.mark.parametrize("kind,vr", [("rademacher", False), ("gaussian", False), ("rademacher", True)])
def test_ssm_recovers_the_gaussian(gaussian, kind, vr):
    y, mean, cov = gaussian
    model = train_quadratic(lambda m, yb, g: ssm_loss(m, yb, None, g, kind=kind, vr=vr)[0], y)
    assert_gaussian(model, mean, np.linalg.inv(cov))


def test_ssm_loss_is_unbiased_for_the_score_matching_objective():
    """For a quadratic energy Hyvärinen's objective is -tr(P) + 1/2 E||P (y - mu)||^2 exactly;
    the sliced estimate averages to it (many projections), and SSM-VR has lower variance."""
    g = torch.Generator().manual_seed(3)
    model = Quadratic()
    with torch.no_grad():
        model.mu.copy_(torch.tensor([0.3, -0.2]))
        model.raw.copy_(torch.tensor([[0.2, 0.0], [0.5, -0.1]]))
    y = torch.randn(64, 2, generator=g)
    p = torch.from_numpy(model.precision()).float()
    exact = (-torch.trace(p) + 0.5 * ((y - model.mu.detach()) @ p).pow(2).sum(-1).mean()).item()
    draws = {
        vr: torch.tensor([ssm_loss(model, y, None, g, vr=vr)[0].item() for _ in range(400)]) for vr in (False, True)
    }
    for vr, d in draws.items():
        assert abs(d.mean().item() - exact) < 4 * d.std().item() / 20 + 1e-6, (vr, d.mean(), exact)
    assert draws[True].std() < draws[False].std()


def test_projections_have_identity_second_moment():
    g = torch.Generator().manual_seed(5)
    for kind in ("rademacher", "gaussian"):
        v = projections((200000, 3), kind, g)
        second = (v.T @ v / v.shape[0]).numpy()
        assert np.allclose(second, np.eye(3), atol=0.02), (kind, second)
    assert set(projections((1000, 2), "rademacher", g).unique().tolist()) == {-1.0, 1.0}


# ------------------------------------------------------------------ through the plugin API
@pytest.fixture(scope="module")
def registry():
    return load_registry(LoadConfig())


def train_method(registry, task_name, model_name, method_name, steps=40, **params):
    """Train a method on a tiny profile through TrainContext; returns (model, ctx)."""
    profile = Profile("tiny", 1000, 200, 200, steps, 64, 50, 5, 5, 2, 5, 1)
    task = registry.make("tasks", task_name)
    data = task.make(profile, make_generator(1))
    spec = registry.make("models", model_name)
    method = registry.make("methods", method_name, **params)
    assert spec.compatible(task) is None and method.compatible(spec, task) is None
    model = spec.build(task, data, make_generator(2))
    ctx = TrainContext(registry, task, profile, 3, "cpu")
    method.train(model, data, ctx)
    return model, ctx


@pytest.mark.parametrize(
    "method,params,extra",
    [
        ("dsm", {}, set()),
        ("dsm_multi", {}, {"sigma_eff"}),
        ("dsm_multi", {"schedule": "anneal"}, {"sigma"}),
        ("ssm", {}, {"trace_term", "norm_term"}),
        ("ssm", {"vr": True, "projections": 2, "distribution": "gaussian"}, {"trace_term", "norm_term"}),
    ],
)
@pytest.mark.parametrize("task", ["8gaussians", "horn"])
def test_methods_train_and_log_their_diagnostics(registry, method, params, extra, task):
    model, ctx = train_method(registry, task, "mlp", method, **params)
    assert len(ctx.curve) == 40 and ctx.curve[-1]["step"] == 39
    assert {"loss", "energy_gap", "noise_gap", "grad_norm"} | extra <= set(ctx.curve[-1])
    assert all(math.isfinite(v) for row in ctx.curve for v in row.values())


def test_anneal_walks_down_the_ladder(registry):
    _, ctx = train_method(registry, "8gaussians", "mlp", "dsm_multi", schedule="anneal", levels=4)
    used = [row["sigma"] for row in ctx.curve]
    assert used == sorted(used, reverse=True)
    assert used[0] == pytest.approx(1.0) and used[-1] == pytest.approx(0.1)


def test_compatibility(registry):
    mlp, ae = registry.make("models", "mlp"), registry.make("models", "autoencoder")
    classify = registry.make("tasks", "digits-classify")
    ssm = registry.make("methods", "ssm")
    assert "discrete" in ssm.compatible(mlp, classify)
    assert "autoencoder" in registry.make("methods", "dsm_multi").compatible(ae, registry.make("tasks", "horn"))
    bad = registry.make("methods", "dsm_multi", sigma_min=2.0, sigma_max=1.0)
    assert "sigma_min" in bad.compatible(mlp, registry.make("tasks", "8gaussians"))
