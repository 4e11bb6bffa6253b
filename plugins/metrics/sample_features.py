"""Sample quality, manifold and feature forms (docs/science.md §4).

* `precision` / `recall` (Kynkäänniemi et al. 2019, k = 3): the real manifold is the
  union of balls around each test point with radius its distance to its k-th nearest
  test neighbour; precision = share of model samples inside it; recall = share of test
  points inside the model samples' manifold (built the same way).
* `density` / `coverage` (Naeem et al. 2020, k = 5): density = (1 / kM) sum_j
  #{real balls containing sample j} (1 on average for a perfect model; (k+1)/k when
  the samples are the very test points); coverage = share of real balls that contain
  at least one sample. Both are robust to outliers among the samples.
* `fid_digits`: Fréchet distance between Gaussians fitted to the penultimate-layer
  features (64-d) of a small digits classifier (`_digits_features`, trained once,
  deterministically, and cached as arrays).

The manifold metrics work on the same vectors as `mmd2` (raw y; the joint (x, y) on
conditional tasks): 8x8 digits are low-dimensional enough for pixel-space balls.
k-NN radii come from scipy's cKDTree; ball membership is a blocked distance
computation, so 10 000 x 10 000 comparisons never hold more than one block.
"""

from __future__ import annotations

import ebmbench
from ebmbench.lazy import lazy_import

from ebmbench_plugins.metrics.sample_quality import paired_samples

torch = lazy_import("torch")

__all__ = [
    "Precision",
    "Recall",
    "Density",
    "Coverage",
    "FIDDigits",
    "knn_radii",
    "ball_counts",
    "precision_recall",
    "density_coverage",
    "frechet_distance",
    "gaussian_stats",
]


# ------------------------------------------------------------------ k-NN manifolds
def knn_radii(points, k: int):
    """Distance of each row of `points` [n, d] to its k-th nearest other row (NumPy)."""
    import numpy as np
    from scipy.spatial import cKDTree

    pts = np.asarray(points, dtype=np.float64)
    k_eff = min(k, len(pts) - 1)
    if k_eff < 1:
        return np.full(len(pts), np.inf)
    dist, _ = cKDTree(pts).query(pts, k=k_eff + 1)  # the first neighbour is the point itself
    return dist[:, -1]


def _within(q, c, r_q, r_c, cells: int = 2**21):
    """Per query row: how many centre rows lie within radius (r_q of the query, or r_c of
    the centre; one of them is None). Closed balls, float64.

    Squared distances come from the matrix-product form |q|^2 + |c|^2 - 2 q.c, blocked
    to about `cells` entries (16 MB) at a time. Its round-off is of order
    eps * (|q|^2 + |c|^2), so the few pairs whose d^2 lies that close to r^2 are
    recomputed exactly from the differences: without it, a sample that coincides with
    a test point could fall off its own k-NN ball.
    """
    qn = q.pow(2).sum(1)
    cn = c.pow(2).sum(1)
    r2_c = None if r_c is None else r_c.pow(2)[None, :]
    tol = 1e-9 * (float(qn.max()) + float(cn.max()) + 1.0)  # a bound on the round-off
    block = max(1, cells // max(1, c.shape[0]))
    out = torch.empty(q.shape[0], dtype=torch.int64)
    for i in range(0, q.shape[0], block):
        qb = q[i : i + block]
        diff = qb @ c.T  # becomes d^2 - r^2, in place
        diff.mul_(-2).add_(qn[i : i + block, None]).add_(cn[None, :])
        diff.sub_(r2_c if r_q is None else r_q[i : i + block, None].pow(2))
        inside = diff <= 0
        near = (diff.abs_() <= tol).nonzero()
        if near.numel():
            a, b = near[:, 0], near[:, 1]
            exact = (qb[a] - c[b]).pow(2).sum(1).sqrt()
            r = r_c[b] if r_q is None else r_q[i + a]
            # 1e-12: the radius itself came from a differently ordered float64 sum
            inside[a, b] = exact <= r * (1 + 1e-12)
        out[i : i + block] = inside.sum(1)
    return out.numpy()


def _t(a):
    import numpy as np

    return torch.as_tensor(np.asarray(a, dtype=np.float64))


def ball_counts(queries, centers, radii):
    """For each query, how many balls B(center_i, radius_i) contain it (closed balls)."""
    return _within(_t(queries), _t(centers), None, _t(radii))


def precision_recall(real, fake, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019)."""
    precision = float((ball_counts(fake, real, knn_radii(real, k)) > 0).mean())
    recall = float((ball_counts(real, fake, knn_radii(fake, k)) > 0).mean())
    return precision, recall


def density_coverage(real, fake, k: int = 5) -> tuple[float, float]:
    """Density and coverage (Naeem et al. 2020)."""
    radii = _t(knn_radii(real, k))
    density = float(_within(_t(fake), _t(real), None, radii).sum() / (k * len(fake)))
    # coverage: does the ball of each real point hold at least one sample?
    covered = _within(_t(real), _t(fake), radii, None) > 0
    return density, float(covered.mean())


def _knn_metric(ctx, which: str, k: int) -> tuple[float, float]:
    """precision/recall or density/coverage, computed once per (kind, k) and cell."""
    key = f"knn:{which}:{k}"
    if key not in ctx.cache:
        fake, real = paired_samples(ctx)
        fn = precision_recall if which == "pr" else density_coverage
        ctx.cache[key] = fn(real.numpy(), fake.numpy(), k)
    return ctx.cache[key]


class _KNN(ebmbench.Metric):
    direction = "higher"
    which: str
    index: int

    def compute(self, ctx):
        return _knn_metric(ctx, self.which, self.p["k"])[self.index]


_KNN_REF = "Kynkäänniemi et al. 2019, Improved Precision and Recall Metric"
_DC_REF = "Naeem et al. 2020, Reliable Fidelity and Diversity Metrics for Generative Models"


class Precision(_KNN):
    name = "precision"
    summary = "share of model samples inside the k-NN manifold of test data (k = 3)"
    reference = _KNN_REF
    params = {"k": ebmbench.Param(3, "k of the k-NN radius", low=1)}
    which, index = "pr", 0


class Recall(_KNN):
    name = "recall"
    summary = "share of test points inside the k-NN manifold of model samples (k = 3)"
    reference = _KNN_REF
    params = {"k": ebmbench.Param(3, "k of the k-NN radius", low=1)}
    which, index = "pr", 1


class Density(_KNN):
    name = "density"
    summary = "mean number of test k-NN balls holding a model sample, / k (k = 5; 1 = ideal)"
    reference = _DC_REF
    params = {"k": ebmbench.Param(5, "k of the k-NN radius", low=1)}
    which, index = "dc", 0


class Coverage(_KNN):
    name = "coverage"
    summary = "share of test k-NN balls holding at least one model sample (k = 5)"
    reference = _DC_REF
    params = {"k": ebmbench.Param(5, "k of the k-NN radius", low=1)}
    which, index = "dc", 1


# ------------------------------------------------------------ Fréchet distance
def frechet_distance(mu1, cov1, mu2, cov2, eps: float = 1e-6) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) (Dowson & Landau 1982).

    As in Heusel et al.'s reference code: a tiny ridge is added when the product's
    square root is not finite (singular covariances), and the imaginary round-off
    scipy's sqrtm may return is dropped.
    """
    import warnings

    import numpy as np
    from scipy import linalg

    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    cov1, cov2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
    with warnings.catch_warnings():  # dead ReLU units make covariances singular; handled below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(cov1 @ cov2)
        if not np.isfinite(covmean).all():
            ridge = np.eye(cov1.shape[0]) * eps
            covmean = linalg.sqrtm((cov1 + ridge) @ (cov2 + ridge))
    covmean = np.real(covmean)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2 * np.trace(covmean))


def gaussian_stats(features):
    import numpy as np

    f = np.asarray(features, np.float64)
    return f.mean(0), np.cov(f, rowvar=False)


class FIDDigits(ebmbench.Metric):
    name = "fid_digits"
    direction = "lower"
    task_kinds = frozenset({"unconditional"})
    summary = "Fréchet distance of model samples to test digits in a small classifier's features"
    reference = "Heusel et al. 2017 (FID); features of a 64-128-64-10 MLP trained on digits"

    def applies_to(self, task):
        reason = super().applies_to(task)
        if reason is None and not ("digits" in task.tags and task.dim == 64):
            return "needs the 64-d digits images"
        return reason

    def compute(self, ctx):
        from ebmbench_plugins.metrics._digits_features import digits_features

        samples = ctx.samples().samples.detach().double().cpu()
        test = ctx.data.test.y.double().cpu()
        fs, ft = digits_features(samples), digits_features(test)
        return frechet_distance(*gaussian_stats(fs), *gaussian_stats(ft))


@ebmbench.hookimpl
def ebmbench_register_metrics(register):
    for cls in (Precision, Recall, Density, Coverage, FIDDigits):
        register(cls)
