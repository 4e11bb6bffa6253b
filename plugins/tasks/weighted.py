"""`8gaussians_weighted`: the 8gaussians mixture with unequal weights, where score matching is blind.

The law is sum_k w_k N(c_k, s^2 I) with the centres c_k and the std s = 0.5 / 1.414 of
`8gaussians` (toy2d.EightGaussians, whose constants this class inherits) and the weights

    WEIGHTS = (0.30, 0.20, 0.15, 0.10, 0.08, 0.07, 0.05, 0.05)

in the order of `EightGaussians.centers()`. Around the circle (angles 0, 45, ..., 315
degrees) that order lays them out as 0.30, 0.08, 0.15, 0.05, 0.20, 0.05, 0.10, 0.07:
heavy and light modes alternate, so every pair of neighbours differs (ratios 1.4 to 4.3,
largest over smallest 6).

Why this task (issue 11). Score matching fits grad log p, which inside the basin of a
well-separated mode does not depend on that mode's weight: the weights enter only
through the low-density valleys between modes, where the responsibilities change and
where there are almost no data. The Fisher divergence therefore barely sees a wrong
weight (Wenliang et al. 2019; Song & Ermon 2019, sec. 3.2). Measured on the evaluation
grid (midpoint rule, 288^2 cells), against this law p:

    model q                         KL(p||q)   Fisher divergence E_p|grad log p - grad log q|^2
    equal weights 1/8, same shapes   0.193      0.082
    true weights, std 5% too wide    0.0046     0.141

The equal-weight mixture is 40 times further from p than the too-wide one in KL, yet
closer in the Fisher divergence that DSM and SSM minimise: score matching pulls towards
the true weights far more weakly than towards the true shapes, and with finite data and
a finite budget the weights are what it leaves wrong.

Why these weights: the signal a weight-blind model leaves is the total variation between
its weights and the true ones, 0.275 for equal weights (0.274 over the modes' Voronoi
cells on the grid, as the metric sees it), while a likelihood fit on n draws misses them
by about 1/2 sum_k sqrt(2 w_k (1 - w_k) / (pi n)), the multinomial noise of the counts:
0.022 at n = 2 000 (smoke), 0.014 at 5 000 (quick). A ratio of 6 between the extreme
modes keeps the signal over 10 times above that noise, and the lightest mode (0.05)
still holds 100 training points at n = 2 000, so a method that misweighs it does so for
want of a signal, not of data. The `mode_weight_error` metric (plugins/metrics/modes.py)
measures it on the model's grid-normalised density.

Ground truth: the exact log-density (a weighted logsumexp), the grid reference (equal to
it), i.i.d. draws (component k ~ Categorical(w), then c_k + N(0, s^2 I), both from the
task's generator), and "mixture": `mixture_components()` gives the centres [K, 2] and
weights [K], from which the metric finds each mode's Voronoi cell.
"""

from __future__ import annotations

import math

from ebmbench.lazy import lazy_import

import ebmbench
from ebmbench_plugins.tasks.toy2d import EightGaussians

torch = lazy_import("torch")

__all__ = ["WeightedEightGaussians", "WEIGHTS", "weighted_mixture_log_density"]

EBMBENCH_PLUGIN_API = 1

WEIGHTS = (0.30, 0.20, 0.15, 0.10, 0.08, 0.07, 0.05, 0.05)  # sum 1; order of EightGaussians.centers()


def weighted_mixture_log_density(y, centres, weights, std: float):
    """log sum_k w_k N(y; c_k, std^2 I) at the rows of y (float64 inside, y's dtype out)."""
    s2 = std**2
    c = centres.to(y.device, torch.float64)
    log_w = torch.as_tensor(weights, dtype=torch.float64, device=y.device).log()
    d2 = ((y.double()[:, None, :] - c[None]) ** 2).sum(-1)
    out = torch.logsumexp(log_w[None] - d2 / (2 * s2), dim=1) - math.log(2 * math.pi * s2)
    return out.to(y.dtype)


class WeightedEightGaussians(EightGaussians):
    """8gaussians' centres and std (inherited), mixed with the unequal WEIGHTS."""

    name = "8gaussians_weighted"
    summary = "8gaussians with unequal weights 0.30 ... 0.05 (score matching is blind to them); exact log-density"
    reference = (
        "Grathwohl et al. 2019 (FFJORD 8gaussians), reweighted; weight blindness of score matching: "
        "Wenliang et al. 2019, Song & Ermon 2019 sec. 3.2"
    )
    # nll_grid ranks (a proper score, and its excess over the oracle bounds KL(w||w_hat) from
    # above by the chain rule); the weight error is the question this task asks
    headline_metrics = ("mode_weight_error", "mmd2", "coverage")
    ground_truth = EightGaussians.ground_truth | {"mixture"}

    @classmethod
    def weights(cls):
        """The mixture weights, float64 [8], in the order of `centers()`."""
        return torch.tensor(WEIGHTS, dtype=torch.float64)

    def mixture_components(self):
        """(centres [K, 2], weights [K]), float64 on the CPU: ground truth "mixture"."""
        return self.centers(), self.weights()

    def draw(self, n, generator):
        return self.draw_labelled(n, generator)[0]

    def draw_labelled(self, n, generator):
        """(n points float64 [n, 2], their components long [n]) on the generator's device."""
        kw = {"dtype": torch.float64, "device": generator.device}
        # component by inversion of the CDF, one uniform per point: k = #{j : F_j <= u}
        cdf = torch.cumsum(self.weights().to(generator.device), 0)
        u = torch.rand(n, generator=generator, **kw)
        k = torch.searchsorted(cdf, u, right=True).clamp_max(len(WEIGHTS) - 1)  # F_K = 1 up to rounding
        noise = torch.randn(n, 2, generator=generator, **kw) * (self.STD / self.DIV)
        return self.centers().to(generator.device)[k] + noise, k

    def log_density(self, y, x=None):
        """sum_k w_k N(c_k, (0.5/1.414)^2 I), exactly."""
        return weighted_mixture_log_density(y, self.centers(), self.weights(), self.STD / self.DIV)


@ebmbench.hookimpl
def ebmbench_register_tasks(register):
    register(WeightedEightGaussians)
