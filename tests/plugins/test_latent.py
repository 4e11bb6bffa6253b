"""Latent-variable EBMs: the horn's latent-grid model (F_inf and F_beta), the shared
latent interface, and Gibbs sampling over one-hot latents against closed forms."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from ebmbench.context import EvalContext, TrainContext
from ebmbench.params import parse_selection, validate_params
from ebmbench.profiles import get_profile
from ebmbench.registry import load_registry
from ebmbench.seeding import make_generator
from ebmbench_plugins.models._latent_nets import softmin
from ebmbench_plugins.models._nets import PrototypeEnergy
from ebmbench_plugins.samplers.gibbs import energy_of


@pytest.fixture(scope="module")
def registry():
    return load_registry()


PROFILE = replace(get_profile("smoke"), n_train=2000, train_steps=400, n_inference=100)


@pytest.fixture(scope="module")
def horn(registry):
    task = registry.make("tasks", "horn")
    data = task.make(PROFILE, make_generator(0))
    spec = registry.make("models", "latent_grid")
    untrained = spec.build(task, data, make_generator(1)).requires_grad_(False)
    model = spec.build(task, data, make_generator(1))
    ctx = TrainContext(registry, task, PROFILE, 2, "cpu")
    registry.make("methods", "latent_ml").train(model, data, ctx)
    model.eval()
    model.requires_grad_(False)
    return task, data, model, untrained, ctx


def _inference_error(registry, task, data, model):
    ectx = EvalContext(
        registry, task, PROFILE, 3, "cpu", model=model, data=data, method=registry.make("methods", "latent_ml")
    )
    return registry.make("metrics", "inference_error").compute(ectx)


def test_latent_grid_training_lowers_inference_error(registry, horn):
    task, data, model, untrained, ctx = horn
    trained_err = _inference_error(registry, task, data, model)
    untrained_err = _inference_error(registry, task, data, untrained)
    assert trained_err < 0.25 * untrained_err, (trained_err, untrained_err)
    assert trained_err < 0.3  # the horn's radii reach 15: this is well inside the curve's width
    assert ctx.curve[-1]["loss"] < 0.05 * ctx.curve[0]["loss"]
    assert ctx.curve[-1]["latent_perplexity"] > 16  # the data uses many angles, not a few


def test_latent_grid_learns_the_true_radii(horn):
    task, _, model, *_ = horn
    x = torch.linspace(0.05, 0.95, 19)[:, None]
    learned = model.radii(x).abs()
    true = task.radii(x).float()
    assert ((learned - true).abs() / true).max() < 0.1


def test_free_energy_tends_to_the_min_as_beta_grows(horn):
    _, data, model, *_ = horn
    y, x = data.test.y[:200], data.test.x[:200]
    with torch.no_grad():
        f_inf = model.free_energy(y, x, beta=math.inf)
        assert torch.allclose(f_inf, model.energies(y, x).min(1).values)
        k = model.energies(y, x).shape[1]
        gaps = []
        for beta in (1.0, 10.0, 100.0, 1e3, 1e4):
            gap = model.free_energy(y, x, beta=beta) - f_inf
            # the soft-min over a uniform prior on K angles: 0 <= F_beta - F_inf <= log(K) / beta
            assert (gap >= -1e-5).all() and (gap <= math.log(k) / beta + 1e-5).all(), beta
            gaps.append(float(gap.max()))
    assert all(a > b for a, b in zip(gaps, gaps[1:])), gaps
    assert gaps[-1] < 1e-3


def test_softmin_matches_logsumexp_reference():
    e = torch.tensor([[0.0, 1.0, 3.0], [2.0, 2.0, 2.0]], dtype=torch.float64)
    for beta in (0.5, 2.0):
        ref = -torch.log(torch.exp(-beta * e).mean(1)) / beta
        assert torch.allclose(softmin(e, beta), ref)
    assert torch.equal(softmin(e, math.inf), torch.tensor([0.0, 2.0], dtype=torch.float64))


def test_beta_is_a_model_parameter_that_sweeps(registry):
    selections = parse_selection("latent_grid[beta=1|10|100|inf]")
    entry = registry.get("models", "latent_grid")
    betas = [validate_params(entry, s.params)["beta"] for s in selections]
    assert betas == [1.0, 10.0, 100.0, math.inf]
    task = registry.make("tasks", "horn")
    data = task.make(get_profile("smoke"), make_generator(0))
    model = registry.make("models", "latent_grid", beta=10.0).build(task, data, make_generator(1))
    with torch.no_grad():
        assert torch.allclose(model(data.test.y, data.test.x), model.free_energy(data.test.y, data.test.x, beta=10.0))


def test_latent_models_share_one_interface(registry):
    """latent_energy(y, z, x) and free_energy(y, x, beta) on every latent model; F_inf = min_z E."""
    task = registry.make("tasks", "8gaussians")
    data = task.make(get_profile("smoke"), make_generator(0))
    y = data.test.y[:32]
    for name in ("kmeans", "dictionary", "glo", "linear"):
        spec = registry.make("models", name)
        assert spec.latent
        model = spec.build(task, data, make_generator(1)).requires_grad_(False)
        with torch.no_grad():
            f_inf = model.free_energy(y, None, beta=math.inf)
            # continuous latents under Lebesgue measure differ by O(k log(beta) / beta)
            f_beta = model.free_energy(y, None, beta=1e5)
        assert f_inf.shape == (32,) and torch.isfinite(f_beta).all(), name
        assert (f_beta - f_inf).abs().max() < 0.02, name
    # K-means: F_inf is the energy of the best one-hot z
    proto = registry.make("models", "kmeans").build(task, data, make_generator(1))
    z = torch.nn.functional.one_hot(proto.energies(y).argmin(1), proto.W.shape[0]).float()
    assert torch.allclose(proto.latent_energy(y, z), proto.free_energy(y, beta=math.inf), atol=1e-5)


def test_latent_gibbs_on_prototypes_matches_the_exact_mixture(registry):
    # E(y, z) = (y - w_z)^2 with w = -0.5, 1.0: exp(-E / T) is an equal mixture of N(w_k, T / 2)
    model = PrototypeEnergy(torch.tensor([[-0.5], [1.0]])).requires_grad_(False)
    sampler = registry.make("samplers", "gibbs", steps=40)
    g = torch.Generator().manual_seed(0)
    init = torch.full((20000, 1), 3.0)  # every chain starts in one mode: mixing must do the rest
    result = sampler.sample(energy_of(model), init, g)
    y = result.samples[:, 0].double()
    assert abs(float(y.mean()) - 0.25) < 0.03
    assert abs(float(y.var()) - (0.5 + 0.5625)) < 0.04  # T/2 + variance of the two centres
    assert 0.1 < result.stats["latent_switch_rate"] < 0.9
    hot = registry.make("samplers", "gibbs", steps=40, temperature=4.0).sample(energy_of(model), init, g)
    assert abs(float(hot.samples.double().var()) - (2.0 + 0.5625)) < 0.1


def test_latent_ml_also_trains_prototypes(registry):
    task = registry.make("tasks", "8gaussians")
    profile = replace(get_profile("smoke"), train_steps=300)
    data = task.make(profile, make_generator(0))
    model = registry.make("models", "kmeans").build(task, data, make_generator(1))
    with torch.no_grad():
        before = float(model(data.val.y).mean())
    registry.make("methods", "latent_ml", lr=0.05).train(model, data, TrainContext(registry, task, profile, 2, "cpu"))
    with torch.no_grad():
        after = float(model(data.val.y).mean())
    assert after < 0.7 * before, (before, after)


def test_latent_gibbs_without_an_energy_table_uses_the_latent_set(registry):
    """z | y from latent_set() + latent_energy matches the energies(y) table."""
    from ebmbench_plugins.samplers.gibbs import sample_latent

    model = PrototypeEnergy(torch.tensor([[-0.5, 0.0], [1.0, 0.5], [0.0, 2.0]])).requires_grad_(False)

    class Bare:  # the same model without the batched energies table
        latent_set, latent_energy, decode = model.latent_set, model.latent_energy, model.decode

    y = torch.tensor([[0.2, 0.3]]).expand(30000, 2)
    counts = [sample_latent(m, y, None, torch.Generator().manual_seed(0)).sum(0) / 30000 for m in (model, Bare())]
    exact = torch.softmax(-model.energies(y[:1]), 1)[0]
    assert torch.allclose(counts[0], counts[1]) and (counts[1] - exact).abs().max() < 0.01
    assert registry.get("samplers", "gibbs").cls.resolve(energy_of(Bare())) == "latent"
