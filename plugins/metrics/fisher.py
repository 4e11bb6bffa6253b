"""Fisher divergence between the data law and the model, where the true score is known.

    D_F(p || q) = E_{y ~ p} || grad_y log p(y) - grad_y log q(y) ||^2
                = E_{y ~ p} || grad_y log p(y) + grad_y E(y) ||^2,

since grad_y log q = -grad_y E for q ∝ exp(-E): the partition function drops out,
which is why score matching optimises exactly this quantity (Hyvärinen 2005).
The expectation runs over the test split; grad log p comes from autograd through
the task's exact `log_density` (ground truth "log_density"), grad E from autograd
through the model. Both are taken chunk by chunk, so memory stays bounded.

The value is at the model's own temperature (beta = 1): score-based methods learn
that scale; methods that fix no temperature are compared on shape by the
calibrated grid metrics of `density`.
"""

from __future__ import annotations

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["FisherDivergence", "score", "fisher_divergence"]


def score(fn, y, x=None):
    """grad_y of sum(fn(y[, x])) for each row, without touching parameter gradients."""
    with torch.enable_grad():
        yy = y.detach().clone().requires_grad_(True)
        out = fn(yy) if x is None else fn(yy, x)
        (g,) = torch.autograd.grad(out.sum(), yy)
    return g.detach()


def fisher_divergence(log_density, energy, y, x=None, chunk: int = 2048) -> float:
    """Mean over rows of y of ||grad log p(y) + grad E(y)||^2 (float64 accumulation)."""
    total, n = 0.0, y.shape[0]
    for i in range(0, n, chunk):
        yc = y[i : i + chunk]
        xc = None if x is None else x[i : i + chunk]
        diff = score(log_density, yc, xc).double() + score(energy, yc, xc).double()
        total += float(diff.pow(2).sum())
    return total / n


_SMOOTH: dict[str, bool] = {}


def _has_informative_score(task) -> bool:
    """Does grad log p vary on the task's own samples? False for piecewise-constant
    densities (checkerboard: uniform cells), where grad log p = 0 almost everywhere
    and p jumps at cell edges: the Fisher divergence is undefined there, and the
    formula would reward a flat energy. Probed once per task on 256 fixed draws."""
    if task.name not in _SMOOTH:
        split = task.sample(256, torch.Generator().manual_seed(0))
        g = score(task.log_density, split.y, split.x)
        _SMOOTH[task.name] = bool(torch.isfinite(g).all() and g.abs().max() > 0)
    return _SMOOTH[task.name]


class FisherDivergence(ebmbench.Metric):
    name = "fisher_div"
    direction = "lower"
    requires = frozenset({"log_density"})
    summary = "E_test ||grad log p(y) + grad E(y)||^2: Fisher divergence to the true score"
    reference = "Hyvärinen 2005 (score matching); Lyu 2009 (Fisher divergence)"

    def applies_to(self, task):
        reason = super().applies_to(task)
        if reason is None and not _has_informative_score(task):
            return "the task's log-density is piecewise constant (zero score almost everywhere)"
        return reason

    def compute(self, ctx):
        test = ctx.data.test
        task = ctx.task

        def log_p(y, x=None):
            return task.log_density(y, x)

        return fisher_divergence(log_p, ctx.model, test.y, test.x)


@ebmbench.hookimpl
def ebmbench_register_metrics(register):
    register(FisherDivergence)
