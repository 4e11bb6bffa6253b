"""Architectural methods against independent references: PCA vs NumPy SVD and scikit-learn
PCA, FISTA vs scikit-learn's Lasso, K-means vs scikit-learn KMeans, GLO's inference and
the Monte-Carlo free energies vs dense quadrature."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

import ebmbench
from ebmbench.context import TrainContext
from ebmbench.contracts import Split, TaskData
from ebmbench.profiles import get_profile
from ebmbench.registry import load_registry
from ebmbench.seeding import make_generator


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def _train(
    registry, task_name, model_name, method_name, profile, data=None, model_params=None, method_params=None, seed=0
):
    task = registry.make("tasks", task_name) if isinstance(task_name, str) else task_name
    data = data or task.make(profile, make_generator(seed))
    model = registry.make("models", model_name, **(model_params or {})).build(task, data, make_generator(seed + 1))
    method = registry.make("methods", method_name, **(method_params or {}))
    ctx = TrainContext(registry, task, profile, seed + 2, "cpu")
    method.train(model, data, ctx)
    return model, data, ctx


def _digits_data(registry):
    return registry.make("tasks", "digits").make(get_profile("smoke"), make_generator(0))


# ----------------------------------------------------------------------------- PCA
def test_pca_matches_svd_and_sklearn_reconstruction(registry):
    from sklearn.decomposition import PCA as SkPCA

    data = _digits_data(registry)
    model, _, ctx = _train(registry, "digits", "linear", "pca", get_profile("smoke"), data=data, model_params={"k": 10})
    train, test = data.train.y.double().numpy(), data.test.y.double().numpy()
    # NumPy SVD of the centred training data: the reference subspace
    mean = train.mean(0)
    _, _, vt = np.linalg.svd(train - mean, full_matrices=False)
    ref = mean + (test - mean) @ vt[:10].T @ vt[:10]
    sk = SkPCA(n_components=10, svd_solver="full").fit(train)
    ref_sk = sk.inverse_transform(sk.transform(test))
    with torch.no_grad():
        ours = model.reconstruct(data.test.y).double().numpy()
        energy = model(data.test.y).double().numpy()
    rel = np.linalg.norm(ours - ref) / np.linalg.norm(ref)
    rel_sk = np.linalg.norm(ours - ref_sk) / np.linalg.norm(ref_sk)
    assert rel <= 1e-5 and rel_sk <= 1e-5, (rel, rel_sk)
    ref_energy = ((test - ref) ** 2).sum(1)
    assert np.abs(energy - ref_energy).max() / ref_energy.mean() <= 1e-4
    # the logged training loss is the Eckart-Young optimum: excess ~ 0
    assert abs(ctx.curve[-1]["excess_loss"]) <= 1e-4 * ctx.curve[-1]["loss"]
    assert ctx.curve[-1]["energy_gap"] > 0


def test_pca_free_energy_closed_form_matches_quadrature():
    from ebmbench_plugins.models._latent_nets import LinearSubspaceEnergy

    g = torch.Generator().manual_seed(0)
    w = torch.randn(3, 1, generator=g, dtype=torch.float64) * 1.7
    model = LinearSubspaceEnergy(torch.zeros(3, dtype=torch.float64), w)
    y = torch.randn(4, 3, generator=g, dtype=torch.float64)
    z = torch.linspace(-30, 30, 200001, dtype=torch.float64)
    for beta in (0.5, 3.0):
        e = ((y[:, None, :] - z[None, :, None] * w[:, 0]) ** 2).sum(-1)  # [4, Z]
        ref = -(torch.logsumexp(-beta * e, 1) + math.log(float(z[1] - z[0]))) / beta
        assert torch.allclose(model.free_energy(y, beta=beta), ref, atol=1e-8)


def test_linear_autoencoder_reaches_the_principal_subspace(registry):
    # data with a clear spectral gap: 3 strong directions in 8-D
    g = torch.Generator().manual_seed(7)  # not the model's init seed: its random basis must differ
    basis = torch.linalg.qr(torch.randn(8, 3, generator=g))[0]

    def draw(n):
        return (
            torch.randn(n, 3, generator=g) * torch.tensor([3.0, 2.0, 1.5]) @ basis.T
            + 0.1 * torch.randn(n, 8, generator=g)
            + 1.0
        )

    data = TaskData(Split(draw(2000)), Split(draw(500)), Split(draw(500)))

    class Box(ebmbench.Task):  # only the domain is used (noise for the energy-gap diagnostic)
        name, dim, domain, main_metric = "box8", 8, ((-8.0, 8.0),) * 8, "energy_gap"

    profile = replace(get_profile("smoke"), train_steps=600)
    model, _, ctx = _train(
        registry,
        Box(),
        "linear",
        "pca",
        profile,
        data=data,
        model_params={"k": 3},
        method_params={"solver": "ae", "lr": 0.02},
    )
    y = data.train.y.double()
    _, _, vt = torch.linalg.svd(y - y.mean(0), full_matrices=False)
    q = torch.linalg.qr(model.W.detach().double())[0]
    cosines = torch.linalg.svdvals(vt[:3] @ q)  # cosines of the principal angles
    assert cosines.min() > 0.999, cosines
    assert ctx.curve[-1]["excess_loss"] < 5e-2 * ctx.curve[-1]["loss"]
    assert ctx.curve[-1]["ae_loss"] < 0.2 * ctx.curve[0]["ae_loss"]


# ------------------------------------------------------------------ sparse coding
def test_fista_matches_sklearn_lasso():
    from sklearn.linear_model import Lasso

    from ebmbench_plugins.models._latent_nets import fista

    rng = np.random.default_rng(0)
    d, k, lam = 20, 40, 0.3
    w = rng.standard_normal((d, k))
    w /= np.linalg.norm(w, axis=0)
    r = rng.standard_normal((6, d))
    z, _ = fista(torch.from_numpy(r), torch.from_numpy(w), lam, iters=20000, tol=1e-12)
    z = z.numpy()
    for i in range(r.shape[0]):
        # sklearn: (1/(2n)) ||r - W z||^2 + alpha ||z||_1 with n = d rows; ours is 2d times that
        ref = Lasso(alpha=lam / (2 * d), fit_intercept=False, tol=1e-12, max_iter=200000).fit(w, r[i]).coef_
        assert np.abs(z[i] - ref).max() <= 1e-5, np.abs(z[i] - ref).max()
        assert np.array_equal(z[i] != 0, ref != 0)


def _sparse_objective(W, lam, mean, y):
    """Mean min_z ||y - mean - W z||^2 + lam |z|_1 by (long) FISTA: one yardstick for both dictionaries."""
    from ebmbench_plugins.models._latent_nets import fista

    r = y - mean
    z, _ = fista(r, W, lam, 1000, 1e-7)
    return float(((r - z @ W.T) ** 2).sum(1).mean() + lam * z.abs().sum(1).mean())


@pytest.mark.slow
def test_sparse_coding_learns_a_dictionary_as_good_as_sklearn(registry):
    from sklearn.decomposition import MiniBatchDictionaryLearning

    data = _digits_data(registry)
    task = registry.make("tasks", "digits")
    init = registry.make("models", "dictionary", k=64).build(task, data, make_generator(1))
    lam, mean = init.lam, init.mean
    before = _sparse_objective(init.W.detach(), lam, mean, data.val.y)
    profile = replace(get_profile("smoke"), train_steps=150)
    model, _, ctx = _train(
        registry, "digits", "dictionary", "sparse_coding", profile, data=data, model_params={"k": 64}
    )
    after = _sparse_objective(model.W.detach(), lam, mean, data.val.y)
    # scikit-learn's online dictionary learning (Mairal et al.) at the same L1 weight:
    # its objective is 1/2 ||x - u V||^2 + alpha |u|_1, i.e. ours with alpha = lam / 2
    sk = MiniBatchDictionaryLearning(n_components=64, alpha=lam / 2, batch_size=128, max_iter=30, random_state=0).fit(
        (data.train.y - mean).numpy()
    )
    reference = _sparse_objective(torch.from_numpy(sk.components_.T.copy()).float(), lam, mean, data.val.y)
    assert after < 0.9 * before, (before, after)
    assert after <= 1.02 * reference, (after, reference)
    norms = model.W.detach().norm(dim=0)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5)
    assert 0 < ctx.curve[-1]["sparsity"] < 0.5  # codes are sparse, not empty
    # F_inf is E at the FISTA code, and no nearby code does better
    y = data.test.y[:16]
    with torch.no_grad():
        z = model.encode(y)
        f = model(y)
        assert torch.allclose(f, model.latent_energy(y, z))
        for scale in (1e-2, 1e-1):
            noisy = z + scale * torch.randn(z.shape, generator=torch.Generator().manual_seed(3))
            assert (model.latent_energy(y, noisy) >= f - 1e-4).all()


def test_sparse_coding_free_energy_matches_quadrature():
    from ebmbench_plugins.models._latent_nets import DictionaryEnergy

    g = torch.Generator().manual_seed(2)
    atoms = torch.randn(3, 2, generator=g, dtype=torch.float64)
    model = DictionaryEnergy(torch.zeros(3, dtype=torch.float64), atoms, lam=0.5, n_mc=4096)
    model.normalise_atoms()
    y = torch.randn(3, 3, generator=g, dtype=torch.float64)
    grid = torch.linspace(-12, 12, 1601, dtype=torch.float64)
    zz = torch.stack(torch.meshgrid(grid, grid, indexing="ij"), -1).reshape(-1, 2)
    cell = float(grid[1] - grid[0]) ** 2
    with torch.no_grad():
        e = torch.stack([model.latent_energy(yi.expand(zz.shape[0], 3), zz) for yi in y])
    for beta in (1.0, 10.0, 100.0):
        with torch.no_grad():
            est = model.free_energy(y, beta=beta)
        ref = -(torch.logsumexp(-beta * e, 1) + math.log(cell)) / beta
        assert (est - ref).abs().max() <= 0.02 / math.sqrt(beta), (beta, est, ref)
    # and F_beta -> F_inf: the gap is O(k log(beta) / beta)
    with torch.no_grad():
        f_inf = model.free_energy(y, beta=math.inf)
        gaps = [float((model.free_energy(y, beta=b) - f_inf).abs().max()) for b in (10.0, 1e3, 1e5)]
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 1e-3


# ------------------------------------------------------------------------ K-means
def test_kmeans_matches_sklearn_inertia_on_same_init(registry):
    from sklearn.cluster import KMeans as SkKMeans

    from ebmbench_plugins.methods.kmeans import kmeans_plus_plus, lloyd

    data = registry.make("tasks", "8gaussians").make(get_profile("smoke"), make_generator(0))
    y = data.train.y.double()
    init = kmeans_plus_plus(y, 8, torch.Generator().manual_seed(0))
    _, inertia = lloyd(y, init, max_iter=300, tol=0.0)
    sk = SkKMeans(8, init=init.numpy(), n_init=1, max_iter=300, tol=0.0, algorithm="lloyd").fit(y.numpy())
    assert abs(inertia - sk.inertia_) <= 0.01 * sk.inertia_


# ---------------------------------------------------------------------------- GLO
@pytest.fixture(scope="module")
def glo_2d(registry):
    profile = replace(get_profile("smoke"), n_train=1000, train_steps=300)
    model, data, ctx = _train(registry, "8gaussians", "glo", "glo", profile, model_params={"z_dim": 2})
    model.eval()
    model.requires_grad_(False)
    return model, data, ctx


def _circle_energies(model, y, n=4096):
    theta = torch.arange(n, dtype=torch.float32) * (2 * math.pi / n)
    curve = model.decode(torch.stack([torch.cos(theta), torch.sin(theta)], 1))  # [n, 2]
    return torch.cdist(y, curve).pow(2)  # [B, n]


def test_glo_trains_and_infers_the_minimum_over_the_circle(glo_2d):
    model, data, ctx = glo_2d
    assert ctx.curve[-1]["loss"] < 0.5 * ctx.curve[0]["loss"]
    assert torch.allclose(model.codes.norm(dim=1), torch.ones(model.codes.shape[0]), atol=1e-5)
    y = torch.cat([data.test.y[:200], torch.rand(100, 2, generator=torch.Generator().manual_seed(0)) * 8 - 4])
    with torch.no_grad():
        ours = model(y)
        ref = _circle_energies(model, y).min(1).values  # dense search over the latent circle
    # never below the true minimum (up to the grid's resolution), and close to it
    assert (ours >= ref - 1e-3 * (1 + ref)).all()
    assert float((ours - ref).mean()) <= 0.01 * float(ref.mean()) + 1e-4, (ours - ref).abs().max()


def test_glo_free_energy_matches_quadrature_on_the_circle(glo_2d):
    model = glo_2d[0]
    y = glo_2d[1].test.y[:20]
    n_mc, model.n_mc = model.n_mc, 8192  # Monte Carlo: error ~ 1/sqrt(n_mc)
    try:
        with torch.no_grad():
            e = _circle_energies(model, y).double()
            for beta in (1.0, 10.0, 100.0):
                ref = -(torch.logsumexp(-beta * e, 1) - math.log(e.shape[1])) / beta  # uniform on the circle
                est = model.free_energy(y, beta=beta).double()
                assert (est - ref).abs().max() <= 0.08 / math.sqrt(beta), (beta, (est - ref).abs().max())
    finally:
        model.n_mc = n_mc
        f_inf = model.free_energy(y, beta=math.inf)
        assert (model.free_energy(y, beta=1e4) - f_inf).abs().max() < 2e-3
