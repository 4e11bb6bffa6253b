"""K-means as an architectural EBM: Lloyd's algorithm against scikit-learn, the prototype
energy against scikit-learn's inertia, and the free energy F_beta -> F_inf
(plugins/methods/kmeans.py, plugins/models/prototypes.py, plugins/models/_nets.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from sklearn.cluster import KMeans as SKKMeans

from ebmbench.context import TrainContext
from ebmbench.profiles import get_profile
from ebmbench.registry import LoadConfig, load_registry
from ebmbench.seeding import make_generator
from ebmbench_plugins.methods.kmeans import kmeans_plus_plus, lloyd
from ebmbench_plugins.models._nets import PrototypeEnergy


@pytest.fixture(scope="module")
def registry():
    return load_registry(LoadConfig())


@pytest.fixture(scope="module")
def data(registry):
    """8gaussians training data (float64) and a k-means++ initialisation of 8 centres."""
    task = registry.make("tasks", "8gaussians")
    y = task.sample(3000, make_generator(11)).y.double()
    init = kmeans_plus_plus(y, 8, make_generator(12))
    return y, init


def test_lloyd_matches_sklearn_from_the_same_init(data):
    y, init = data
    centers, inertia = lloyd(y, init.clone(), max_iter=300, tol=0.0)
    sk = SKKMeans(n_clusters=8, init=init.numpy(), n_init=1, algorithm="lloyd", max_iter=300, tol=0.0).fit(y.numpy())
    assert inertia == pytest.approx(sk.inertia_, rel=0.01)
    # the same fixed point, not merely a similar cost
    dist = torch.cdist(centers, torch.from_numpy(sk.cluster_centers_)).min(dim=1).values
    assert float(dist.max()) < 1e-3


def test_lloyd_from_a_poor_init_still_agrees_with_sklearn(data):
    y, _ = data
    init = y[:8].clone()  # first points: clusters start unbalanced
    _, inertia = lloyd(y, init.clone(), max_iter=300, tol=0.0)
    sk = SKKMeans(n_clusters=8, init=init.numpy(), n_init=1, algorithm="lloyd", max_iter=300, tol=0.0).fit(y.numpy())
    assert inertia == pytest.approx(sk.inertia_, rel=0.01)


def test_lloyd_inertia_never_increases(data):
    y, init = data
    seen = []
    lloyd(y, init.clone(), max_iter=50, on_iter=lambda it, inertia, c: seen.append(inertia))
    assert len(seen) >= 2
    assert all(b <= a * (1 + 1e-12) for a, b in zip(seen, seen[1:]))


def test_prototype_energy_sum_is_sklearn_inertia(data):
    y, init = data
    sk = SKKMeans(n_clusters=8, init=init.numpy(), n_init=1, algorithm="lloyd").fit(y.numpy())
    model = PrototypeEnergy(torch.from_numpy(sk.cluster_centers_)).requires_grad_(False)
    energy_sum = float(model(y).sum())
    assert energy_sum == pytest.approx(-sk.score(y.numpy()), rel=1e-9)  # score = -inertia for given centres
    assert energy_sum == pytest.approx(sk.inertia_, rel=1e-6)


def test_latent_energy_and_f_inf(data):
    y, init = data
    model = PrototypeEnergy(init).requires_grad_(False)
    d2 = ((y[:, None, :] - init[None]) ** 2).sum(-1)
    z = torch.nn.functional.one_hot(d2.argmin(1), 8).double()
    torch.testing.assert_close(model.latent_energy(y, z), d2.min(1).values)
    torch.testing.assert_close(model.free_energy(y), d2.min(1).values)
    for k in range(8):  # E(y, z) for each one-hot z is the squared distance to prototype k
        zk = torch.nn.functional.one_hot(torch.full((len(y),), k), 8).double()
        torch.testing.assert_close(model.latent_energy(y, zk), d2[:, k])


def test_f_beta_marginalises_z_and_tends_to_f_inf(data):
    y, init = data
    model = PrototypeEnergy(init).requires_grad_(False)
    k = init.shape[0]
    d2 = ((y[:, None, :] - init[None]) ** 2).sum(-1).numpy()
    f_inf = d2.min(1)
    gaps = []
    for beta in (0.1, 1.0, 10.0, 100.0, 1e4):
        f_beta = model.free_energy(y, beta=beta).numpy()
        # F_beta = -(1/beta) log sum_z p(z) exp(-beta E(y, z)), p uniform over the k one-hot z
        ref = -logsumexp(-beta * d2, axis=1, b=1.0 / k) / beta
        np.testing.assert_allclose(f_beta, ref, rtol=1e-9, atol=1e-9)
        gap = np.abs(f_beta - f_inf)
        assert gap.max() <= math.log(k) / beta + 1e-9  # the log-sum-exp bound
        gaps.append(gap.max())
    assert all(b < a for a, b in zip(gaps, gaps[1:]))  # monotone convergence
    assert gaps[-1] < 1e-3
    assert PrototypeEnergy(init, beta=math.inf)(y).detach().numpy() == pytest.approx(f_inf)


def test_kmeans_plus_plus_is_seeded_and_picks_data_points(data):
    y, _ = data
    a = kmeans_plus_plus(y, 8, make_generator(5))
    b = kmeans_plus_plus(y, 8, make_generator(5))
    c = kmeans_plus_plus(y, 8, make_generator(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert all(bool((y == row).all(1).any()) for row in a)  # every centre is a data point
    assert len({tuple(r.tolist()) for r in a}) == 8


def test_kmeans_method_trains_the_model_to_sklearns_optimum(registry):
    """The registered method through a TrainContext: curve logged, W at a Lloyd fixed point."""
    task = registry.make("tasks", "8gaussians")
    profile = get_profile("smoke")
    data = task.make(profile, make_generator(3))
    spec = registry.make("models", "kmeans")
    model = spec.build(task, data, make_generator(4))
    ctx = TrainContext(registry, task, profile, seed=9, device="cpu")
    registry.make("methods", "kmeans").train(model, data, ctx)
    y = data.train.y
    losses = [p["loss"] for p in ctx.curve]
    assert len(losses) >= 2 and all(b <= a + 1e-6 for a, b in zip(losses, losses[1:]))
    assert {"loss", "inertia", "energy_gap"} <= set(ctx.curve[0])
    W = model.W.detach().double()
    sk = SKKMeans(n_clusters=8, init=W.numpy(), n_init=1, algorithm="lloyd", max_iter=300).fit(y.double().numpy())
    assert sk.n_iter_ <= 2  # sklearn started at W finds nothing to move
    with torch.no_grad():
        assert float(model(y).double().sum()) == pytest.approx(sk.inertia_, rel=1e-4)
    # (a single k-means++ start may stop in a local optimum: only the fixed point is checked)


def test_restarts_keep_the_lowest_inertia_start(registry):
    """Best-of-R k-means++ starts: never worse than one start, and within 1 % of
    scikit-learn's KMeans given the same number of starts."""
    task = registry.make("tasks", "8gaussians")
    data = task.make(get_profile("smoke"), make_generator(0))
    y = data.train.y
    inertia = {}
    for restarts in (1, 6):
        model = registry.make("models", "kmeans").build(task, data, make_generator(1))
        ctx = TrainContext(registry, task, get_profile("smoke"), 2, "cpu")
        registry.make("methods", "kmeans", restarts=restarts).train(model, data, ctx)
        inertia[restarts] = float(torch.cdist(y, model.W.detach()).pow(2).min(1).values.sum())
        assert ctx.curve and "restart_spread" in ctx.curve[0]
    sk = SKKMeans(n_clusters=model.W.shape[0], n_init=6, random_state=0).fit(y.numpy())
    assert inertia[6] <= inertia[1] * (1 + 1e-6)
    assert inertia[6] <= sk.inertia_ * 1.01
