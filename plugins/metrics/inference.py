"""Inference accuracy on continuous answers: is argmin_y F(x, y) right? (docs/science.md §1, §4)

* `inference_error` (conditional tasks with known modes or support): minimise F(x, .)
  from several uniform starts for test conditions x, keep the lowest-energy answer,
  and measure its distance to the nearest true mode of y | x (`branches`) or to the
  true curve of y | x (`horn`).
* `branch_coverage` (conditional tasks with known modes): the fraction of the true
  modes of y | x that some minimum, found from several starts, lies within `tol` of.
* `completion` (unconditional 2-D tasks): given y1 of a test point, minimise
  F(y1, .) over y2 from several starts; the fraction whose argmin lies inside the
  data's support. The support is read off a large fresh sample of the true law:
  a point is inside when its nearest reference point is no farther than the 99th
  percentile of nearest-neighbour distances of true points (self-calibrating).
* `mode_coverage` (unconditional 2-D tasks with a density): given y1 of a test
  point, the true modes of y2 | y1 are the peaks of the (exact or reference) density
  on a fine 1-D slice, each with its extent (the interval above half its
  prominence, which covers a whole plateau on `checkerboard`); a mode counts as found
  when some minimum of F(y1, .) lies within it, widened by `tol`.
* `projection_error` (unconditional tasks): corrupt test points with Gaussian noise,
  descend the energy from each corrupted point, and measure the distance to the
  nearest point of a large fresh sample of the true law — or, for a fixed dataset
  without a sampler (`digits`), of the whole dataset (train, val and test splits,
  so the clean test point itself is a target: the metric is a denoising error).

Minimisation is Adam on y with a step proportional to the domain width and a cosine
schedule, so it is blind to the energy's scale (which differs by orders of magnitude
across methods). The step is at least 3 widths / steps, so that even the smoke
budget can cross the domain (Adam moves each coordinate by about the step size,
and a cosine schedule travels half the sum of its steps); beta2 = 0.9 makes the
normaliser follow the current gradient rather than the large early ones, and
beta1 = 0.5 damps the overshoot, so descents end on the minimum (a 4-D quadratic
well, 60 steps: median error ~1e-6, against ~1e-1 with Adam's default betas and a
2 % step). Starts for the 1-D searches are stratified over the domain, so every
mode has a start in its basin once there are enough starts. Tolerances are
fractions of the mean domain width, so one default means the same on every task.
"""

from __future__ import annotations

import math

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = [
    "InferenceError",
    "BranchCoverage",
    "Completion",
    "ModeCoverage",
    "ProjectionError",
    "descend",
    "descent_lr",
    "multistart",
    "best_of_starts",
    "in_support",
    "slice_modes",
    "interval_coverage",
    "point_coverage",
]


DESCENT_BETAS = (0.5, 0.9)


def descent_lr(width: float, steps: int) -> float:
    """Adam step for a box of mean width `width`: 2 % of it, or enough to cross it in `steps`."""
    return max(0.02, 3.0 / max(1, steps)) * width


def descend(energy, init, steps, lr, lo=None, hi=None, betas=DESCENT_BETAS):
    """Adam descent on each row of `init` (clamped to [lo, hi]); returns (final points, final energies)."""
    y = init.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([y], lr=lr, betas=betas)
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


def multistart(ctx, energy_of, n, starts, dims, generator, stratified=False):
    """Minima of n problems from `starts` starts each: (y [n, starts, d], e [n, starts]).

    energy_of(y, rows) -> [B] scores candidate rows y for problems `rows`. Starts are
    uniform on the domain of coordinates `dims`, or stratified (one per equal slice
    of the interval) when `stratified` and there is one coordinate.
    """
    dom = ctx.domain()[dims]
    lo, hi = dom[:, 0], dom[:, 1]
    u = torch.rand(n * starts, len(dims), generator=generator, device=lo.device)
    if stratified and len(dims) == 1:
        k = torch.arange(starts, device=lo.device, dtype=u.dtype).repeat(n)[:, None]
        u = (k + u) / starts
    init = lo + u * (hi - lo)
    rows = torch.arange(n, device=lo.device).repeat_interleave(starts)
    steps = ctx.profile.inference_steps
    y, e = descend(lambda y: energy_of(y, rows), init, steps, descent_lr(float((hi - lo).mean()), steps), lo, hi)
    return y.view(n, starts, -1), e.view(n, starts)


def best_of_starts(ctx, energy_of, n, starts, dims, generator):
    """argmin over `starts` restarts of each of n problems; energy_of(y, rows) -> [B]."""
    y, e = multistart(ctx, energy_of, n, starts, dims, generator)
    return y[torch.arange(n), e.argmin(1)]


def _width(ctx):
    dom = ctx.domain()
    return float((dom[:, 1] - dom[:, 0]).mean())


def point_coverage(minima, modes, tol, valid=None) -> "torch.Tensor":
    """Per problem, the fraction of true modes [n, M, d] within `tol` of some minimum [n, S, d]."""
    d = torch.cdist(modes.double(), minima.double())  # [n, M, S]
    found = (d.min(dim=2).values <= tol).double()
    if valid is None:
        return found.mean(1)
    valid = valid.double()
    return (found * valid).sum(1) / valid.sum(1)


def interval_coverage(minima, intervals, tol) -> float:
    """Mean over problems of the fraction of intervals [(a, b), ...] holding a minimum (+- tol).

    `minima` is [n, S] (1-D), `intervals` a list of n lists of (a, b) pairs.
    """
    fractions = []
    for m, spans in zip(minima.tolist(), intervals):
        hit = [any(a - tol <= v <= b + tol for v in m) for a, b in spans]
        fractions.append(sum(hit) / len(hit))
    return float(sum(fractions) / len(fractions))


def slice_modes(log_p, grid, prominence=0.1, rel_height=0.5):
    """The modes of a 1-D (unnormalised) log-density on an evenly spaced `grid`.

    Peaks of p / max p with prominence >= `prominence` (drops ripples of a
    reference density and modes too faint to matter); each is returned as the
    interval where p stays above half the peak's prominence (scipy's peak widths),
    so a plateau yields its whole extent. The slice is padded with zeros, so a peak
    at the edge of the domain counts.
    """
    import numpy as np
    from scipy.signal import find_peaks, peak_widths

    lp = np.asarray(log_p, dtype=np.float64)
    if not np.isfinite(lp).any():
        return []
    p = np.exp(lp - lp[np.isfinite(lp)].max())
    p = np.nan_to_num(p, nan=0.0)
    padded = np.concatenate([[0.0], p, [0.0]])
    peaks, props = find_peaks(padded, prominence=prominence)
    if len(peaks) == 0:
        return []
    _, _, left, right = peak_widths(
        padded,
        peaks,
        rel_height=rel_height,
        prominence_data=(props["prominences"], props["left_bases"], props["right_bases"]),
    )
    grid = np.asarray(grid, dtype=np.float64)
    step = grid[1] - grid[0]
    last = len(grid) - 1
    a = grid[0] + step * np.clip(left - 1, 0, last)  # -1: undo the padding
    b = grid[0] + step * np.clip(right - 1, 0, last)
    return list(zip(a.tolist(), b.tolist()))


# ---------------------------------------------------------------- conditional tasks
def _has_modes(task) -> bool:
    return "modes" in task.ground_truth and hasattr(task, "conditional_modes")


class InferenceError(ebmbench.Metric):
    name = "inference_error"
    direction = "lower"
    task_kinds = frozenset({"conditional"})
    summary = "distance of argmin_y F(x, y) (best of several starts) to the nearest true mode / curve of y | x"
    reference = "docs/science.md §4, conditional inference"

    def applies_to(self, task):
        if task.kind != "conditional":
            return "needs a conditional task"
        if not (_has_modes(task) or "support_distance" in task.ground_truth):
            return "needs ground truth modes or support_distance"
        return None

    def compute(self, ctx):
        test = ctx.data.test
        n = min(ctx.profile.n_inference, len(test))
        x = test.x[:n]
        g = ctx.generator("inference")
        dims = list(range(ctx.task.dim))
        y = best_of_starts(ctx, lambda y, rows: ctx.model(y, x[rows]), n, ctx.profile.inference_starts, dims, g)
        if _has_modes(ctx.task):
            modes = ctx.task.conditional_modes(x).to(y.device)  # [n, M, d]
            return float((modes.double() - y.double()[:, None, :]).norm(dim=-1).min(dim=1).values.mean())
        return float(ctx.task.support_distance(y, x).mean())


class BranchCoverage(ebmbench.Metric):
    name = "branch_coverage"
    direction = "higher"
    task_kinds = frozenset({"conditional"})
    requires = frozenset({"modes"})
    summary = "fraction of the true modes of y | x within tol of a minimum of F(x, .) found from several starts"
    reference = "docs/science.md §4: 'the fraction of branches recovered'"
    params = {
        "starts": ebmbench.Param(16, "starts per condition (at least the profile's inference_starts)", low=1),
        "tol": ebmbench.Param(0.02, "tolerance as a fraction of the mean domain width", low=0),
    }

    def compute(self, ctx):
        test = ctx.data.test
        n = min(ctx.profile.n_inference, len(test))
        x = test.x[:n]
        starts = max(self.p["starts"], ctx.profile.inference_starts)
        dims = list(range(ctx.task.dim))
        minima, _ = multistart(
            ctx,
            lambda y, rows: ctx.model(y, x[rows]),
            n,
            starts,
            dims,
            ctx.generator("branch-coverage"),
            stratified=True,
        )
        modes = ctx.task.conditional_modes(x).to(minima.device)
        return float(point_coverage(minima, modes, self.p["tol"] * _width(ctx)).mean())


# -------------------------------------------------------------- unconditional tasks
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
    reference = "docs/science.md §4, completion"

    def compute(self, ctx):
        test = ctx.data.test
        n = min(ctx.profile.n_inference, len(test))
        y1 = test.y[:n, :1]
        g = ctx.generator("completion")

        def energy_of(y2, rows):
            return ctx.model(torch.cat([y1[rows], y2], 1))

        y2 = best_of_starts(ctx, energy_of, n, ctx.profile.inference_starts, [1], g)
        completed = torch.cat([y1, y2], 1)
        return float(in_support(ctx.task, completed, torch.Generator().manual_seed(ctx.seed)).float().mean())


class ModeCoverage(ebmbench.Metric):
    name = "mode_coverage"
    direction = "higher"
    task_kinds = frozenset({"unconditional"})
    max_dim = 2
    summary = "fraction of the true modes of y2 | y1 (density slice) holding a minimum of F(y1, .) from several starts"
    reference = "docs/science.md §4: 'are all modes found over restarts?'"
    params = {
        "starts": ebmbench.Param(32, "stratified starts per slice (at least the profile's inference_starts)", low=1),
        "tol": ebmbench.Param(0.02, "slack around each mode's extent, fraction of the domain width", low=0),
        "prominence": ebmbench.Param(0.1, "minimum peak prominence, relative to the slice's maximum", low=0, high=1),
        "resolution": ebmbench.Param(901, "points of the 1-D density slice", low=16),
    }

    def applies_to(self, task):
        if task.kind != "unconditional" or task.dim != 2:
            return "needs a 2-D unconditional task"
        if not ({"log_density", "reference_density"} & task.ground_truth):
            return "needs ground truth log_density or reference_density"
        return None

    def true_modes(self, task, y1, lo, hi):
        """For each y1, the list of (a, b) extents of the modes of y2 | y1."""
        grid = torch.linspace(lo, hi, self.p["resolution"], dtype=torch.float64)
        log_p_fn = task.log_density if "log_density" in task.ground_truth else task.reference_log_density
        out = []
        for i in range(0, y1.shape[0], 64):  # bounded memory: 64 slices at a time
            chunk = y1[i : i + 64].double().cpu()
            pts = torch.stack([chunk.repeat_interleave(len(grid)), grid.repeat(len(chunk))], 1)
            lp = log_p_fn(pts.float()).double().view(len(chunk), -1)
            out += [slice_modes(row.numpy(), grid.numpy(), self.p["prominence"]) for row in lp]
        return out

    def compute(self, ctx):
        test = ctx.data.test
        n = min(ctx.profile.n_inference, len(test))
        y1 = test.y[:n, :1]
        lo, hi = (float(v) for v in ctx.domain()[1])
        modes = self.true_modes(ctx.task, y1[:, 0], lo, hi)
        keep = [i for i, m in enumerate(modes) if m]  # slices through (numerically) zero density
        if not keep:
            return math.nan
        y1, modes = y1[keep], [modes[i] for i in keep]
        starts = max(self.p["starts"], ctx.profile.inference_starts)

        def energy_of(y2, rows):
            return ctx.model(torch.cat([y1[rows], y2], 1))

        minima, _ = multistart(ctx, energy_of, len(keep), starts, [1], ctx.generator("mode-coverage"), stratified=True)
        return interval_coverage(minima[:, :, 0].double().cpu(), modes, self.p["tol"] * _width(ctx))


class ProjectionError(ebmbench.Metric):
    name = "projection_error"
    direction = "lower"
    task_kinds = frozenset({"unconditional"})
    summary = "distance to the nearest true sample after descending F from a noise-corrupted test point"
    reference = "docs/science.md §4: 'given a corrupted y, find the nearest point of the data manifold'"
    params = {
        "sigma": ebmbench.Param(0.05, "corruption noise std, fraction of the mean domain width", low=0),
        "n_ref": ebmbench.Param(20000, "size of the fresh true sample that stands for the manifold", low=1),
    }

    def compute(self, ctx):
        from scipy.spatial import cKDTree

        test = ctx.data.test
        n = min(ctx.profile.n_inference, len(test))
        g = ctx.generator("projection")
        width = _width(ctx)
        noisy = test.y[:n] + self.p["sigma"] * width * torch.randn(test.y[:n].shape, generator=g, device=test.y.device)
        dom = ctx.domain()
        lo, hi = dom[:, 0], dom[:, 1]
        noisy = torch.max(torch.min(noisy, hi), lo)
        steps = ctx.profile.inference_steps
        projected, _ = descend(lambda y: ctx.model(y), noisy, steps, descent_lr(width, steps), lo, hi)
        if "sampler" in ctx.task.ground_truth:
            ref = ctx.task.sample(self.p["n_ref"], ctx.generator("projection-reference")).y
        else:  # a fixed dataset: all of it stands for the manifold
            ref = torch.cat([ctx.data.train.y, ctx.data.val.y, test.y])
        dist, _ = cKDTree(ref.double().cpu().numpy()).query(projected.double().cpu().numpy())
        return float(dist.mean())


@ebmbench.hookimpl
def ebmbench_register_metrics(register):
    register(InferenceError)
    register(BranchCoverage)
    register(Completion)
    register(ModeCoverage)
    register(ProjectionError)
