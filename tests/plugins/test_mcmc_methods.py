"""The MCMC maximum-likelihood methods (exact_ml, cd, pcd, short_run, hmc_ml).

* exact_ml's quadrature log Z against the Gaussian closed form log(2 pi sqrt(det C));
* exact_ml recovers a Gaussian energy's mean and precision from its samples (the MLE
  is the sample mean and the inverse sample covariance);
* on 8gaussians, at a small budget, each MCMC method lowers the grid-normalised test
  NLL (logsumexp over a 300 x 300 grid, computed here) well below the uniform
  density's log 81 = 4.39 and the single-Gaussian failure level 4.25 (docs/science.md §5);
* curves carry the diagnostics, skips carry reasons, conditional tasks run.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from ebmbench_plugins.methods.exact_ml import grid_log_partition

import ebmbench
from ebmbench.context import TrainContext, batched_energy
from ebmbench.profiles import get_profile
from ebmbench.registry import load_registry

BOX = ((-4.5, 4.5), (-4.5, 4.5))
MU = torch.tensor([0.5, -0.3])
COV = torch.tensor([[1.0, 0.3], [0.3, 0.5]])


@pytest.fixture(scope="module")
def registry():
    return load_registry()


class GaussianTask(ebmbench.Task):
    name = "test-gaussian"
    dim = 2
    domain = BOX
    main_metric = "nll_grid"

    def sample(self, n, generator, x=None):
        z = torch.randn(n, 2, generator=generator)
        return ebmbench.Split(MU + z @ torch.linalg.cholesky(COV).T)


class RampTask(ebmbench.Task):
    """Conditional: x ~ U(0, 1), y = (2x, -x) + N(0, 0.2^2 I)."""

    name = "test-ramp"
    kind = "conditional"
    dim = 2
    x_dim = 1
    domain = ((-1.0, 3.0), (-2.0, 1.0))
    main_metric = "mmd2"

    def sample(self, n, generator, x=None):
        x = torch.rand(n, 1, generator=generator)
        return ebmbench.Split(torch.cat([2 * x, -x], 1) + 0.2 * torch.randn(n, 2, generator=generator), x)


class Cube(GaussianTask):
    name = "test-cube"
    dim = 3
    domain = BOX + ((-1.0, 1.0),)


class QuadraticEnergy(torch.nn.Module):
    """E(y) = 1/2 (y - mu)^T L L^T (y - mu), L lower triangular with a positive diagonal."""

    def __init__(self):
        super().__init__()
        self.mu = torch.nn.Parameter(torch.zeros(2))
        self.log_diag = torch.nn.Parameter(torch.zeros(2))
        self.off = torch.nn.Parameter(torch.zeros(1))

    def precision(self):
        lower = torch.diag(self.log_diag.exp())
        lower = lower + torch.zeros(2, 2).index_put((torch.tensor([1]), torch.tensor([0])), self.off)
        return lower @ lower.T

    def forward(self, y, x=None):
        d = y - self.mu
        return 0.5 * ((d @ self.precision()) * d).sum(1)


def train(registry, method, task, model, profile, seed=0):
    data = task.make(profile, torch.Generator().manual_seed(100 + seed))
    ctx = TrainContext(registry, task, profile, seed, "cpu")
    method.train(model, data, ctx)
    return data, ctx


def grid_nll(model, y, n=300, lo=-4.5, hi=4.5):
    """Test NLL of exp(-E) normalised on an n x n cell-centred grid (independent of exact_ml)."""
    h = (hi - lo) / n
    axis = lo + (torch.arange(n, dtype=torch.float64) + 0.5) * h
    grid = torch.cartesian_prod(axis, axis).float()
    e_grid = batched_energy(model, grid).double()
    return float(batched_energy(model, y).double().mean() + torch.logsumexp(-e_grid, 0) + 2 * math.log(h))


# ------------------------------------------------------------------ exact ML
@pytest.mark.parametrize("offset", [None, torch.tensor([0.13, 0.71])])
def test_grid_log_partition_matches_the_gaussian_closed_form(offset):
    prec = torch.linalg.inv(COV)

    def energy(y):
        d = y - MU
        return 0.5 * ((d @ prec) * d).sum(1)

    log_z, e = grid_log_partition(energy, torch.tensor(BOX), 64, offset)
    assert e.shape == (64 * 64,)
    assert float(log_z) == pytest.approx(math.log(2 * math.pi * math.sqrt(float(torch.det(COV)))), abs=1e-4)


def test_exact_ml_recovers_gaussian_mean_and_precision(registry):
    profile = replace(get_profile("smoke"), n_train=4000, train_steps=250, batch_size=2000)
    method = registry.make("methods", "exact_ml", lr=0.05, grid=48)
    model = QuadraticEnergy()
    data, ctx = train(registry, method, GaussianTask(), model, profile)
    y = data.train.y
    sample_prec = torch.linalg.inv(torch.cov(y.T))
    with torch.no_grad():
        assert torch.allclose(model.mu, y.mean(0), atol=0.03), (model.mu, y.mean(0))
        assert torch.allclose(model.precision(), sample_prec, atol=0.08), (model.precision(), sample_prec)
        # and the sample MLE is itself close to the generating law
        assert torch.allclose(model.precision(), torch.linalg.inv(COV), atol=0.2)
    last = ctx.curve[-1]
    assert {"loss", "energy_gap", "grad_norm", "log_z"} <= set(last)
    # the loss is the NLL: at the MLE it is the Gaussian entropy, log(2 pi e sqrt(det C))
    assert last["loss"] == pytest.approx(math.log(2 * math.pi * math.e * math.sqrt(float(torch.det(COV)))), abs=0.1)


def test_exact_ml_skips_conditional_and_high_dimensional_tasks(registry):
    method, mlp = registry.make("methods", "exact_ml"), registry.make("models", "mlp")
    assert method.compatible(mlp, GaussianTask()) is None
    assert "conditional" in method.compatible(mlp, RampTask())
    assert "dimension" in method.compatible(mlp, Cube())
    assert "conditional" in method.compatible(mlp, registry.make("tasks", "horn"))


# ------------------------------------------------------------ MCMC methods
SMALL = replace(get_profile("smoke"), train_steps=300, batch_size=128)
NLL_CASES = {
    "cd": {},
    "pcd": {},
    "short_run": {},
    "hmc_ml": {},
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NLL_CASES))
def test_mcmc_methods_learn_8gaussians(registry, name):
    task = registry.make("tasks", "8gaussians")
    data = task.make(SMALL, torch.Generator().manual_seed(100))
    model = registry.make("models", "mlp").build(task, data, torch.Generator().manual_seed(1))
    method = registry.make("methods", name, **NLL_CASES[name])
    ctx = TrainContext(registry, task, SMALL, 0, "cpu")
    before = grid_nll(model, data.test.y)
    method.train(model, data, ctx)
    after = grid_nll(model, data.test.y)
    assert before == pytest.approx(math.log(81), abs=0.1)  # a near-constant energy at init
    print(f"{name}: grid NLL {before:.3f} -> {after:.3f}")
    assert after < 3.7, (name, after)
    assert ctx.grad_evals > 0
    last = ctx.curve[-1]
    assert {"loss", "energy_gap", "grad_norm", "noise_gap"} <= set(last)
    if name == "hmc_ml":
        assert 0.3 < last["acceptance"] <= 1.0
    if name in ("pcd", "hmc_ml"):
        assert last["buffer_age"] > 1


@pytest.mark.parametrize(
    "name,extra",
    [
        ("cd", {}),
        ("pcd", {}),
        ("short_run", {}),
        ("hmc_ml", {}),
        ("hmc_ml", {"init": "data"}),
        ("hmc_ml", {"init": "noise"}),
    ],
)
def test_mcmc_methods_run_on_a_conditional_task(registry, name, extra):
    profile = replace(get_profile("smoke"), n_train=300, train_steps=6, batch_size=32)
    task = RampTask()
    data = task.make(profile, torch.Generator().manual_seed(0))
    model = registry.make("models", "mlp", hidden=16).build(task, data, torch.Generator().manual_seed(1))
    method = registry.make("methods", name, steps=3, **extra)
    assert method.compatible(registry.make("models", "mlp"), task) is None
    ctx = TrainContext(registry, task, profile, 0, "cpu")
    method.train(model, data, ctx)
    assert len(ctx.curve) == 6 and all(math.isfinite(c["loss"]) for c in ctx.curve)
    leapfrog = method.p.get("leapfrog", 1)
    assert ctx.grad_evals >= 6 * 32 * 3 * leapfrog


def test_evaluation_samplers_follow_the_training_chains(registry):
    name, params = registry.make("methods", "pcd", step=0.02, noise=0.05).sampler()
    assert (name, params["step"], params["noise"]) == ("langevin", 0.02, 0.05) and "steps" not in params
    name, params = registry.make("methods", "short_run", steps=33).sampler()
    assert (name, params["steps"]) == ("langevin", 33)  # the K-step chain is the model
    # chains at T = 1 (HMC, or Langevin with noise sqrt(2 step)) learn exp(-E): the default
    # (unbiased) evaluation sampler samples it
    assert registry.make("methods", "hmc_ml", leapfrog=7).sampler() == (None, {})
    assert registry.make("methods", "pcd", step=0.02).sampler() == (None, {})


@pytest.mark.parametrize(
    ("task", "cap"), [("rings", 0.1 * 0.08**2), ("8gaussians", 0.1 * 0.5**2 / 1.414**2), ("digits", 1)]
)
def test_the_auto_langevin_step_is_capped_by_the_task_length_scale(registry, task, cap):
    """ULA inflates a Gaussian of std l to variance l^2 / (1 - eps / 2 l^2): the auto step keeps
    eps <= 0.1 l^2 (in the data's units; the sampler scales width-8 steps by (width / 8)^2)."""
    from ebmbench_plugins.methods._contrastive import auto_langevin_step

    t = registry.make("tasks", task)
    width = sum(hi - lo for lo, hi in t.domain) / len(t.domain)
    step_w8 = auto_langevin_step(0.01, t, width)
    assert step_w8 * (width / 8) ** 2 == pytest.approx(min(cap, 0.01 * (width / 8) ** 2))
    # the stationary variance of ULA on N(0, l^2) at that step, closed form, is within 5.3 %
    if t.length_scale is not None:
        eps = step_w8 * (width / 8) ** 2
        assert 1 / (1 - eps / (2 * t.length_scale**2)) <= 1.053
    m = registry.make("methods", "pcd")
    assert m.p["step"] == 0 and m.chain_params()["step"] == 0.01  # before training: the base
    # short-run's K-step chain is the model: no stationary law to protect, no cap
    sr = registry.make("methods", "short_run")
    ctx = TrainContext(registry, t, get_profile("smoke"), 0, "cpu")
    sr.resolve_step(ctx)
    assert sr.chain_params()["step"] == 0.02
    for method in ("exact_ml", "cd", "pcd", "short_run", "hmc_ml"):
        m = registry.make("methods", method)
        assert m.family == "contrastive" and m.reference and m.summary
        name, params = m.sampler()  # None: the default evaluation sampler
        registry.make("samplers", name or registry.default_sampler(), **params)  # valid sampler params
