"""Energy-gap metrics: raw, and the scale-free AUROC form (primer §4).

Negatives are uniform noise on the task domain (for conditional tasks: noise y at
the test x). Raw gaps have no common scale across methods; the AUROC — the
probability that a held-out point has lower energy than a noise point — does.
"""

from __future__ import annotations

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["EnergyGap", "AUROC", "auroc_lower_is_positive"]


def _energies(ctx):
    if "noise_energies" not in ctx.cache:
        test = ctx.data.test
        noise = ctx.uniform(len(test), ctx.generator("noise-negatives"))
        ctx.cache["noise_energies"] = (ctx.energy(test.y, test.x), ctx.energy(noise, test.x))
    return ctx.cache["noise_energies"]


def auroc_lower_is_positive(e_data, e_noise) -> float:
    """P(E(data) < E(noise)) + 0.5 P(tie), by the Mann-Whitney rank-sum identity."""
    import numpy as np
    from scipy.stats import rankdata

    a = np.asarray(e_data, dtype=np.float64)
    b = np.asarray(e_noise, dtype=np.float64)
    ranks = rankdata(np.concatenate([-a, -b]))  # data should rank high on -E
    u = ranks[: len(a)].sum() - len(a) * (len(a) + 1) / 2
    return float(u / (len(a) * len(b)))


class EnergyGap(ebmbench.Metric):
    name = "energy_gap"
    direction = "higher"
    summary = "mean E(uniform noise on the domain) - mean E(test data); raw units"
    reference = "ebm-anatomy (Nijkamp et al. 2020) training diagnostic"

    def compute(self, ctx):
        e_data, e_noise = _energies(ctx)
        return float(e_noise.mean() - e_data.mean())


class AUROC(ebmbench.Metric):
    name = "auroc_noise"
    direction = "higher"
    summary = "P(test point has lower energy than uniform noise): scale-free energy gap"
    reference = "primer §4; Mann-Whitney U / AUROC"

    def compute(self, ctx):
        e_data, e_noise = _energies(ctx)
        return auroc_lower_is_positive(e_data.cpu().numpy(), e_noise.cpu().numpy())


@ebmbench.hookimpl
def ebmbench_register_metrics(register):
    register(EnergyGap)
    register(AUROC)
