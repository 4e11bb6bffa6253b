"""Baseline rows (issue 11): the oracle's `given`, and the density estimators `kde` and `gaussian`.

Family "baseline": reference estimators, not EBM training methods. They run through the
same cells as every method (same split, seeds, evaluation sampler and metrics), so a
leaderboard answers "does this EBM beat the truth / a tuned KDE / one Gaussian?" in one
table (docs/science.md §5, reference figures).

* `given` trains nothing: it evaluates the `oracle` model (the task's own -log p) as built.
  Its `sampler` parameter chooses the evaluation sampler, so the oracle's sample metrics
  are the sampler-bias table: `-m oracle -M "given[sampler=langevin|mala|hmc|sir_mala]"`
  gives each sampler's stationary error (MMD², coverage, `logp_shift`, ... against true
  samples) on every task with an exact or reference density.
* `kde` fits a Gaussian KDE to the training split, E = -log (1/n) sum_i N(y; y_i, h^2 I).
  The bandwidth h (data units, scikit-learn's KernelDensity convention) maximises the
  mean log-likelihood of the *validation* split: a coarse log-spaced grid over
  [1e-3, 2] x the data's mean per-coordinate std, then a bounded Brent search between the
  grid neighbours of the best point. The test split is never seen.
* `gaussian` fits one full-covariance Gaussian: the training mean and the maximum-
  likelihood covariance, exactly, whenever that is well conditioned (all 2-D tasks).
  Where it is singular or nearly so (digits' constant border pixels), a ridge
  r * mean variance * I is added, r in {1e-8, ..., 1e-1} chosen on the validation split:
  the smallest ridge that merely makes it invertible would give a pixel that is never
  lit in training a variance of ~1e-8, and a validation image that lights it an absurd
  NLL. The single Gaussian is the failure level.

Both fit into the `density` model (plugins/models/density.py says why one model serves
both). Both have a generative story (a uniformly chosen centre plus N(0, h^2 I); mean plus
L eps), so their sample metrics use the `decode` sampler: exact i.i.d. draws of the fitted
law, the way the architectural models are sampled. A chain would add its own stationary
error (the oracle's row shows how much that is for sir_mala) and, on a 50 000-centre
KDE, cost most of a full-profile cell.

The training log has one point, at step 0: `loss` is the validation NLL of the fitted law
(it is normalised), `energy_gap` the noise gap, plus the chosen bandwidth/ridge.
"""

from __future__ import annotations

import math

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["NoTraining", "KDE", "Gaussian", "tune_bandwidth", "fit_gaussian", "RIDGES"]

EBMBENCH_PLUGIN_API = 1

RIDGES = (1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)  # x the mean variance, when one is needed
MAX_CONDITION = 1e10  # eigenvalue ratio above which the ML covariance counts as singular
_REF = "docs/science.md §5 (reference figures); issue 11"


def _log_fit(ctx, model, data, **extra):
    val = data.val
    with torch.no_grad():
        val_nll = float(model(val.y, val.x).double().mean())
    ctx.log(0, loss=val_nll, energy_gap=ctx.noise_gap(model, val.y, val.x), **extra)


class NoTraining(ebmbench.Method):
    name = "given"
    family = "baseline"
    model_families = frozenset({"oracle"})  # the oracle's energy is fixed at build: nothing to train
    summary = "trains nothing: evaluates the model as built (the oracle's row)"
    reference = _REF
    params = {
        "sampler": ebmbench.Param(
            "",
            "evaluation sampler of the sample metrics ('' = the suite's default): on the oracle's "
            "exact energy, its sample metrics are that sampler's stationary error",
            names="samplers",
        ),
    }

    def train(self, model, data, ctx):
        _log_fit(ctx, model, data)

    def sampler(self):
        return (self.p["sampler"] or None), {}


def tune_bandwidth(train_y, val_y, n_grid: int = 15, lo: float = 1e-3, hi: float = 2.0):
    """(h, validation NLL): the KDE bandwidth maximising the validation log-likelihood."""
    from scipy.optimize import minimize_scalar

    from ebmbench_plugins.models._density_nets import KDEEnergy

    kde = KDEEnergy(train_y, 1.0)
    scale = float(train_y.double().std(0).mean())
    with torch.no_grad():

        def nll(log_h: float) -> float:
            return float(-kde.log_density(val_y, math.exp(log_h)).mean())

        grid = torch.linspace(math.log(lo * scale), math.log(hi * scale), n_grid, dtype=torch.float64).tolist()
        values = [nll(g) for g in grid]
        i = min(range(n_grid), key=values.__getitem__)
        # NLL(log h) is smooth and, on these data, unimodal near its minimum: refine between
        # the best grid point's neighbours (a grid edge stays an edge)
        left, right = grid[max(i - 1, 0)], grid[min(i + 1, n_grid - 1)]
        res = minimize_scalar(nll, bounds=(left, right), method="bounded", options={"xatol": 1e-4})
    best = min((float(res.fun), float(res.x)), (values[i], grid[i]))
    return math.exp(best[1]), best[0]


def fit_gaussian(train_y, val_y, ridges=RIDGES):
    """(mean, covariance, ridge, validation NLL): the ML Gaussian, ridged only if singular."""
    from ebmbench_plugins.models._density_nets import GaussianEnergy

    y = train_y.double()
    mean = y.mean(0)
    r = y - mean
    cov = r.T @ r / y.shape[0]  # maximum likelihood (divide by n)

    def val_nll(c) -> float:
        with torch.no_grad():
            return float(-GaussianEnergy(mean, c).log_density(val_y).mean())

    eig = torch.linalg.eigvalsh(cov)
    if float(eig[0]) > 0 and float(eig[-1] / eig[0]) < MAX_CONDITION:
        return mean, cov, 0.0, val_nll(cov)
    var = float(torch.diagonal(cov).mean())
    eye = torch.eye(cov.shape[0], dtype=cov.dtype, device=cov.device)
    best = None
    for ridge in ridges:
        c = cov + ridge * var * eye
        if torch.linalg.cholesky_ex(c).info.item() != 0:
            continue  # still not positive definite in floating point
        nll = val_nll(c)
        if math.isfinite(nll) and (best is None or nll < best[3]):
            best = (mean, c, ridge, nll)
    if best is None:
        raise ebmbench.Diverged("no ridge makes the training covariance positive definite")
    return best


class _DensityBaseline(ebmbench.Method):
    """What the density estimators share: they fill the `density` model of an unconditional task."""

    family = "baseline"
    model_families = frozenset({"density"})
    task_kinds = frozenset({"unconditional"})

    def sampler(self):
        # exact draws of the fitted law (plugins/samplers/decode.py): a KDE or a Gaussian
        # has a generative story, so its sample metrics measure the law, not a chain on it
        return "decode", {}


class KDE(_DensityBaseline):
    name = "kde"
    summary = "Gaussian KDE on the training split, bandwidth tuned on validation; E = -log p"
    reference = "Parzen 1962; Rosenblatt 1956; scikit-learn KernelDensity (isotropic kernel); " + _REF
    params = {
        "bandwidth": ebmbench.Param(
            0.0, "kernel std in data units; 0: maximise the validation log-likelihood", low=0, finite=True
        ),
    }

    def train(self, model, data, ctx):
        from ebmbench_plugins.models._density_nets import KDEEnergy

        y = data.train.y
        h = self.p["bandwidth"] or tune_bandwidth(y, data.val.y)[0]
        model.fit(KDEEnergy(y, h))
        _log_fit(ctx, model, data, bandwidth=h)


class Gaussian(_DensityBaseline):
    name = "gaussian"
    summary = "one full-covariance Gaussian (ML fit, ridge chosen on validation); the failure level"
    reference = "maximum-likelihood Gaussian; " + _REF

    def train(self, model, data, ctx):
        from ebmbench_plugins.models._density_nets import GaussianEnergy

        mean, cov, ridge, _ = fit_gaussian(data.train.y, data.val.y)
        model.fit(GaussianEnergy(mean, cov))
        _log_fit(ctx, model, data, ridge=ridge)


@ebmbench.hookimpl
def ebmbench_register_methods(register):
    register(NoTraining)
    register(KDE)
    register(Gaussian)
