"""The RBM and the Gibbs sampler against brute-force enumeration of tiny models, and
CD training on digits."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import pytest
import torch

from ebmbench.context import EvalContext, TrainContext
from ebmbench.profiles import get_profile
from ebmbench.registry import load_registry
from ebmbench.seeding import make_generator
from ebmbench_plugins.models._rbm_net import RBMEnergy
from ebmbench_plugins.samplers.gibbs import energy_of


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def tiny_rbm(n_visible=4, n_hidden=3, n_cond=0, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    rbm = RBMEnergy(n_visible, n_hidden, n_cond=n_cond, generator=g).double()
    with torch.no_grad():  # a sharply structured model, far from independent units
        rbm.W.copy_(torch.randn(n_visible, n_hidden, generator=g, dtype=torch.float64) * scale)
        rbm.b.copy_(torch.randn(n_visible, generator=g, dtype=torch.float64) * 0.5)
        rbm.c.copy_(torch.randn(n_hidden, generator=g, dtype=torch.float64) * 0.5)
    rbm.requires_grad_(False)
    return rbm


def states(n):
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=torch.float64)


def brute_free_energy(rbm, v, beta=1.0):
    h = states(rbm.c.numel())  # [2^H, H]
    e = torch.stack([rbm.joint_energy(v, hi.expand(v.shape[0], -1)) for hi in h], 1)  # [B, 2^H]
    if math.isinf(beta):
        return e.min(1).values
    return -torch.logsumexp(-beta * e, 1) / beta


def exact_distribution(rbm, n):
    v = states(n)
    return v, torch.softmax(-rbm.joint_free_energy(v, 1.0), 0)


def empirical(samples, v):
    codes = (samples.round() @ (2 ** torch.arange(v.shape[1] - 1, -1, -1, dtype=samples.dtype))).long()
    return torch.bincount(codes, minlength=v.shape[0]).double() / samples.shape[0]


def total_variation(p, q):
    return 0.5 * float((p - q).abs().sum())


# ----------------------------------------------------------------------- free energy
def test_free_energy_matches_enumeration():
    rbm = tiny_rbm(5, 4, scale=2.0)
    v = states(5)
    for beta in (1.0, 0.3, 4.0, math.inf):
        ours = rbm.joint_free_energy(v, beta)
        assert torch.allclose(ours, brute_free_energy(rbm, v, beta), atol=1e-10), beta
    # forward is F at the model's beta (1) of the thresholded input, and latent_energy is E(v, h)
    graded = v * 0.8 + 0.1  # 0.1 / 0.9 pixels binarise to v
    assert torch.allclose(rbm(graded), brute_free_energy(rbm, v), atol=1e-10)
    h = states(4)[5].expand(v.shape[0], -1)
    assert torch.allclose(rbm.latent_energy(graded, h), rbm.joint_energy(v, h))


def test_straight_through_gradient_is_the_free_energy_slope():
    rbm = tiny_rbm(4, 3)
    y = torch.tensor([[0.2, 0.7, 0.9, 0.4]], dtype=torch.float64, requires_grad=True)
    rbm(y).sum().backward()
    v = (y.detach() > 0.5).double().requires_grad_(True)
    rbm.joint_free_energy(v).sum().backward()
    assert torch.allclose(y.grad, v.grad)


# --------------------------------------------------------------------------- Gibbs
def test_block_gibbs_matches_enumerated_distribution(registry):
    rbm = tiny_rbm(4, 3, scale=1.5)
    v, p = exact_distribution(rbm, 4)
    sampler = registry.make("samplers", "gibbs", steps=50)
    g = torch.Generator().manual_seed(1)
    init = torch.rand(20000, 4, generator=g, dtype=torch.float64)
    result = sampler.sample(energy_of(rbm), init, g)
    assert Gibbs_mode(registry, rbm) == "block"
    tv = total_variation(empirical(result.samples, v), p)
    assert tv < 0.02, tv


def Gibbs_mode(registry, rbm):
    return registry.get("samplers", "gibbs").cls.resolve(energy_of(rbm))


@pytest.mark.slow  # ~25 s: many sweeps for a tight total-variation check
def test_single_site_gibbs_on_any_binary_energy_matches_enumeration(registry):
    rbm = tiny_rbm(4, 3, scale=1.5, seed=4)
    v, p = exact_distribution(rbm, 4)
    sampler = registry.make("samplers", "gibbs", steps=30, mode="site")
    g = torch.Generator().manual_seed(2)
    init = torch.rand(20000, 4, generator=g, dtype=torch.float64)
    # a plain callable: the sampler sees only energies (the RBM's free energy, h summed out)
    result = sampler.sample(lambda y: rbm.joint_free_energy(y, 1.0), init, g)
    tv = total_variation(empirical(result.samples, v), p)
    assert tv < 0.02, tv
    # at temperature T it samples exp(-F / T)
    hot = registry.make("samplers", "gibbs", steps=30, mode="site", temperature=3.0)
    result = hot.sample(lambda y: rbm.joint_free_energy(y, 1.0), init, g)
    p_hot = torch.softmax(-rbm.joint_free_energy(v, 1.0) / 3.0, 0)
    assert total_variation(empirical(result.samples, v), p_hot) < 0.02


def test_conditional_block_gibbs_clamps_x_and_matches_the_conditional(registry):
    rbm = tiny_rbm(5, 3, n_cond=2, scale=1.5, seed=3)
    x = torch.tensor([[1.0, 0.0]], dtype=torch.float64).expand(20000, 2)
    y_states = states(3)
    p = torch.softmax(-rbm.free_energy(y_states, x[:8]), 0)  # p(y | x) over the 8 answers
    g = torch.Generator().manual_seed(5)
    result = registry.make("samplers", "gibbs", steps=50).sample(
        energy_of(rbm, x), torch.rand(20000, 3, generator=g, dtype=torch.float64), g
    )
    assert result.samples.shape == (20000, 3)
    assert total_variation(empirical(result.samples, y_states), p) < 0.02


def test_gibbs_chains_are_reproducible(registry):
    rbm = tiny_rbm()
    sampler = registry.make("samplers", "gibbs", steps=5)
    init = torch.rand(64, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    a = sampler.sample(energy_of(rbm), init, torch.Generator().manual_seed(9)).samples
    b = sampler.sample(energy_of(rbm), init, torch.Generator().manual_seed(9)).samples
    assert torch.equal(a, b)


# ------------------------------------------------------------------------ training
@pytest.fixture(scope="module")
def trained(registry):
    task = registry.make("tasks", "digits")
    profile = replace(get_profile("smoke"), train_steps=300, batch_size=64)
    data = task.make(profile, make_generator(0))
    model = registry.make("models", "rbm", hidden=64).build(task, data, make_generator(1))
    ctx = TrainContext(registry, task, profile, 2, "cpu")
    registry.make("methods", "rbm").train(model, data, ctx)
    model.eval()
    model.requires_grad_(False)
    return task, profile, data, model, ctx


def test_cd_training_improves_reconstruction_and_pseudo_likelihood(trained):
    *_, ctx = trained
    first, last = ctx.curve[0], ctx.curve[-1]
    assert last["reconstruction_error"] < 0.6 * first["reconstruction_error"], (first, last)
    assert last["pseudo_log_likelihood"] > first["pseudo_log_likelihood"] + 5, (first, last)
    assert last["noise_gap"] > 0


def _gibbs_samples(registry, task, profile, data, model, method):
    ectx = EvalContext(
        registry,
        task,
        replace(profile, n_samples=500, sampler_steps=200),
        3,
        "cpu",
        model=model,
        data=data,
        method=method,
    )
    return ectx.samples().samples


def test_trained_rbm_samples_look_like_binarised_digits(registry, trained):
    task, profile, data, model, _ = trained
    method = registry.make("methods", "rbm")
    assert method.sampler()[0] == "gibbs"
    samples = _gibbs_samples(registry, task, profile, data, model, method)
    assert set(samples.unique().tolist()) <= {0.0, 1.0}
    # Hamming distance to the nearest binarised training digit: the untrained RBM (same
    # init: independent pixels with the data's means) is the baseline to beat
    untrained = registry.make("models", "rbm", hidden=64).build(task, data, make_generator(1)).requires_grad_(False)
    base = _gibbs_samples(registry, task, profile, data, untrained, method)
    train_bin = (data.train.y > 0.5).float()
    nn = torch.cdist(samples, train_bin, p=1).min(1).values.mean()
    nn_base = torch.cdist(base, train_bin, p=1).min(1).values.mean()
    assert nn < 0.75 * nn_base, (nn, nn_base)
    # and the model prefers its samples to their bit-flipped negatives
    assert (model(samples) < model(1 - samples)).float().mean() > 0.95


def test_rbm_is_skipped_on_tasks_outside_the_unit_box(registry):
    model = registry.make("models", "rbm")
    assert "binary" in model.compatible(registry.make("tasks", "8gaussians"))
    assert model.compatible(registry.make("tasks", "digits")) is None
