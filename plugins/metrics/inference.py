"""Inference accuracy: is argmin_y F(x, y) a right answer? (primer §4)

* `inference_error` (conditional tasks with a known support): for test conditions
  x, minimise F(x, .) from several uniform starts, keep the lowest-energy answer,
  and measure its distance to the true curve of y given x.
* `completion` (unconditional 2-D tasks): given y1 of a test point, minimise
  F(y1, .) over y2 from several starts; the fraction whose argmin lies inside the
  data's support. The support is read off a large fresh sample of the true law:
  a point is inside when its nearest reference point is no farther than the 99th
  percentile of nearest-neighbour distances of true points (self-calibrating).

Minimisation is Adam on y with a step proportional to the domain width, so it is
blind to the energy's scale (which differs by orders of magnitude across methods).
"""

from __future__ import annotations

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["InferenceError", "Completion", "descend"]


def descend(energy, init, steps, lr, lo=None, hi=None):
    """Adam descent on each row of `init`; returns (final points, final energies)."""
    y = init.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([y], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, steps))
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        energy(y).sum().backward()
        opt.step()
        sched.step()
        if lo is not None:
            with torch.no_grad():
                y.copy_(torch.max(torch.min(y, hi), lo))
    with torch.no_grad():
        return y.detach(), energy(y)


def _best_of_starts(ctx, energy_of, n, starts, dims, generator):
    """argmin over `starts` restarts of each of n problems; energy_of(y, rows) -> [B]."""
    dom = ctx.domain()[dims]
    lo, hi = dom[:, 0], dom[:, 1]
    init = lo + torch.rand(n * starts, len(dims), generator=generator, device=lo.device) * (hi - lo)
    rows = torch.arange(n, device=lo.device).repeat_interleave(starts)
    lr = 0.02 * float((hi - lo).mean())
    y, e = descend(lambda y: energy_of(y, rows), init, ctx.profile.inference_steps, lr, lo, hi)
    best = e.view(n, starts).argmin(1)
    return y.view(n, starts, -1)[torch.arange(n), best]


class InferenceError(ebmbench.Metric):
    name = "inference_error"
    direction = "lower"
    task_kinds = frozenset({"conditional"})
    requires = frozenset({"support_distance"})
    summary = "distance of argmin_y F(x, y) (best of several starts) to the true curve of y | x"
    reference = "primer §4, conditional inference"

    def compute(self, ctx):
        test = ctx.data.test
        n = min(ctx.profile.n_inference, len(test))
        x = test.x[:n]
        g = ctx.generator("inference")
        dims = list(range(ctx.task.dim))
        y = _best_of_starts(ctx, lambda y, rows: ctx.model(y, x[rows]), n, ctx.profile.inference_starts, dims, g)
        return float(ctx.task.support_distance(y, x).mean())


def in_support(task, points, generator, n_ref=20000):
    """Boolean mask: is each point within the true support (k-NN radius test)?"""
    from scipy.spatial import cKDTree

    ref = task.sample(n_ref, generator).y.cpu().numpy()
    probe = task.sample(2000, generator).y.cpu().numpy()
    tree = cKDTree(ref)
    radius = float(torch.quantile(torch.from_numpy(tree.query(probe)[0]), 0.99))
    dist = tree.query(points.detach().cpu().numpy())[0]
    return torch.from_numpy(dist <= radius)


class Completion(ebmbench.Metric):
    name = "completion"
    direction = "higher"
    task_kinds = frozenset({"unconditional"})
    requires = frozenset({"sampler"})
    max_dim = 2
    summary = "fraction of argmin_{y2} F(y1, y2) (given test y1) inside the data's support"
    reference = "primer §4, completion"

    def compute(self, ctx):
        test = ctx.data.test
        n = min(ctx.profile.n_inference, len(test))
        y1 = test.y[:n, :1]
        g = ctx.generator("completion")

        def energy_of(y2, rows):
            return ctx.model(torch.cat([y1[rows], y2], 1))

        y2 = _best_of_starts(ctx, energy_of, n, ctx.profile.inference_starts, [1], g)
        completed = torch.cat([y1, y2], 1)
        return float(in_support(ctx.task, completed, torch.Generator().manual_seed(ctx.seed)).float().mean())


@ebmbench.hookimpl
def ebmbench_register_metrics(register):
    register(InferenceError)
    register(Completion)
