"""Files of a scaffolded plugin package (`ebmbench new-plugin`), as string.Template texts.

One small, working example per kind, each correct as science and checked in closed form
by its own test: a task with an exact log-density, a quadratic (Gaussian) energy, denoising
score matching, unadjusted Langevin dynamics, and the correlation of -E with log p.
Placeholders: $dist (distribution), $pkg (import package), $kind, $entry (entry name).
"""

__all__ = ["PYPROJECT", "README", "CONFORMANCE_TEST", "MODULES", "TESTS", "ENTRY_BASE"]

ENTRY_BASE = {"task": "ring", "model": "quadratic", "method": "denoise", "sampler": "ula", "metric": "logp_corr"}

PYPROJECT = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "An ebmbench plugin: $kind $entry"
requires-python = ">=3.11"
dependencies = ["ebmbench"]

# the entry-point name is the plugin's name (ebmbench plugins, -p no:NAME)
[project.entry-points.ebmbench]
"$pkg.$kind" = "$pkg.$kind"

[tool.setuptools.packages.find]
where = ["src"]
"""

README = """# $dist

An [ebmbench](https://github.com/) plugin package providing the $kind `$entry`.

```bash
pip install -e .
ebmbench plugins | grep $pkg        # status loaded
ebmbench list ${kind}s              # $entry is listed
$run_line
pytest                              # its own tests and the conformance kit
pytest -m slow                      # + the kit's smoke-profile cells
```

Edit `src/$pkg/$kind.py`; `tests/test_conformance.py` runs ebmbench's conformance kit
on every entry of this package (docs/plugins.md, section Testing).
"""

CONFORMANCE_TEST = '''"""ebmbench's conformance kit on every entry of this package: metadata, the smoke profile,
seeds, the global RNG, devices, shapes, finite outputs, metric directions, skipped pairs."""

from ebmbench.testing import conformance_suite

# partners: cheap built-in entries to pair with (a task for a model, a model for a method)
test_conformance = conformance_suite("$dist", partners=("8gaussians", "mlp", "nce"))
'''

TASK = '''"""$entry: a ring of four Gaussians, with an exact log-density."""

import math

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")  # imported on first use: `ebmbench list` stays fast

EBMBENCH_PLUGIN_API = 1


class Ring(ebmbench.Task):
    name = "$entry"
    summary = "4 isotropic Gaussians (std 0.3) at radius 2; exact log-density"
    reference = "an equal-weight Gaussian mixture: log p(y) = logsumexp_k log N(y; m_k, s^2 I) - log K"
    kind = "unconditional"
    dim = 2
    domain = ((-4.5, 4.5), (-4.5, 4.5))  # contains the data; inside the fixed grid of nll_grid
    main_metric = "nll_grid"
    headline_metrics = ("mmd2", "energy_gap_std")
    ground_truth = frozenset({"sampler", "log_density"})
    params = {"std": ebmbench.Param(0.3, "standard deviation of each component", low=0.05, high=1.0)}
    RADIUS, K = 2.0, 4

    def centres(self, device=None):
        angle = torch.arange(self.K, dtype=torch.float64, device=device) * (2 * math.pi / self.K)
        return self.RADIUS * torch.stack([angle.cos(), angle.sin()], 1)

    def sample(self, n, generator, x=None):
        device = generator.device
        k = torch.randint(0, self.K, (n,), generator=generator, device=device)
        noise = torch.randn(n, 2, generator=generator, device=device, dtype=torch.float64)
        return ebmbench.Split((self.centres(device)[k] + self.p["std"] * noise).float())

    def log_density(self, y, x=None):
        s = self.p["std"]
        sq = (y.double()[:, None, :] - self.centres(y.device)[None]).pow(2).sum(-1)
        log_normal = -sq / (2 * s * s) - math.log(2 * math.pi * s * s)
        return torch.logsumexp(log_normal, 1) - math.log(self.K)


@ebmbench.hookimpl
def ebmbench_register_tasks(register):
    register(Ring)
'''

MODEL = '''"""$entry: the Gaussian energy E(y) = 1/2 ||L^T (y - mu)||^2 with a learnt Cholesky factor."""

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

EBMBENCH_PLUGIN_API = 1


def quadratic_module(mu, raw):
    """Defined on first use, so importing this file imports no torch."""
    from torch import nn

    class QuadraticEnergy(nn.Module):
        def __init__(self):
            super().__init__()
            self.mu = nn.Parameter(mu)  # tensors in parameters: .to(device) moves them
            self.raw = nn.Parameter(raw)

        def forward(self, y, x=None):
            chol = torch.tril(self.raw, -1) + torch.diag(torch.exp(torch.diagonal(self.raw)))
            return 0.5 * ((y - self.mu) @ chol).pow(2).sum(-1)  # one energy per row: [B]

    return QuadraticEnergy()


class Quadratic(ebmbench.Model):
    name = "$entry"
    summary = "Gaussian energy 1/2 ||L^T (y - mu)||^2, L lower-triangular with a positive diagonal"
    reference = "the Gaussian EBM: exp(-E) is N(mu, (L L^T)^-1)"
    family = "neural"  # trained by gradients on any loss
    kinds = frozenset({"unconditional"})
    params = {"init_scale": ebmbench.Param(0.01, "std of the random initial factor", low=0)}

    def build(self, task, data, generator):
        raw = torch.randn(task.dim, task.dim, generator=generator) * self.p["init_scale"]  # CPU generator
        return quadratic_module(data.train.y.mean(0).cpu(), raw)  # the core moves it to the device


@ebmbench.hookimpl
def ebmbench_register_models(register):
    register(Quadratic)
'''

METHOD = '''"""$entry: denoising score matching, -grad E(y + s e) regressed on the noise's score -e / s."""

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

EBMBENCH_PLUGIN_API = 1


class DenoisingScoreMatching(ebmbench.Method):
    name = "$entry"
    summary = "DSM: minimise E ||s grad E(y + s e) - e||^2 / 2 over data y and noise e ~ N(0, I)"
    reference = "Vincent 2011, a connection between score matching and denoising autoencoders"
    family = "contrastive"
    model_families = frozenset({"neural"})
    task_kinds = frozenset({"unconditional", "conditional"})
    params = {
        "sigma": ebmbench.Param(0.1, "noise std s (in data units)", low=0, low_open=True),
        "lr": ebmbench.Param(1e-3, "Adam learning rate", low=0, low_open=True),
    }

    def train(self, model, data, ctx):
        g = ctx.generator("$entry")  # one stream: batches and noise
        opt = torch.optim.Adam(model.parameters(), lr=self.p["lr"])
        sigma, train = self.p["sigma"], data.train
        n_steps = ctx.profile.train_steps
        for step in range(n_steps):
            idx = ctx.minibatch(len(train), ctx.profile.batch_size, g)
            y, x = train.y[idx], None if train.x is None else train.x[idx]
            e = torch.randn(y.shape, generator=g, device=y.device)
            noisy = (y + sigma * e).requires_grad_(True)
            energy = model(noisy, x)
            (grad,) = torch.autograd.grad(energy.sum(), noisy, create_graph=True)
            loss = 0.5 * (sigma * grad - e).pow(2).sum(1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if step % max(1, n_steps // 50) == 0 or step == n_steps - 1:
                ctx.log(step, loss=loss.item(), energy_gap=ctx.noise_gap(model, y, x))


@ebmbench.hookimpl
def ebmbench_register_methods(register):
    register(DenoisingScoreMatching)
'''

SAMPLER = '''"""$entry: unadjusted Langevin dynamics, y <- y - h grad E(y) + sqrt(2 h T) xi."""

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

EBMBENCH_PLUGIN_API = 1


class ULA(ebmbench.Sampler):
    name = "$entry"
    summary = "unadjusted Langevin: y <- y - h grad E + sqrt(2 h T) xi, clamped to the domain"
    reference = "Roberts & Tweedie 1996; samples exp(-E / T) up to an O(h) bias"
    params = {
        "steps": ebmbench.Param(100, "Langevin steps (evaluation sets it)", low=0),
        "step": ebmbench.Param(0.01, "step size h", low=0, low_open=True),
        "temperature": ebmbench.Param(1.0, "T of exp(-E / T)", low=0, low_open=True),
    }

    def sample(self, energy, init, generator, *, domain=None):
        h, temp = self.p["step"], self.p["temperature"]
        y = init.detach().clone()  # never modify the caller's tensor
        for _ in range(self.p["steps"]):
            with torch.enable_grad():  # the caller may be under no_grad
                leaf = y.requires_grad_(True)
                e = energy(leaf)
                (grad,) = torch.autograd.grad(e, leaf, torch.ones_like(e))
            noise = torch.randn(y.shape, generator=generator, device=y.device)
            y = (y.detach() - h * grad + (2 * h * temp) ** 0.5 * noise).detach()
            if domain is not None:
                y = torch.minimum(torch.maximum(y, domain[:, 0]), domain[:, 1])
        stats = {"grad_evals": float(self.p["steps"] * init.shape[0]), "temperature": float(temp)}
        return ebmbench.SampleResult(y, stats)


@ebmbench.hookimpl
def ebmbench_register_samplers(register):
    register(ULA)
'''

METRIC = '''"""$entry: Pearson correlation of -E with the exact log-density on the test data."""

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

EBMBENCH_PLUGIN_API = 1


class LogDensityCorrelation(ebmbench.Metric):
    name = "$entry"
    summary = "corr(-E, log p) on the test data: 1 when the energy is log p up to scale and shift"
    reference = "Pearson correlation; log p from the task's exact log-density"
    direction = "higher"
    requires = frozenset({"log_density"})
    tolerance = (0.0, 0.02)  # values near 1: an absolute band

    def compute(self, ctx):
        test = ctx.data.test
        a = -ctx.energy(test.y, test.x).double()
        b = ctx.task.log_density(test.y, test.x).double().to(a.device)
        a, b = a - a.mean(), b - b.mean()
        return float((a * b).sum() / (a.norm() * b.norm()).clamp_min(1e-300))


@ebmbench.hookimpl
def ebmbench_register_metrics(register):
    register(LogDensityCorrelation)
'''

MODULES = {"task": TASK, "model": MODEL, "method": METHOD, "sampler": SAMPLER, "metric": METRIC}

# A closed-form check of each example, beside the kit.
TESTS = {
    "task": """import pytest
import torch

from ebmbench.registry import load_registry


def test_density_is_normalised():
    task = load_registry().make("tasks", "$entry")
    h = 12 / 600
    a = torch.linspace(-6 + h / 2, 6 - h / 2, 600, dtype=torch.float64)
    grid = torch.cartesian_prod(a, a)
    assert float(task.log_density(grid).exp().sum() * h * h) == pytest.approx(1.0, abs=1e-3)
""",
    "model": """import torch

from ebmbench.profiles import get_profile
from ebmbench.registry import load_registry
from ebmbench.seeding import make_generator


def test_energy_is_the_gaussian_quadratic_form():
    registry = load_registry()
    task = registry.make("tasks", "8gaussians")
    data = task.make(get_profile("smoke"), make_generator(0))
    module = registry.make("models", "$entry", init_scale=0.0).build(task, data, make_generator(1))
    y = torch.randn(5, 2, generator=make_generator(2))
    expected = 0.5 * (y - data.train.y.mean(0)).pow(2).sum(1)  # L = I at init_scale 0
    assert torch.allclose(module(y), expected, atol=1e-6)
""",
    "method": """import torch

from ebmbench.context import TrainContext
from ebmbench.profiles import get_profile
from ebmbench.registry import load_registry
from ebmbench.seeding import make_generator


def test_learns_the_mean_of_a_gaussian():
    registry = load_registry()
    task = registry.make("tasks", "8gaussians")
    profile = get_profile("smoke")
    data = task.make(profile, make_generator(0))
    data.train.y = torch.randn(2000, 2, generator=make_generator(1)) * 0.5 + torch.tensor([1.0, -1.0])
    model = registry.make("models", "mlp").build(task, data, make_generator(2))
    ctx = TrainContext(registry, task, profile, seed=3, device="cpu")
    registry.make("methods", "$entry", lr=1e-2).train(model, data, ctx)
    grid = torch.cartesian_prod(torch.linspace(-3, 3, 61), torch.linspace(-3, 3, 61))
    with torch.no_grad():
        lowest = grid[model(grid).argmin()]
    assert torch.allclose(lowest, torch.tensor([1.0, -1.0]), atol=0.5)  # the energy's minimum is the mean
""",
    "sampler": """import torch

from ebmbench.registry import load_registry
from ebmbench.seeding import make_generator


def test_samples_a_standard_normal():
    sampler = load_registry().make("samplers", "$entry", steps=500, step=0.05)
    init = torch.zeros(4000, 2)
    result = sampler.sample(lambda y: 0.5 * y.pow(2).sum(1), init, make_generator(0))
    assert result.samples.mean(0).abs().max() < 0.1
    assert result.samples.var(0).sub(1).abs().max() < 0.1  # ULA's bias at h = 0.05 is ~2.5 %
""",
    "metric": """import pytest
import torch

from ebmbench.context import EvalContext
from ebmbench.profiles import get_profile
from ebmbench.registry import load_registry
from ebmbench.seeding import make_generator


def test_exact_energy_scores_one():
    registry = load_registry()
    task = registry.make("tasks", "8gaussians")
    profile = get_profile("smoke")
    data = task.make(profile, make_generator(0))

    class Exact(torch.nn.Module):
        def forward(self, y, x=None):
            return -3.0 * task.log_density(y).float() + 7.0  # any positive scale and shift

    ctx = EvalContext(registry, task, profile, 0, "cpu", model=Exact(), data=data, method=None)
    assert registry.make("metrics", "$entry").compute(ctx) == pytest.approx(1.0, abs=1e-6)
""",
}
