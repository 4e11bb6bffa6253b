"""Inference metrics on energies whose minima are known: oracles, one-well energies, closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score

import ebmbench
from ebmbench.context import EvalContext
from ebmbench.profiles import get_profile
from ebmbench.registry import load_registry
from ebmbench_plugins.metrics.inference import (
    BranchCoverage,
    Completion,
    InferenceError,
    ModeCoverage,
    ProjectionError,
    slice_modes,
)
from ebmbench_plugins.metrics.inference_digits import Accuracy, InpaintMSE

PROFILE = get_profile("smoke")
MODES = (-3.0, 0.0, 3.0)


@pytest.fixture(scope="module")
def registry():
    return load_registry()


class Method(ebmbench.Method):
    name = "test-method"
    family = "contrastive"


def make_ctx(registry, task, model, seed=0):
    data = task.make(PROFILE, torch.Generator().manual_seed(seed))
    return EvalContext(registry, task, PROFILE, seed, "cpu", model=model, data=data, method=Method())


class Energy(torch.nn.Module):
    """An energy module from a plain function f(y, x)."""

    def __init__(self, f):
        super().__init__()
        self.f = f

    def forward(self, y, x=None):
        return self.f(y, x)


# ---------------------------------------------------------------- 2-D unconditional
class Stripes(ebmbench.Task):
    """y1 ~ N(0, 1.5^2), y2 ~ (1/3) sum_k N(m_k, 0.3^2) for m = -3, 0, 3: three modes on every slice."""

    name = "test-stripes"
    dim = 2
    domain = ((-4.5, 4.5), (-4.5, 4.5))
    main_metric = "mode_coverage"
    ground_truth = frozenset({"log_density", "sampler"})
    S1, S2 = 1.5, 0.3

    def sample(self, n, generator, x=None):
        y1 = torch.randn(n, generator=generator) * self.S1
        k = torch.randint(0, 3, (n,), generator=generator)
        y2 = torch.tensor(MODES)[k] + torch.randn(n, generator=generator) * self.S2
        return ebmbench.Split(torch.stack([y1, y2], 1))

    def log_density(self, y, x=None):
        y = y.double()
        m = torch.tensor(MODES, dtype=torch.float64)
        l1 = -0.5 * (y[:, 0] / self.S1) ** 2 - math.log(self.S1 * math.sqrt(2 * math.pi))
        l2 = torch.logsumexp(-0.5 * ((y[:, 1:2] - m) / self.S2) ** 2, 1) - math.log(
            3 * self.S2 * math.sqrt(2 * math.pi)
        )
        return (l1 + l2).to(y.dtype)


TRUE = Energy(lambda y, x: -Stripes().log_density(y))
AT_MODES = Energy(lambda y, x: (y[:, 1:2] - torch.tensor(MODES)).pow(2).min(1).values)  # minima exactly at the modes
ONE_WELL = Energy(lambda y, x: y[:, 1].pow(2))  # a single minimum, at the middle mode
BETWEEN = Energy(lambda y, x: (y[:, 1] - 1.5).pow(2))  # a single minimum where there is no data


def test_slice_modes_gaussian_width_and_ripples():
    grid = np.linspace(-4.5, 4.5, 901)
    s = 0.4
    log_p = -0.5 * ((grid - 1.0) / s) ** 2
    log_p_rippled = np.logaddexp(log_p, np.log(0.05) - 0.5 * ((grid + 2) / 0.1) ** 2)  # a 5 % bump: ignored
    for lp in (log_p, log_p_rippled):
        ((a, b),) = slice_modes(lp, grid)
        half = s * math.sqrt(2 * math.log(2))  # half width at half maximum
        assert a == pytest.approx(1.0 - half, abs=0.011) and b == pytest.approx(1.0 + half, abs=0.011)


def test_slice_modes_plateaus_and_edges():
    grid = np.linspace(-4.5, 4.5, 901)
    lp = np.where(((grid > -2) & (grid < 0)) | ((grid > 2) & (grid < 4)), 0.0, -np.inf)  # checkerboard slice
    spans = slice_modes(lp, grid)
    assert len(spans) == 2
    for (a, b), (lo, hi) in zip(spans, [(-2, 0), (2, 4)]):
        assert a == pytest.approx(lo, abs=0.011) and b == pytest.approx(hi, abs=0.011)
    edge = slice_modes(-grid, grid)  # density increasing towards the left edge
    assert len(edge) == 1 and edge[0][0] == pytest.approx(-4.5)
    assert slice_modes(np.full(10, -np.inf), grid[:10]) == []


def test_mode_coverage(registry):
    assert ModeCoverage().compute(make_ctx(registry, Stripes(), TRUE)) == 1.0
    assert ModeCoverage().compute(make_ctx(registry, Stripes(), AT_MODES)) == 1.0
    assert ModeCoverage().compute(make_ctx(registry, Stripes(), ONE_WELL)) == pytest.approx(1 / 3)
    assert ModeCoverage().compute(make_ctx(registry, Stripes(), BETWEEN)) == 0.0


def test_completion_of_the_true_energy(registry):
    assert Completion().compute(make_ctx(registry, Stripes(), TRUE)) > 0.95
    assert Completion().compute(make_ctx(registry, Stripes(), BETWEEN)) < 0.05


def test_projection_error(registry):
    clean = ProjectionError(sigma=0.0).compute(make_ctx(registry, Stripes(), TRUE))
    noisy = ProjectionError().compute(make_ctx(registry, Stripes(), TRUE))
    bad = ProjectionError().compute(make_ctx(registry, Stripes(), BETWEEN))
    assert clean < 0.03  # the nearest-neighbour floor of a 20 000-point reference sample
    assert noisy < 0.05
    assert bad > 0.3  # y2 = 1.5 lies 5 stds from both neighbouring modes
    # an energy that never moves leaves the corruption: error = distance of the noisy point
    flat = ProjectionError().compute(make_ctx(registry, Stripes(), Energy(lambda y, x: 0.0 * y.sum(1))))
    assert flat > 3 * noisy


class FixedSet(ebmbench.Task):
    """A fixed dataset of 60 points in [0,1]^8 with no sampler (like digits)."""

    name = "test-fixed"
    dim = 8
    domain = ((0.0, 1.0),) * 8
    main_metric = "projection_error"

    def make(self, profile, generator):
        pts = torch.rand(60, 8, generator=generator)
        return ebmbench.TaskData(ebmbench.Split(pts[:30]), ebmbench.Split(pts[30:40]), ebmbench.Split(pts[40:]))

    def sample(self, n, generator, x=None):
        raise NotImplementedError("no sampler")


def test_projection_error_on_a_fixed_dataset(registry):
    ctx = make_ctx(registry, FixedSet(), Energy(lambda y, x: 0.0 * y.sum(1)))
    everything = torch.cat([ctx.data.train.y, ctx.data.val.y, ctx.data.test.y])
    memoriser = Energy(lambda y, x: torch.cdist(y, everything).pow(2).min(1).values)
    flat = ProjectionError().compute(ctx)  # stays at the corrupted point: about sigma * sqrt(8) away
    assert flat == pytest.approx(0.05 * math.sqrt(8), rel=0.3)
    assert ProjectionError().compute(make_ctx(registry, FixedSet(), memoriser)) < 1e-3
    assert ProjectionError().applies_to(registry.make("tasks", "digits")) is None


def test_toy_tasks_with_their_exact_energy(registry):
    task = registry.make("tasks", "8gaussians")
    true = Energy(lambda y, x: -task.log_density(y))
    ctx = make_ctx(registry, task, true)
    assert ModeCoverage().compute(ctx) > 0.95
    assert Completion().compute(ctx) > 0.95
    assert ProjectionError().compute(ctx) < 0.05


# ------------------------------------------------------------------ conditional
def prongs(x):
    x = x.reshape(-1, 1).double()
    return torch.cat([-2 + x, 0.5 * x, 2 - x], 1)  # [B, 3]


class Prongs(ebmbench.Task):
    """x ~ U(0,1); y = f_k(x) + N(0, 0.1^2) on one of three lines."""

    name = "test-prongs"
    kind = "conditional"
    dim = 1
    x_dim = 1
    domain = ((-3.5, 3.5),)
    main_metric = "branch_coverage"
    ground_truth = frozenset({"sampler", "modes"})

    def sample(self, n, generator, x=None):
        x = torch.rand(n, 1, generator=generator)
        k = torch.randint(0, 3, (n,), generator=generator)
        y = prongs(x)[torch.arange(n), k] + 0.1 * torch.randn(n, generator=generator, dtype=torch.float64)
        return ebmbench.Split(y[:, None].float(), x)

    def conditional_modes(self, x):
        return prongs(x)[:, :, None]


ALL_PRONGS = Energy(lambda y, x: (y - prongs(x).float()).pow(2).min(1).values)
ONE_PRONG = Energy(lambda y, x: (y[:, 0] - prongs(x)[:, 1].float()).pow(2))
MIDWAY = Energy(lambda y, x: (y[:, 0] - prongs(x)[:, :2].mean(1).float()).pow(2))  # halfway between two prongs


def test_branch_coverage_and_inference_error(registry):
    assert BranchCoverage().compute(make_ctx(registry, Prongs(), ALL_PRONGS)) == 1.0
    assert BranchCoverage().compute(make_ctx(registry, Prongs(), ONE_PRONG)) == pytest.approx(1 / 3)
    assert InferenceError().compute(make_ctx(registry, Prongs(), ALL_PRONGS)) < 1e-3
    assert InferenceError().compute(make_ctx(registry, Prongs(), ONE_PRONG)) < 1e-3  # one right answer suffices
    ctx = make_ctx(registry, Prongs(), MIDWAY)
    x = ctx.data.test.x[: PROFILE.n_inference].double()
    expect = float(((2 - 0.5 * x) / 2).mean())  # |f_1 - f_0| / 2
    assert InferenceError().compute(ctx) == pytest.approx(expect, abs=1e-3)
    assert BranchCoverage().compute(ctx) == 0.0


def test_real_conditional_tasks(registry):
    branches = registry.make("tasks", "branches")
    exact = Energy(lambda y, x: (y - branches.branch_values(x).float()).pow(2).min(1).values)
    ctx = make_ctx(registry, branches, exact)
    assert BranchCoverage().compute(ctx) == 1.0
    assert InferenceError().compute(ctx) < 1e-3
    horn = registry.make("tasks", "horn")
    theta = torch.linspace(0, 2 * math.pi, 513)[:-1]
    ring = torch.stack([torch.cos(theta), torch.sin(theta)], 1)

    def latent_grid(y, x):  # F_inf(x, y) = min_z |y - r(x) * g(z)|^2 with z on a grid of angles
        curve = horn.radii(x).float()[:, None, :] * ring[None]
        return (y[:, None, :] - curve).pow(2).sum(-1).min(1).values

    assert InferenceError().compute(make_ctx(registry, horn, Energy(latent_grid))) < 0.05
    assert BranchCoverage().applies_to(horn) is not None  # horn has a curve, not discrete modes


# ------------------------------------------------------------------------ digits
class Labelled(ebmbench.Task):
    """x = (label / 9, 3 noise features); y = one-hot label (10 classes)."""

    name = "test-labelled"
    kind = "conditional"
    dim = 10
    x_dim = 4
    n_classes = 10
    domain = ((0.0, 1.0),) * 10
    main_metric = "accuracy"
    ground_truth = frozenset({"labels"})

    def sample(self, n, generator, x=None):
        label = torch.randint(0, 10, (n,), generator=generator)
        x = torch.cat([label[:, None] / 9.0, torch.rand(n, 3, generator=generator)], 1)
        return ebmbench.Split(torch.nn.functional.one_hot(label, 10).float(), x)


def label_of(x):
    return torch.round(x[:, 0] * 9).long()


def test_accuracy(registry):
    perfect = Energy(lambda y, x: (y.argmax(1) != label_of(x)).float())  # 0 for the true class, 1 otherwise
    constant = Energy(lambda y, x: torch.ones(y.shape[0]))
    assert Accuracy().compute(make_ctx(registry, Labelled(), perfect)) == 1.0
    assert Accuracy().compute(make_ctx(registry, Labelled(), constant)) == pytest.approx(0.1, abs=1e-12)
    w = torch.randn(4, 10, generator=torch.Generator().manual_seed(2))
    random_linear = Energy(lambda y, x: ((x @ w) * y).sum(1))
    ctx = make_ctx(registry, Labelled(), random_linear)
    test = ctx.data.test
    predicted = (test.x @ w).argmin(1).numpy()
    expect = accuracy_score(test.y.argmax(1).numpy(), predicted)
    assert Accuracy().compute(ctx) == pytest.approx(expect, abs=1e-12)


class Mirror(ebmbench.Task):
    """Inpainting stand-in: x in [0,1]^4 is the known half, y = 1 - x the missing one."""

    name = "test-mirror"
    kind = "conditional"
    dim = 4
    x_dim = 4
    domain = ((0.0, 1.0),) * 4
    main_metric = "inpaint_mse"
    tags = frozenset({"inpainting"})

    def sample(self, n, generator, x=None):
        x = torch.rand(n, 4, generator=generator)
        return ebmbench.Split(1 - x, x)


def test_inpaint_mse(registry):
    oracle = Energy(lambda y, x: (y - (1 - x)).pow(2).sum(1))
    assert InpaintMSE().compute(make_ctx(registry, Mirror(), oracle)) < 1e-4
    grey = Energy(lambda y, x: (y - 0.5).pow(2).sum(1))  # ignores x: predicts mid-grey
    ctx = make_ctx(registry, Mirror(), grey)
    y = ctx.data.test.y[: PROFILE.n_inference].double().numpy()
    assert InpaintMSE().compute(ctx) == pytest.approx(np.mean((y - 0.5) ** 2), rel=1e-3)
    assert InpaintMSE().applies_to(Labelled()) is not None


def test_applicability(registry):
    assert ModeCoverage().applies_to(Stripes()) is None
    assert ModeCoverage().applies_to(Prongs()) is not None
    assert InferenceError().applies_to(Stripes()) is not None
    assert Accuracy().applies_to(Labelled()) is None and Accuracy().applies_to(Prongs()) is not None
    assert ProjectionError().applies_to(Stripes()) is None
