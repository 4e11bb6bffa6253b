"""Energy-gap metrics: raw, in units of the data-energy spread, and AUROC (docs/science.md §4).

Two kinds of negatives:

* uniform noise on the task domain (for conditional tasks: noise y at the test x).
  A good energy puts held-out data far below noise, so these gaps are ranked
  (higher is better);
* the model's own samples (`ctx.samples()`, the method's sampler from noise; for
  conditional tasks one sample per test x, compared with the test y at the same x).
  At the maximum-likelihood equilibrium samples and data follow the same law, so
  the gap tends to 0 and the AUROC to 0.5: these are diagnostics of where the
  sampler and the energy disagree, reported but not ranked (direction "none").

Raw energies have no common scale across methods (a DSM energy and a K-means energy
differ by orders of magnitude); `energy_gap_std` and the AUROCs are scale-free.
"""

from __future__ import annotations

import math

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = [
    "EnergyGap",
    "EnergyGapModel",
    "EnergyGapStd",
    "AUROC",
    "AUROCModel",
    "auroc_lower_is_positive",
    "noise_energies",
    "model_energies",
]


def noise_energies(ctx):
    """(E(test data), E(uniform noise at the test x)), cached for the cell."""
    if "noise_energies" not in ctx.cache:
        test = ctx.data.test
        noise = ctx.uniform(len(test), ctx.generator("noise-negatives"))
        ctx.cache["noise_energies"] = (ctx.energy(test.y, test.x), ctx.energy(noise, test.x))
    return ctx.cache["noise_energies"]


def model_energies(ctx):
    """(E(test data), E(model samples)) at matching conditions, cached for the cell."""
    if "model_energies" not in ctx.cache:
        samples = ctx.samples().samples
        test = ctx.data.test
        if ctx.task.kind == "conditional":
            x = ctx.cache["samples_x"]  # samples were drawn at the first n test x
            e_data = ctx.energy(test.y[: x.shape[0]], x)
            e_model = ctx.energy(samples, x)
        else:
            e_data = ctx.energy(test.y)
            e_model = ctx.energy(samples)
        ctx.cache["model_energies"] = (e_data, e_model)
    return ctx.cache["model_energies"]


def auroc_lower_is_positive(e_data, e_neg) -> float:
    """P(E(data) < E(negative)) + 0.5 P(tie), by the Mann-Whitney rank-sum identity.

    Equal to scikit-learn's `roc_auc_score` with data labelled 1 and score -E
    (ties between a data point and a negative count one half).
    """
    import numpy as np
    from scipy.stats import rankdata

    a = np.asarray(e_data, dtype=np.float64).ravel()
    b = np.asarray(e_neg, dtype=np.float64).ravel()
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("non-finite energies")
    ranks = rankdata(np.concatenate([-a, -b]))  # data should rank high on -E; ties get mean ranks
    u = ranks[: len(a)].sum() - len(a) * (len(a) + 1) / 2
    return float(u / (len(a) * len(b)))


def _np(t):
    return t.detach().double().cpu().numpy()


class EnergyGap(ebmbench.Metric):
    name = "energy_gap"
    direction = "higher"
    summary = "mean E(uniform noise on the domain) - mean E(test data); raw units"
    reference = "ebm-anatomy (Nijkamp et al. 2020) training diagnostic"

    def compute(self, ctx):
        e_data, e_noise = noise_energies(ctx)
        return float(e_noise.double().mean() - e_data.double().mean())


class EnergyGapModel(ebmbench.Metric):
    name = "energy_gap_model"
    # -> 0 at the ML equilibrium; > 0: samples sit above the data (chains not yet in
    # the low-energy regions, or spurious high-energy modes); < 0: samples are
    # sharper than the data (T < 1, mode collapse). Neither sign is "better".
    direction = "none"
    summary = "mean E(model samples) - mean E(test data); -> 0 at the ML equilibrium"
    reference = "Nijkamp et al. 2020 (ebm-anatomy), the contrastive-divergence gap"

    def compute(self, ctx):
        e_data, e_model = model_energies(ctx)
        return float(e_model.double().mean() - e_data.double().mean())


class EnergyGapStd(ebmbench.Metric):
    name = "energy_gap_std"
    direction = "higher"
    summary = "(mean E(uniform noise) - mean E(test data)) / std E(test data): scale-free gap"
    reference = "docs/science.md §4, scale-free energy gap"

    def compute(self, ctx):
        e_data, e_noise = noise_energies(ctx)
        gap = float(e_noise.double().mean() - e_data.double().mean())
        std = float(e_data.double().std())
        if std == 0.0:  # a constant energy on the data: the ratio is undefined or infinite
            return math.nan if gap == 0.0 else math.copysign(math.inf, gap)
        return gap / std


class AUROC(ebmbench.Metric):
    name = "auroc_noise"
    direction = "higher"
    summary = "P(test point has lower energy than uniform noise): scale-free energy gap"
    reference = "docs/science.md §4; Mann-Whitney U / AUROC"

    def compute(self, ctx):
        e_data, e_noise = noise_energies(ctx)
        return auroc_lower_is_positive(_np(e_data), _np(e_noise))


class AUROCModel(ebmbench.Metric):
    name = "auroc_model"
    # 0.5 = samples indistinguishable from data by their energy (the ML fixed point);
    # > 0.5: samples have higher energy than data; < 0.5: lower (over-sharp samples).
    direction = "none"
    summary = "P(test point has lower energy than a model sample); 0.5 at the ML equilibrium"
    reference = "docs/science.md §4; Mann-Whitney U / AUROC"

    def compute(self, ctx):
        e_data, e_model = model_energies(ctx)
        return auroc_lower_is_positive(_np(e_data), _np(e_model))


@ebmbench.hookimpl
def ebmbench_register_metrics(register):
    register(EnergyGap)
    register(EnergyGapModel)
    register(EnergyGapStd)
    register(AUROC)
    register(AUROCModel)
