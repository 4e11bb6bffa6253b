"""Denoising and masked autoencoders and the autoencoder energy model
(plugins/methods/autoencoders.py, plugins/models/{autoencoder,_ae_nets}.py).

The claim of the issue: on held-out digits, each autoencoder repairs corrupted
inputs well below the do-nothing baseline. The baselines, computed here with NumPy
on the test split:
* DAE: the noisy input itself, MSE(y~, y) (the "identity" repair), and the noisy
  input clipped to the pixel range [0, 1] (a free repair any model should beat);
* MAE: the hidden pixels filled with the per-pixel mean of the training split. The
  identity for masking — leaving hidden pixels at 0 — is reported too; it is far
  worse than the mean fill, so the mean fill is the bar to clear.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ebmbench.context import TrainContext
from ebmbench.profiles import Profile
from ebmbench.registry import LoadConfig, load_registry
from ebmbench.seeding import make_generator
from ebmbench_plugins.methods.autoencoders import random_masks
from ebmbench_plugins.models.autoencoder import auto_latent, robust_std


@pytest.fixture(scope="module")
def registry():
    return load_registry(LoadConfig())


def build(registry, task_name, n=1000, **model_params):
    profile = Profile("tiny", n, 300, 360, 40, 64, 50, 5, 5, 2, 5, 1)
    task = registry.make("tasks", task_name)
    data = task.make(profile, make_generator(1))
    model = registry.make("models", "autoencoder", **model_params).build(task, data, make_generator(2))
    return task, data, model, profile


# --------------------------------------------------------------------------- the model
@pytest.mark.parametrize("task_name", ["8gaussians", "horn", "digits"])
def test_energy_is_the_squared_reconstruction_error(registry, task_name):
    task, data, model, _ = build(registry, task_name)
    y, x = data.test.y[:50], None if data.test.x is None else data.test.x[:50]
    with torch.no_grad():
        recon = model.reconstruct(y, x).double().numpy()
        energy = model(y, x).double().numpy()
    assert recon.shape == tuple(y.shape)
    assert np.allclose(energy, ((y.double().numpy() - recon) ** 2).sum(1), rtol=1e-5, atol=1e-6)
    assert model.encode(y, x).shape[1] == auto_latent(task.dim)


def test_hidden_values_do_not_reach_the_encoder(registry):
    _, data, model, _ = build(registry, "digits")
    y = data.test.y[:20]
    g = torch.Generator().manual_seed(0)
    mask = random_masks(20, 64, 0.5, g)
    scrambled = torch.where(mask, torch.rand(y.shape, generator=g), y)
    with torch.no_grad():
        assert torch.allclose(model.encode(y, mask=mask), model.encode(scrambled, mask=mask))
        assert not torch.allclose(model.encode(y), model.encode(scrambled))


def test_conditional_reconstruction_depends_on_x(registry):
    _, data, model, _ = build(registry, "horn")
    y, x = data.test.y[:20], data.test.x[:20]
    with torch.no_grad():
        assert not torch.allclose(model(y, x), model(y, x.flip(0)))


def test_auto_latent_and_robust_std():
    assert [auto_latent(d) for d in (1, 2, 10, 32, 64, 784)] == [1, 1, 2, 8, 16, 16]
    t = torch.cat([torch.linspace(0, 1, 100)[:, None], torch.zeros(100, 1)], 1)
    s = robust_std(t)
    assert s[0].item() == pytest.approx(np.std(np.linspace(0, 1, 100), ddof=1), rel=1e-5)
    assert s[1].item() == pytest.approx(0.05 * s[0].item() / 2, rel=1e-5)  # floored, not 0


def test_random_masks_hide_the_requested_count():
    g = torch.Generator().manual_seed(1)
    m = random_masks(4000, 64, 0.75, g)
    assert (m.sum(1) == 48).all()
    assert np.allclose(m.float().mean(0).numpy(), 0.75, atol=0.04)  # every pixel equally often
    assert (random_masks(100, 2, 0.75, g).sum(1) == 1).all()  # at least one visible
    v = random_masks(4000, 64, 0.5, g, variable=True).sum(1)
    assert v.min() == 0 and v.max() == 32
    assert abs(v.float().mean().item() - 16) < 0.6  # uniform on {0, ..., 32}


# ------------------------------------------------------------------------- training
def train(registry, method, steps, **params):
    profile = Profile("ae-test", 2000, 500, 500, steps, 128, 50, 5, 5, 2, 5, 1)
    task = registry.make("tasks", "digits")
    data = task.make(profile, make_generator(1))
    model = registry.make("models", "autoencoder").build(task, data, make_generator(2))
    ctx = TrainContext(registry, task, profile, 3, "cpu")
    registry.make("methods", method, **params).train(model, data, ctx)
    model.eval()
    return data, model, ctx


def test_dae_denoises_held_out_digits(registry):
    sigma = 1.0
    data, model, ctx = train(registry, "dae", 600, sigma=sigma)
    y = data.test.y
    noise = torch.randn(y.shape, generator=torch.Generator().manual_seed(7))
    noisy = y + sigma * robust_std(data.train.y) * noise
    with torch.no_grad():
        repaired = model.reconstruct(noisy).numpy()
    y_np, noisy_np = y.numpy(), noisy.numpy()
    mse = np.mean((repaired - y_np) ** 2)
    identity = np.mean((noisy_np - y_np) ** 2)
    clipped = np.mean((np.clip(noisy_np, 0, 1) - y_np) ** 2)
    assert mse < 0.4 * identity, (mse, identity)
    assert mse < 0.7 * clipped, (mse, clipped)
    # the energy separates clean test digits from their noisy versions
    with torch.no_grad():
        assert model(y).mean() < model(noisy).mean()
    assert {"loss", "energy_gap", "grad_norm", "recon_error", "noisy_baseline"} <= set(ctx.curve[-1])


def test_mae_inpaints_held_out_digits(registry):
    data, model, ctx = train(registry, "mae", 600)
    y = data.test.y
    mask = random_masks(y.shape[0], 64, 0.5, torch.Generator().manual_seed(8))
    with torch.no_grad():
        repaired = model.reconstruct(y, mask=mask).numpy()
    m, y_np = mask.numpy(), y.numpy()
    mse = ((repaired - y_np) ** 2)[m].mean()
    mean_fill = ((data.train.y.mean(0).numpy()[None] - y_np) ** 2)[m].mean()
    zero_fill = (y_np**2)[m].mean()  # the "identity": hidden pixels left at 0
    assert mean_fill < zero_fill
    assert mse < 0.6 * mean_fill, (mse, mean_fill)
    assert {"loss", "masked_error", "mean_fill_baseline", "recon_error"} <= set(ctx.curve[-1])


@pytest.mark.parametrize("method,params", [("dae", {}), ("mae", {}), ("mae", {"variable": False})])
@pytest.mark.parametrize("task_name", ["8gaussians", "horn"])
def test_autoencoder_methods_train_on_toy_tasks(registry, method, params, task_name):
    task, data, model, profile = build(registry, task_name)
    ctx = TrainContext(registry, task, profile, 3, "cpu")
    registry.make("methods", method, **params).train(model, data, ctx)
    assert len(ctx.curve) == 40
    assert all(math.isfinite(v) for row in ctx.curve for v in row.values())


def test_autoencoder_methods_need_an_autoencoder(registry):
    mlp, ae = registry.make("models", "mlp"), registry.make("models", "autoencoder")
    task = registry.make("tasks", "digits")
    for name in ("dae", "mae"):
        method = registry.make("methods", name)
        assert "autoencoder" in method.compatible(mlp, task)
        assert method.compatible(ae, task) is None
