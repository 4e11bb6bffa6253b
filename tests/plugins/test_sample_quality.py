"""Sample-quality metrics against independent references (sample_quality.py, sample_features.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import linalg, stats
from scipy.optimize import linprog
from scipy.spatial.distance import cdist

import ebmbench
from ebmbench.context import EvalContext
from ebmbench.profiles import get_profile
from ebmbench_plugins.metrics import sample_features as SF
from ebmbench_plugins.metrics import sample_quality as SQ
from ebmbench_plugins.tasks.toy2d import EightGaussians

RNG = np.random.default_rng(1234)


def ctx_with_samples(task, samples, test, seed=0):
    data = ebmbench.TaskData(ebmbench.Split(test), ebmbench.Split(test), ebmbench.Split(test))
    ctx = EvalContext(None, task, get_profile("smoke"), seed, "cpu", model=None, data=data, method=None)
    ctx.cache["samples"] = ebmbench.SampleResult(samples)
    ctx.cache["samples_x"] = None
    return ctx


# --------------------------------------------------------------------------- MMD^2
def mmd2_numpy(a, b, hs):
    k = lambda u, v: sum(np.exp(-cdist(u, v, "sqeuclidean") / (2 * h * h)) for h in hs)  # noqa: E731
    kaa, kbb, kab = k(a, a), k(b, b), k(a, b)
    m, n = len(a), len(b)
    return (kaa.sum() - np.trace(kaa)) / (m * (m - 1)) + (kbb.sum() - np.trace(kbb)) / (n * (n - 1)) - 2 * kab.mean()


@pytest.mark.parametrize("dim", [2, 64])
def test_mmd2_matches_direct_numpy(dim):
    a = RNG.normal(size=(150, dim))
    b = RNG.normal(size=(170, dim)) * 1.2 + 0.3
    hs = SQ.mmd_bandwidths(9.0 if dim == 2 else 1.0, dim)
    got = SQ.mmd2_unbiased(torch.from_numpy(a), torch.from_numpy(b), hs, block=64)  # several blocks
    assert got == pytest.approx(mmd2_numpy(a, b, hs), rel=1e-10, abs=1e-12)


def test_mmd_bandwidths_scaling():
    assert SQ.mmd_bandwidths(9.0, 2) == pytest.approx(SQ.BANDWIDTHS)
    assert SQ.mmd_bandwidths(1.0, 64) == pytest.approx([h * math.sqrt(32) / 9 for h in SQ.BANDWIDTHS])


def test_mmd2_metric_through_context_is_unbiased_near_zero_for_same_law():
    task = EightGaussians()
    g = torch.Generator().manual_seed(0)
    same = SQ.MMD().compute(ctx_with_samples(task, task.sample(500, g).y, task.sample(500, g).y))
    shifted = SQ.MMD().compute(ctx_with_samples(task, task.sample(500, g).y + 0.5, task.sample(500, g).y))
    assert abs(same) < 5e-3 and shifted > 0.05


# ------------------------------------------------------------------- sliced W2
def w2_linprog(a, b):
    """Exact W2 between 1-D empirical laws by the transport linear programme."""
    m, n = len(a), len(b)
    cost = (a[:, None] - b[None, :]) ** 2
    rows = np.kron(np.eye(m), np.ones(n))  # sum_j P_ij = 1/m
    cols = np.kron(np.ones(m), np.eye(n))  # sum_i P_ij = 1/n
    res = linprog(
        cost.ravel(),
        A_eq=np.vstack([rows, cols]),
        b_eq=np.r_[np.full(m, 1 / m), np.full(n, 1 / n)],
        bounds=(0, None),
        method="highs",
    )
    return math.sqrt(res.fun)


def test_w2_1d_of_a_shift_equals_scipy_w1():
    a = RNG.normal(size=300)
    for shift in (0.0, 0.7, -2.5):
        got = float(SQ.wasserstein2_1d(torch.from_numpy(a)[:, None], torch.from_numpy(a + shift)[:, None])[0])
        assert got == pytest.approx(abs(shift), abs=1e-12)
        assert got == pytest.approx(stats.wasserstein_distance(a, a + shift), abs=1e-12)


def test_w2_1d_matches_transport_lp_for_unequal_sizes():
    for m, n in [(7, 11), (12, 5), (9, 9)]:
        a, b = RNG.normal(size=m), RNG.exponential(size=n)
        got = float(SQ.wasserstein2_1d(torch.from_numpy(a)[:, None], torch.from_numpy(b)[:, None])[0])
        assert got == pytest.approx(w2_linprog(a, b), rel=1e-7)
        assert got >= stats.wasserstein_distance(a, b) - 1e-12  # W2 >= W1 (Jensen)


def test_sliced_w2_in_1d_is_w2_and_of_a_shift_is_projected_shift():
    a = RNG.normal(size=(400, 1))
    b = RNG.normal(size=(400, 1)) * 2
    dirs = SQ.random_directions(256, 1, torch.Generator().manual_seed(0))  # all +-1 in 1-D
    got = SQ.sliced_w2(torch.from_numpy(a), torch.from_numpy(b), dirs)
    direct = math.sqrt(np.mean((np.sort(a[:, 0]) - np.sort(b[:, 0])) ** 2))  # quantile-function L2
    assert got == pytest.approx(direct, rel=1e-10)

    x = RNG.normal(size=(500, 2))
    mu = np.array([1.5, -0.5])
    dirs = SQ.random_directions(300, 2, torch.Generator().manual_seed(1))
    got = SQ.sliced_w2(torch.from_numpy(x), torch.from_numpy(x + mu), dirs, chunk=37)
    assert got == pytest.approx(math.sqrt(np.mean((dirs.numpy() @ mu) ** 2)), rel=1e-10)
    assert got == pytest.approx(np.linalg.norm(mu) / math.sqrt(2), rel=0.1)  # E (theta.mu)^2 = |mu|^2/2


def test_sliced_w2_metric_is_seeded_and_uses_256_directions():
    task = EightGaussians()
    g = torch.Generator().manual_seed(0)
    s, t = task.sample(300, g).y, task.sample(300, g).y
    m = SQ.SlicedW2()
    assert m.p["directions"] >= 256
    v1, v2 = m.compute(ctx_with_samples(task, s, t)), m.compute(ctx_with_samples(task, s, t))
    assert v1 == v2 and 0 < v1 < 0.5
    assert SQ.SlicedW2().compute(ctx_with_samples(task, s + 1.0, t)) > 0.6


# --------------------------------------------------- precision/recall, density/coverage
def brute_force(real, fake, k):
    """Definitions of Kynkäänniemi et al. and Naeem et al., straight from full distance matrices."""
    rr = np.sort(cdist(real, real), 1)[:, k]  # column 0 is the point itself
    ff = np.sort(cdist(fake, fake), 1)[:, k]
    fr = cdist(fake, real)
    precision = (fr <= rr[None, :]).any(1).mean()
    recall = (fr.T <= ff[None, :]).any(1).mean()
    density = (fr <= rr[None, :]).sum() / (k * len(fake))
    coverage = (fr.min(0) <= rr).mean()
    return precision, recall, density, coverage


def test_knn_metrics_match_brute_force():
    real = RNG.normal(size=(300, 3))
    fake = RNG.normal(size=(250, 3)) * 1.3 + 0.4
    p3, r3, _, _ = brute_force(real, fake, 3)
    _, _, d5, c5 = brute_force(real, fake, 5)
    p, r = SF.precision_recall(real, fake, 3)
    d, c = SF.density_coverage(real, fake, 5)
    assert (p, r) == pytest.approx((p3, r3), abs=1e-12)
    assert (d, c) == pytest.approx((d5, c5), abs=1e-12)
    assert 0 < p < 1 and 0 < r < 1 and 0 < c < 1  # a non-trivial case


def test_knn_metrics_limiting_cases():
    real = RNG.normal(size=(400, 2))
    assert SF.precision_recall(real, real, 3) == (1.0, 1.0)
    d, c = SF.density_coverage(real, real, 5)
    assert c == 1.0
    assert d == pytest.approx(6 / 5)  # each point sits in its own ball and its 5 neighbours' balls
    far = real + 1000.0
    assert SF.precision_recall(real, far, 3) == (0.0, 0.0)
    assert SF.density_coverage(real, far, 5) == (0.0, 0.0)


def test_knn_metric_classes_share_one_computation():
    task = EightGaussians()
    g = torch.Generator().manual_seed(0)
    ctx = ctx_with_samples(task, task.sample(300, g).y, task.sample(300, g).y)
    vals = {c.name: c().compute(ctx) for c in (SF.Precision, SF.Recall, SF.Density, SF.Coverage)}
    assert {k for k in ctx.cache if k.startswith("knn:")} == {"knn:pr:3", "knn:dc:5"}
    assert all(0.6 < v < 1.4 for v in vals.values()), vals  # same law: all near 1


# ------------------------------------------------------------------ Fréchet distance
def test_frechet_distance_matches_direct_sqrtm_formula_and_closed_forms():
    d = 6
    a, b = RNG.normal(size=(d, d)), RNG.normal(size=(d, d))
    s1, s2 = a @ a.T + 0.1 * np.eye(d), b @ b.T + 0.1 * np.eye(d)
    m1, m2 = RNG.normal(size=d), RNG.normal(size=d)
    direct = np.sum((m1 - m2) ** 2) + np.trace(s1 + s2 - 2 * np.real(linalg.sqrtm(s1 @ s2)))
    assert SF.frechet_distance(m1, s1, m2, s2) == pytest.approx(direct, rel=1e-9)
    # the symmetric route: Tr (S1 S2)^1/2 = Tr (S1^1/2 S2 S1^1/2)^1/2 = sum sqrt(eig)
    r = linalg.sqrtm(s1).real
    sym = np.sum((m1 - m2) ** 2) + np.trace(s1 + s2) - 2 * np.sqrt(np.linalg.eigvalsh(r @ s2 @ r)).sum()
    assert SF.frechet_distance(m1, s1, m2, s2) == pytest.approx(sym, rel=1e-7)
    # commuting (diagonal) covariances: sum (sqrt a - sqrt b)^2
    va, vb = RNG.uniform(0.1, 3, d), RNG.uniform(0.1, 3, d)
    closed = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(va) - np.sqrt(vb)) ** 2)
    assert SF.frechet_distance(m1, np.diag(va), m2, np.diag(vb)) == pytest.approx(closed, rel=1e-9)
    assert SF.frechet_distance(m1, s1, m1, s1) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_survives_singular_covariances():
    f = RNG.normal(size=(10, 20))  # fewer points than dimensions: rank-deficient covariance
    v = SF.frechet_distance(*SF.gaussian_stats(f), *SF.gaussian_stats(f + 0.1))
    assert math.isfinite(v) and v == pytest.approx(20 * 0.01, abs=1e-3)


def test_fid_applies_only_to_unconditional_64d_digits():
    assert SF.FIDDigits().applies_to(EightGaussians()) is not None


# --------------------------------------------------------------- digits classifier
@pytest.mark.slow  # ~2 s with the cached classifier; the first run on a machine trains it (~8 s)
def test_digits_classifier_is_accurate_and_its_fid_ranks_sensibly():
    from ebmbench_plugins.metrics._digits_features import digits_classifier, digits_features, digits_logits
    from ebmbench_plugins.tasks.digits import Digits, digits_split

    clf = digits_classifier()  # trained once per machine, then read from the .npz cache
    assert float(clf["heldout_accuracy"]) > 0.9
    train, _, held, labels = digits_split()
    assert (digits_logits(held).argmax(1) == labels).float().mean() == pytest.approx(
        float(clf["heldout_accuracy"]), abs=1e-6
    )
    feats = digits_features(held)
    assert feats.shape == (len(held), 64) and (feats >= 0).all()  # post-ReLU penultimate layer

    def fid(a, b):
        return SF.frechet_distance(*SF.gaussian_stats(digits_features(a)), *SF.gaussian_stats(digits_features(b)))

    noise = torch.rand(len(held), 64, generator=torch.Generator().manual_seed(0))
    assert fid(train, held) < fid((held + torch.roll(held, 1, 1)) / 2, held) < fid(noise, held)

    task = Digits()
    assert SF.FIDDigits().applies_to(task) is None
    ctx = ctx_with_samples(task, train[:360], held[:360])
    assert SF.FIDDigits().compute(ctx) == pytest.approx(fid(train[:360], held[:360]), rel=1e-9)


@pytest.mark.slow
def test_digits_classifier_training_is_deterministic():
    from ebmbench_plugins.metrics import _digits_features as DF

    a, b = DF._train(), DF._train()
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


# ------------------------------------------------------------------------- logp_shift
def _mixture_logpdf_scipy(y, task):
    """8gaussians' log-density by SciPy (an independent implementation of the mixture)."""
    centres, std = task.centers().numpy(), task.STD / task.DIV
    comp = np.stack([stats.multivariate_normal(c, std**2 * np.eye(2)).logpdf(y) for c in centres])
    return np.logaddexp.reduce(comp, axis=0) - math.log(len(centres))


def test_logp_shift_is_the_mean_log_density_difference_and_zero_for_true_samples():
    task = EightGaussians()
    g = torch.Generator().manual_seed(3)
    test = task.sample(2000, g).y
    centres = task.centers().float()[torch.randint(0, 8, (2000,), generator=g)]
    blurred = centres + torch.randn(2000, 2, generator=g) * (2 * task.STD / task.DIV)  # 2x too wide
    got = SQ.LogpShift().compute(ctx_with_samples(task, blurred, test))
    want = (
        _mixture_logpdf_scipy(test.double().numpy(), task).mean()
        - _mixture_logpdf_scipy(blurred.double().numpy(), task).mean()
    )
    assert got == pytest.approx(want, rel=1e-6) and got > 0.5  # too spread: positive
    # a second true draw: zero within 4 standard errors of the difference of two means
    other = task.sample(2000, g).y
    lp = _mixture_logpdf_scipy(np.concatenate([test.double().numpy(), other.double().numpy()]), task)
    se = lp.std() * math.sqrt(2 / 2000)
    assert abs(SQ.LogpShift().compute(ctx_with_samples(task, other, test))) < 4 * se
    # samples on the modes themselves: too concentrated, negative
    assert SQ.LogpShift().compute(ctx_with_samples(task, centres, test)) < 0
