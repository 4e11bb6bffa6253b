"""Energy-gap metrics against scikit-learn's AUROC and direct NumPy formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import ebmbench
from ebmbench.context import EvalContext
from ebmbench.profiles import get_profile
from ebmbench.registry import load_registry
from ebmbench_plugins.metrics.energy import (
    AUROC,
    AUROCModel,
    EnergyGap,
    EnergyGapModel,
    EnergyGapStd,
    auroc_lower_is_positive,
)


@pytest.fixture(scope="module")
def registry():
    return load_registry()


class Blob(ebmbench.Task):
    """N(0, I) in 2-D on the toy box; enough of a task for the energy metrics."""

    name = "test-blob"
    dim = 2
    domain = ((-4.5, 4.5), (-4.5, 4.5))
    main_metric = "energy_gap"

    def sample(self, n, generator, x=None):
        return ebmbench.Split(torch.randn(n, 2, generator=generator))


class Shift(ebmbench.Task):
    """Conditional: x ~ U(0,1), y = 3x + N(0, 0.1^2)."""

    name = "test-shift"
    kind = "conditional"
    dim = 1
    x_dim = 1
    domain = ((-1.0, 4.0),)
    main_metric = "energy_gap"

    def sample(self, n, generator, x=None):
        x = torch.rand(n, 1, generator=generator)
        return ebmbench.Split(3 * x + 0.1 * torch.randn(n, 1, generator=generator), x)


class Quadratic(torch.nn.Module):
    def __init__(self, scale=1.0, offset=0.0):
        super().__init__()
        self.scale, self.offset = scale, offset

    def forward(self, y, x=None):
        target = 0.0 if x is None else 3 * x
        return self.scale * (y - target).pow(2).sum(1) + self.offset


class Method(ebmbench.Method):
    name = "test-method"
    family = "contrastive"


def make_ctx(registry, task, model, seed=0):
    g = torch.Generator().manual_seed(seed)
    data = task.make(get_profile("smoke"), g)
    return EvalContext(registry, task, get_profile("smoke"), seed, "cpu", model=model, data=data, method=Method())


def inject_samples(ctx, samples, x=None):
    ctx.cache["samples"] = ebmbench.SampleResult(samples, {"time_s": 1.0})
    ctx.cache["samples_x"] = x


# --------------------------------------------------------------- AUROC vs sklearn
@pytest.mark.parametrize("ties", [False, True])
def test_auroc_matches_sklearn(ties):
    g = np.random.default_rng(3)
    a, b = g.normal(0, 1, 300), g.normal(0.7, 1.3, 450)
    if ties:  # integer energies: many data/negative ties, counted one half by both
        a, b = np.round(a * 2), np.round(b * 2)
    expect = roc_auc_score(np.r_[np.ones(len(a)), np.zeros(len(b))], -np.r_[a, b])
    assert auroc_lower_is_positive(a, b) == pytest.approx(expect, abs=1e-12)


def test_auroc_limits():
    assert auroc_lower_is_positive([0.0, 1.0], [2.0, 3.0]) == 1.0
    assert auroc_lower_is_positive([2.0, 3.0], [0.0, 1.0]) == 0.0
    assert auroc_lower_is_positive([1.0] * 5, [1.0] * 7) == 0.5
    with pytest.raises(ValueError):
        auroc_lower_is_positive([0.0, math.nan], [1.0])


def test_noise_metrics_match_direct_formulas(registry):
    ctx = make_ctx(registry, Blob(), Quadratic())
    gap, gap_std, auc = (m().compute(ctx) for m in (EnergyGap, EnergyGapStd, AUROC))
    e_data, e_noise = (t.double().numpy() for t in ctx.cache["noise_energies"])
    # the energies the metrics used are those of the test data and of uniform noise on the box
    np.testing.assert_allclose(e_data, (ctx.data.test.y.double() ** 2).sum(1).numpy(), rtol=1e-6)
    assert e_noise.mean() == pytest.approx(2 * 81 / 12, rel=0.15)  # E|u|^2 for U(-4.5, 4.5)^2
    assert gap == pytest.approx(e_noise.mean() - e_data.mean(), rel=1e-9)
    assert gap_std == pytest.approx((e_noise.mean() - e_data.mean()) / e_data.std(ddof=1), rel=1e-9)
    labels = np.r_[np.ones(len(e_data)), np.zeros(len(e_noise))]
    assert auc == pytest.approx(roc_auc_score(labels, -np.r_[e_data, e_noise]), abs=1e-12)
    assert gap > 0 and gap_std > 0 and auc > 0.8


def test_scale_free_forms_ignore_affine_rescaling(registry):
    a = make_ctx(registry, Blob(), Quadratic())
    b = make_ctx(registry, Blob(), Quadratic(scale=7.0, offset=-3.0))
    assert EnergyGap().compute(b) == pytest.approx(7 * EnergyGap().compute(a), rel=1e-5)
    assert EnergyGapStd().compute(b) == pytest.approx(EnergyGapStd().compute(a), rel=1e-5)
    assert AUROC().compute(b) == pytest.approx(AUROC().compute(a), abs=1e-12)


def test_constant_energy_has_no_gap(registry):
    ctx = make_ctx(registry, Blob(), Quadratic(scale=0.0, offset=2.0))
    assert EnergyGap().compute(ctx) == 0.0
    assert math.isnan(EnergyGapStd().compute(ctx))
    assert AUROC().compute(ctx) == 0.5


# ---------------------------------------------------------- model-sample negatives
def test_model_negatives_vs_sklearn(registry):
    ctx = make_ctx(registry, Blob(), Quadratic())
    samples = 1.5 * torch.randn(300, 2, generator=torch.Generator().manual_seed(1))  # too wide a sampler
    inject_samples(ctx, samples)
    e_data = (ctx.data.test.y.double() ** 2).sum(1).numpy()
    e_model = (samples.double() ** 2).sum(1).numpy()
    labels = np.r_[np.ones(len(e_data)), np.zeros(len(e_model))]
    assert AUROCModel().compute(ctx) == pytest.approx(roc_auc_score(labels, -np.r_[e_data, e_model]), abs=1e-9)
    assert EnergyGapModel().compute(ctx) == pytest.approx(e_model.mean() - e_data.mean(), rel=1e-6)
    assert EnergyGapModel().compute(ctx) > 0 and AUROCModel().compute(ctx) > 0.6


def test_perfect_sampler_is_at_equilibrium(registry):
    ctx = make_ctx(registry, Blob(), Quadratic())
    inject_samples(ctx, ctx.data.test.y.clone())  # samples = the held-out data itself
    assert EnergyGapModel().compute(ctx) == 0.0
    assert AUROCModel().compute(ctx) == 0.5


def test_conditional_model_negatives_use_matching_x(registry):
    ctx = make_ctx(registry, Shift(), Quadratic())
    test = ctx.data.test
    x = test.x[:100]
    # the same residuals as the test y, but at the sampled x: equilibrium only if x is matched
    inject_samples(ctx, test.y[:100].clone(), x)
    assert EnergyGapModel().compute(ctx) == pytest.approx(0.0, abs=1e-7)
    assert AUROCModel().compute(ctx) == 0.5
    inject_samples(ctx, 3 * x + 0.5, x)  # every sample 0.5 off its curve: higher energy than data
    ctx.cache.pop("model_energies")
    assert AUROCModel().compute(ctx) == 1.0


def test_real_sampler_run(registry):
    """ctx.samples() with the Langevin sampler at T = 1 on the true energy of N(0, I)."""

    class Half(Quadratic):
        def forward(self, y, x=None):
            return 0.5 * y.pow(2).sum(1)

    class Fast(Method):
        def sampler(self):  # a step large enough to forget the uniform start in 60 steps
            return "langevin", {"step": 0.15}

    ctx = make_ctx(registry, Blob(), Half())
    ctx.method = Fast()
    auc = AUROCModel().compute(ctx)
    assert 0.4 < auc < 0.65  # samples of exp(-E) are data-like in energy
    assert abs(EnergyGapModel().compute(ctx)) < 0.4


def test_registered_directions(registry):
    directions = {
        n: registry.get("metrics", n).cls.direction
        for n in ("energy_gap", "energy_gap_model", "energy_gap_std", "auroc_noise", "auroc_model")
    }
    assert directions == {
        "energy_gap": "higher",
        "energy_gap_model": "none",
        "energy_gap_std": "higher",
        "auroc_noise": "higher",
        "auroc_model": "none",
    }
