"""2-D density metrics on the evaluation grid: test NLL and both KLs, raw and calibrated.

An EBM defines the Gibbs density q_beta(y) = exp(-beta E(y)) / Z(beta). On 2-D tasks
Z is a sum over the fine cell-centred grid of `ebmbench_plugins.tasks.grid` (GRID_RES^2
cells over [-4.5, 4.5]^2, cell area A; the same grid as the tasks' reference densities):

    log Z(beta) = logsumexp_i(-beta E(g_i)) + log A,
    NLL(beta)   = beta * mean_test E(y) + log Z(beta).

The cell masses q_i = softmax(-beta E(g))_i and p_i = softmax(log p(g))_i (p the
task's exact log-density, or its reference density on the same grid) give
KL(p||q) = sum_i p_i (log p_i - log q_i) and KL(q||p) likewise.

Each metric is reported twice (docs/science.md §1, issue 3):
* at beta = 1, the model's own temperature: did the method learn a normalisable
  density at the scale it trained?
* at beta_cal, the inverse temperature that minimises the grid-normalised NLL of the
  *validation* split. Many methods fix no temperature (K-means, DAE, margin losses,
  Langevin with decoupled step and noise); the calibrated form compares their shapes
  fairly. NLL(beta) is convex in beta (a log-partition function plus a linear term),
  hence unimodal in log beta, so a bounded scalar search over log beta in
  [-LOG_BETA_BOUND, LOG_BETA_BOUND] finds the optimum. beta_cal is reported itself.

The reference p is floored: p <- (1 - EPS) p + EPS / n_cells, EPS = 1e-10. Tasks with
empty regions (checkerboard: exactly zero density on half the cells) would otherwise
give KL(q||p) = inf for every model with full support; with the floor, model mass
spread evenly over empty cells costs about log(1 / EPS) ~ 23 nats per unit mass.
The floor's bias elsewhere is small: on the tests' Gaussians it moves KL(q||p) by
< 1e-4 nats (EPS = 1e-6 would move it by 5e-3, through the Gaussian tails), and
KL(p||p) is ~ 1e-11 instead of 0.

The grid energies (GRID_RES^2 evaluations) and the grid-normalised reference are computed
once per cell and shared through `ctx.cache`.
"""

from __future__ import annotations

import math

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = [
    "NLLGrid",
    "KLpqGrid",
    "KLqpGrid",
    "NLLGridCal",
    "KLpqGridCal",
    "KLqpGridCal",
    "BetaCal",
    "grid_nll",
    "fit_beta",
    "grid_log_probs",
    "grid_kl",
    "reference_log_probs",
    "EPS",
    "LOG_BETA_BOUND",
]

EPS = 1e-10  # share of the reference mass spread uniformly over the grid (see docstring)
LOG_BETA_BOUND = math.log(1e6)  # beta_cal is searched in [1e-6, 1e6]


# ---------------------------------------------------------------- pure functions
def grid_nll(e_grid, e_mean: float, beta: float, area: float) -> float:
    """beta * mean E(data) + logsumexp(-beta E(grid)) + log(cell area)."""
    e = torch.as_tensor(e_grid, dtype=torch.float64)
    return float(beta * e_mean + torch.logsumexp(-beta * e, 0) + math.log(area))


def fit_beta(e_grid, e_mean: float, area: float, bound: float = LOG_BETA_BOUND) -> float:
    """argmin_beta grid_nll(beta), by bounded Brent search over log beta."""
    from scipy.optimize import minimize_scalar

    e = torch.as_tensor(e_grid, dtype=torch.float64)
    res = minimize_scalar(
        lambda lb: grid_nll(e, e_mean, math.exp(lb), area),
        bounds=(-bound, bound),
        method="bounded",
        options={"xatol": 1e-6},
    )
    return math.exp(float(res.x))


def grid_log_probs(log_values):
    """Cell log-masses: log_softmax over the grid (float64); -inf stays -inf."""
    v = torch.as_tensor(log_values, dtype=torch.float64).reshape(-1)
    return v - torch.logsumexp(v, 0)


def floored(log_p, eps: float = EPS):
    """log((1 - eps) p + eps / n) for cell log-masses log_p."""
    n = log_p.numel()
    return torch.logaddexp(log_p + math.log1p(-eps), torch.full_like(log_p, math.log(eps / n)))


def grid_kl(log_p, log_q) -> float:
    """KL(P||Q) = sum P (log P - log Q) of two normalised cell log-mass vectors."""
    p = log_p.exp()
    terms = torch.where(p > 0, p * (log_p - log_q), torch.zeros_like(p))  # 0 log 0 = 0
    return float(terms.sum())


def reference_log_probs(task, points):
    """Floored cell log-masses of the task's target density on the grid points."""
    chunks = []
    for i in range(0, points.shape[0], 16384):
        y = points[i : i + 16384]
        with torch.no_grad():
            if "log_density" in task.ground_truth:
                chunks.append(task.log_density(y).double().cpu())
            else:
                chunks.append(task.reference_log_density(y).double().cpu())
    return floored(grid_log_probs(torch.cat(chunks)))


# ------------------------------------------------------------ the shared state
class _GridState:
    """Per-cell lazily computed quantities shared by all density metrics."""

    def __init__(self, ctx):
        from ebmbench_plugins.tasks.grid import cell_area, grid_points

        self.ctx = ctx
        self.points = grid_points(device=ctx.device)
        self.area = cell_area()
        e = ctx.energy(self.points).double().cpu()
        if torch.isnan(e).any():  # the cell checks test energies only; the grid is wider
            raise ebmbench.Diverged("model energy is NaN on part of the evaluation grid")
        self.e_grid = e
        self._cache = {}

    def _get(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def mean_energy(self, split: str) -> float:
        return self._get(f"e_{split}", lambda: float(self.ctx.energy(getattr(self.ctx.data, split).y).double().mean()))

    def beta(self, calibrated: bool) -> float:
        if not calibrated:
            return 1.0
        return self._get("beta_cal", lambda: fit_beta(self.e_grid, self.mean_energy("val"), self.area))

    def nll(self, calibrated: bool) -> float:
        return grid_nll(self.e_grid, self.mean_energy("test"), self.beta(calibrated), self.area)

    def log_q(self, calibrated: bool):
        b = self.beta(calibrated)
        return self._get(f"log_q_{b!r}", lambda: grid_log_probs(-b * self.e_grid))

    def log_p(self):
        return self._get("log_p", lambda: reference_log_probs(self.ctx.task, self.points))


def grid_state(ctx) -> _GridState:
    if "density_grid" not in ctx.cache:
        ctx.cache["density_grid"] = _GridState(ctx)
    return ctx.cache["density_grid"]


# ------------------------------------------------------------------- metrics
def _grid_reason(task) -> str | None:
    if task.kind != "unconditional" or task.dim != 2:
        return "needs an unconditional 2-D task"
    from ebmbench_plugins.tasks.grid import GRID_DOMAIN

    lo, hi = GRID_DOMAIN
    if any(a < lo or b > hi for a, b in task.domain):
        return f"task domain lies outside the evaluation grid [{lo}, {hi}]^2"
    return None


class _GridMetric(ebmbench.Metric):
    task_kinds = frozenset({"unconditional"})
    max_dim = 2
    reference = "grid-normalised density as in ebm-anatomy (Nijkamp et al. 2020); docs/science.md §1, §4"
    calibrated = False

    def applies_to(self, task):
        return super().applies_to(task) or _grid_reason(task)


class _KLMetric(_GridMetric):
    def applies_to(self, task):
        reason = super().applies_to(task)
        if reason is None and not ({"log_density", "reference_density"} & task.ground_truth):
            return "needs ground truth log_density or reference_density"
        return reason


class NLLGrid(_GridMetric):
    name = "nll_grid"
    direction = "lower"
    summary = "test NLL (nats) of exp(-E) normalised on the fine grid over [-4.5, 4.5]^2"
    curve_probe = True  # the held-out curve of every 2-D density run

    def compute(self, ctx):
        return grid_state(ctx).nll(self.calibrated)


class KLpqGrid(_KLMetric):
    name = "kl_pq_grid"
    direction = "lower"
    summary = "KL(p||q) on the grid, p the true/reference density, q = exp(-E) normalised"

    def compute(self, ctx):
        s = grid_state(ctx)
        return grid_kl(s.log_p(), s.log_q(self.calibrated))


class KLqpGrid(_KLMetric):
    name = "kl_qp_grid"
    direction = "lower"
    summary = "KL(q||p) on the grid, q = exp(-E) normalised, p the true/reference density"

    def compute(self, ctx):
        s = grid_state(ctx)
        return grid_kl(s.log_q(self.calibrated), s.log_p())


_CAL = " at beta_cal (val-NLL-optimal inverse temperature)"


class NLLGridCal(NLLGrid):
    name = "nll_grid_cal"
    curve_probe = False  # needs a beta fit per probe; nll_grid's curve says as much
    summary = "grid-normalised test NLL of exp(-beta E)" + _CAL
    calibrated = True


class KLpqGridCal(KLpqGrid):
    name = "kl_pq_grid_cal"
    summary = "KL(p||q_beta) on the grid" + _CAL
    calibrated = True


class KLqpGridCal(KLqpGrid):
    name = "kl_qp_grid_cal"
    summary = "KL(q_beta||p) on the grid" + _CAL
    calibrated = True


class BetaCal(_GridMetric):
    name = "beta_cal"
    direction = "none"
    summary = "inverse temperature beta minimising the grid-normalised val NLL of exp(-beta E)"

    def compute(self, ctx):
        return grid_state(ctx).beta(True)


@ebmbench.hookimpl
def ebmbench_register_metrics(register):
    for cls in (NLLGrid, KLpqGrid, KLqpGrid, NLLGridCal, KLpqGridCal, KLqpGridCal, BetaCal):
        register(cls)
