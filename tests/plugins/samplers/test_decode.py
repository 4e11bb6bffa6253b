"""The `decode` sampler (plugins/samplers/decode.py) and the generative stories of the
architectural models, against closed forms: PCA samples' covariance = the fitted
probabilistic-PCA covariance from NumPy's SVD; K-means draws' cluster frequencies = the
stored weights (chi-square) = the data's assignments, F_beta = the mixture's -log density;
sparse coding's prior = the closed-form lasso codes of orthonormal atoms; GLO's prior =
NumPy's Gaussian of the codes. Plus determinism per generator, the stats, clear errors,
the evaluation path (EvalContext.samples) and the conformance kit's sampler check."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from dataclasses import replace

from ebmbench.context import EvalContext, TrainContext
from ebmbench.profiles import get_profile
from ebmbench.registry import load_registry
from ebmbench.seeding import make_generator


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def _train(registry, task_name, model_name, method_name, model_params=None, seed=0, steps=None):
    task = registry.make("tasks", task_name)
    profile = get_profile("smoke")
    if steps is not None:  # a shorter budget: only what training leaves behind is checked
        profile = replace(profile, train_steps=steps)
    data = task.make(profile, make_generator(seed))
    model = registry.make("models", model_name, **(model_params or {})).build(task, data, make_generator(seed + 1))
    method = registry.make("methods", method_name)
    method.train(model, data, TrainContext(registry, task, profile, seed + 2, "cpu"))
    return model.eval().requires_grad_(False), data, task, method


def _draw(registry, module, n, seed, dim, **params):
    energy = lambda y: module(y)  # noqa: E731 - as EvalContext.energy_fn hands it over
    energy.module, energy.x = module, None
    init = torch.zeros(n, dim)  # only its shape matters
    return registry.make("samplers", "decode", clamp=False, **params).sample(energy, init, make_generator(seed))


# ------------------------------------------------------------------------------ PCA
def test_pca_samples_have_the_fitted_ppca_covariance(registry):
    """cov(samples) = U diag(s^2 / n) U^T + I / (2 beta), U and s from NumPy's SVD of the
    centred training data; the Frobenius error is within sampling error (~sqrt(k / n))."""
    beta = 20.0
    model, data, _, _ = _train(registry, "digits", "linear", "pca", {"k": 10, "beta": beta})
    train = data.train.y.double().numpy()
    _, s, vt = np.linalg.svd(train - train.mean(0), full_matrices=False)
    ref = vt[:10].T @ np.diag(s[:10] ** 2 / len(train)) @ vt[:10] + np.eye(64) / (2 * beta)
    n = 40000
    y = _draw(registry, model, n, 0, 64).samples.double().numpy()
    err = np.linalg.norm(np.cov(y.T) - ref) / np.linalg.norm(ref)
    assert err < 0.03, err
    # the mean: within 5 standard errors on every pixel
    se = np.sqrt(np.diag(ref) / n)
    assert (np.abs(y.mean(0) - train.mean(0)) < 5 * se).all()


def test_pca_samples_at_beta_inf_lie_on_the_subspace(registry):
    model, data, _, _ = _train(registry, "digits", "linear", "pca", {"k": 10})
    y = _draw(registry, model, 2000, 0, 64).samples
    scale = float(data.train.y.var(0).sum())
    assert float(model(y).max()) < 1e-8 * scale  # F_inf = squared distance to the subspace
    assert float(y.var(0).sum()) > 0.5 * scale  # and spread over it (10 components: ~3/4 of the variance)


# --------------------------------------------------------------------------- K-means
def test_kmeans_draws_follow_the_stored_cluster_weights(registry):
    model, data, _, _ = _train(registry, "8gaussians", "kmeans", "kmeans")
    w, y = model.W.double().numpy(), data.train.y.double().numpy()
    assign = ((y[:, None, :] - w[None]) ** 2).sum(-1).argmin(1)
    freq = np.bincount(assign, minlength=len(w)) / len(y)
    assert np.allclose(model.log_prior.exp().double().numpy(), freq, atol=1e-6)
    n = 20000
    draws = _draw(registry, model, n, 3, 2).samples.double().numpy()
    which = ((draws[:, None, :] - w[None]) ** 2).sum(-1)
    assert which.min(1).max() < 1e-10  # at beta = inf every draw is a prototype
    counts = np.bincount(which.argmin(1), minlength=len(w))
    assert stats.chisquare(counts, n * freq).pvalue > 1e-3


def test_kmeans_free_energy_is_the_sampled_mixtures_log_density(registry):
    """exp(-beta F_beta) = (pi / beta)^(D/2) sum_k pi_k N(y; w_k, I / (2 beta)) (SciPy), and
    the draws' second moment is that mixture's."""
    model, data, _, _ = _train(registry, "8gaussians", "kmeans", "kmeans")
    beta = 2.0
    y = data.test.y[:200]
    pi, w = model.log_prior.exp().double().numpy(), model.W.double().numpy()
    dens = sum(p * stats.multivariate_normal(c, np.eye(2) / (2 * beta)).pdf(y.double().numpy()) for p, c in zip(pi, w))
    f = model.free_energy(y, beta=beta).double().numpy()
    assert np.allclose(-beta * f, np.log(dens) + math.log(math.pi / beta), atol=1e-6)
    model.beta = beta
    draws = _draw(registry, model, 20000, 4, 2).samples.double().numpy()
    # E |y|^2 = sum_k pi_k |w_k|^2 + D / (2 beta) for the mixture, within 5 standard errors
    sq = (draws**2).sum(1)
    expected = float(pi @ (w**2).sum(1)) + 2 / (2 * beta)
    assert abs(sq.mean() - expected) < 5 * sq.std() / math.sqrt(len(sq)), (sq.mean(), expected)


# --------------------------------------------------------------------- sparse coding
def test_sparse_coding_prior_matches_closed_form_lasso_codes():
    """Orthonormal atoms: the lasso code is soft-threshold(W^T r, lam / 2) in closed form;
    fit_prior stores each atom's active fraction and mean |z| of its non-zero codes, and
    the draws' codes (W^T (y - mu), exact for orthonormal W at beta = inf) reproduce them."""
    from ebmbench_plugins.models._latent_nets import DictionaryEnergy

    g = make_generator(0)
    q = torch.linalg.qr(torch.randn(6, 3, generator=g, dtype=torch.float64))[0]
    lam, mu = 0.8, torch.tensor([0.5, -1.0, 0.0, 2.0, 0.3, 0.1], dtype=torch.float64)
    y = mu + torch.randn(5000, 6, generator=g, dtype=torch.float64) * torch.tensor([2.0, 1.0, 0.5, 0.3, 0.3, 0.3])
    model = DictionaryEnergy(mu, q, lam, iters=2000, tol=1e-10)
    model.fit_prior(y)
    c = ((y - mu) @ q).numpy()
    ref = np.sign(c) * np.maximum(np.abs(c) - lam / 2, 0)
    active = (ref != 0).mean(0)
    scale = np.abs(ref).sum(0) / (ref != 0).sum(0)
    assert np.allclose(model.z_active.numpy(), active, atol=2e-3)  # a code at the threshold may flip
    assert np.allclose(model.z_scale.numpy(), scale, rtol=1e-3)
    z = (model.generate(40000, make_generator(1)) - mu) @ q
    z = torch.where(z.abs() > 1e-9, z, torch.zeros_like(z))  # W^T W = I up to rounding
    on = (z != 0).double().mean(0).numpy()
    assert np.all(np.abs(on - active) < 5 * np.sqrt(active * (1 - active) / 40000))
    mag = np.array([float(z[:, j][z[:, j] != 0].abs().mean()) for j in range(3)])
    assert np.allclose(mag, scale, rtol=0.03)  # Laplace: the ML scale is the mean |z|


def test_sparse_coding_method_fits_the_prior_and_samples_near_the_data(registry):
    model, data, _, method = _train(registry, "8gaussians", "dictionary", "sparse_coding", steps=3)
    assert method.sampler() == ("decode", {})
    assert float(model.prior_n) == data.train.y.shape[0]
    assert 0 < float(model.z_active.mean()) < 1
    y = _draw(registry, model, 20000, 0, 2).samples.double()
    # the draws' mean is the data's (the codes' law is symmetric: E z = 0), within 5 s.e.
    se = y.std(0) / math.sqrt(len(y))
    assert ((y.mean(0) - data.train.y.double().mean(0)).abs() < 5 * se).all()


# ------------------------------------------------------------------------------ GLO
def test_glo_prior_is_numpys_gaussian_of_the_codes_and_draws_decode_it():
    from ebmbench_plugins.models._glo_net import GLOEnergy, project_sphere

    g = make_generator(0)
    codes = torch.randn(500, 3, generator=g) * torch.tensor([1.0, 0.3, 0.1]) + torch.tensor([1.0, 0.0, 0.0])
    model = GLOEnergy(torch.zeros(4), torch.ones(4), codes, hidden=16, generator=g).requires_grad_(False)
    with pytest.raises(RuntimeError, match="no fitted latent prior"):
        model.generate(4, make_generator(1))
    model.fit_prior()
    ref = project_sphere(codes).double().numpy()
    cov = np.cov(ref.T, bias=True)
    assert np.allclose(model.prior_mean.numpy(), ref.mean(0), atol=1e-6)
    assert np.allclose((model.prior_root @ model.prior_root.T).numpy(), cov, atol=1e-6)
    # the draws' law = D applied to NumPy's draws from that Gaussian (first two moments)
    n = 40000
    ours = model.generate(n, make_generator(2)).double().numpy()
    z = np.random.default_rng(0).multivariate_normal(ref.mean(0), cov, n)
    theirs = model.decode(torch.from_numpy(z).float()).double().numpy()
    se = np.sqrt(theirs.var(0) * 2 / n)
    assert (np.abs(ours.mean(0) - theirs.mean(0)) < 5 * se).all()
    assert np.allclose(np.cov(ours.T), np.cov(theirs.T), atol=0.05 * np.abs(np.cov(theirs.T)).max())


# --------------------------------------------------------------------------- sampler
def test_decode_is_deterministic_per_generator_and_reports_its_stats(registry):
    model, _, task, _ = _train(registry, "8gaussians", "kmeans", "kmeans", {"beta": 4.0})
    a, b, c = (_draw(registry, model, 500, s, 2) for s in (5, 5, 6))
    assert torch.equal(a.samples, b.samples) and not torch.equal(a.samples, c.samples)
    assert a.samples.dtype == torch.float32 and not a.samples.requires_grad
    assert a.stats == {"grad_evals": 0.0, "energy_evals": 0.0, "temperature": 0.25}
    # clamped to the domain box by projection
    energy = lambda y: model(y)  # noqa: E731
    energy.module, energy.x = model, None
    box = torch.tensor([[-1.0, 1.0], [-1.0, 1.0]])
    r = registry.make("samplers", "decode").sample(energy, torch.zeros(500, 2), make_generator(5), domain=box)
    assert torch.equal(r.samples, a.samples.clamp(-1, 1))


def test_decode_refuses_a_model_without_a_generative_story(registry):
    sampler = registry.make("samplers", "decode")
    mlp = registry.make("models", "mlp")
    task = registry.make("tasks", "8gaussians")
    module = mlp.build(task, task.make(get_profile("smoke"), make_generator(0)), make_generator(1))
    energy = lambda y: module(y)  # noqa: E731
    energy.module, energy.x = module, None
    with pytest.raises(ValueError, match="no generative story"):
        sampler.sample(energy, torch.zeros(4, 2), make_generator(0))
    with pytest.raises(ValueError, match="needs the model"):
        sampler.sample(lambda y: y.pow(2).sum(1), torch.zeros(4, 2), make_generator(0))


def test_evaluation_samples_come_from_the_generative_story(registry):
    """EvalContext.samples() runs the method's sampler: K-means' draws are its prototypes."""
    model, data, task, method = _train(registry, "8gaussians", "kmeans", "kmeans")
    ctx = EvalContext(registry, task, get_profile("smoke"), 0, "cpu", model=model, data=data, method=method)
    result = ctx.samples()
    assert result.stats["grad_evals"] == 0.0 and result.stats["temperature"] == 0.0
    d = torch.cdist(result.samples.double(), model.W.double()).min(1).values
    assert float(d.max()) < 1e-6


def test_conformance_sampler_check_passes_on_a_target_with_a_generative_story(monkeypatch):
    """The kit's sampler check (shapes, domain, seeds, global RNGs, moves to the mode) on
    its standard-normal target, given that target's own story (y ~ N(0, I) at T = 1)."""
    import ebmbench.testing.checks_entries as ce
    from ebmbench.testing.kit import Kit, KitConfig
    from ebmbench.testing.references import gaussian_target

    def target(dim=2):
        energy = gaussian_target(dim)

        def generate(n, generator, beta=None):
            return torch.randn(n, dim, generator=generator) / math.sqrt(1.0 if beta is None else beta)

        energy.module.generate = generate
        return energy

    monkeypatch.setattr(ce, "gaussian_target", target)
    ce.check_sampler(Kit(KitConfig("ebmbench")), "decode")
