"""Conditional tasks scored as densities: the exact conditional NLL and arc coverage (issue 11).

A conditional EBM defines, for each x, the Gibbs density of the answers

    p_model(y | x) = exp(-F(x, y)) / Z(x),   Z(x) = integral over the domain of exp(-F(x, y)) dy.

* `conditional_nll` (lower is better): -log p_model(y | x) averaged over test pairs
  (x, y), with log Z(x) = logsumexp_i(-F(x, y_i) + log w_i) on the task's own
  quadrature rule for that x (ground truth "conditional_quadrature": nodes y_i and
  weights w_i that resolve the true y | x: an elliptic polar grid around horn's
  ellipse, a fine 1-D grid on branches). It is a proper scoring rule: its expectation
  is the true conditional entropy plus E_x KL(p(. | x) || p_model(. | x)), so the
  oracle, E = -log p(y | x), is its floor, and an energy with one answer per x pays
  for every true answer it leaves out. `inference_error` (the distance of argmin_y F
  to the nearest true answer) cannot see that: a collapsed energy scores 0 on it.
* `arc_coverage` (higher is better; tasks with a curve of answers, "mode_curve"): does
  the model's y | x spread over the whole curve, or sit on part of it? The curve of x
  (`conditional_curve`, evenly spaced in its parameter) is cut into K = 8 equal arcs;
  each quadrature node within `tol` of the curve belongs to the arc of its nearest
  curve point. The model's mass in each arc's tube comes from the same quadrature
  (exact: no sampler runs, so no sampler bias); the true law's from fresh draws of
  y | x (1024 per x: the share of an arc, ~1/8, has a standard error of 0.01). An arc
  counts as covered when its share of the model's near-curve mass is at least
  `share` = 1/2 of its share of the true near-curve mass. The score is the mean
  fraction of covered arcs: 1 for the oracle, 1/K for an energy collapsed onto one
  point of each ellipse.

  Shares, not absolute masses: coverage asks where the model's answers lie along the
  curve; the NLL and `inference_error` already price the mass it puts off the curve
  (an energy spread along the whole curve but wider than the tube, or with part of its
  mass elsewhere, has not collapsed, and an absolute threshold would say it had).
  Where less than `min_mass` = 1e-3 of the model's mass lies within `tol` of the
  curve, the model gives no answer on it and covers no arc. The tube is
  `tol` = 0.02 mean domain widths (0.54 on horn, 11 noise stds), as `branch_coverage`'s.

Budget: the test pairs scored are the first min(n_test, max(n_inference, B / N)),
with N the rule's nodes per x and B = 50000 * n_inference energy evaluations (smoke:
40 pairs on horn, 28672 to 69632 nodes each; all 500 on branches, 1024 nodes each). The energies
are evaluated in float32 (the models' dtype) and reduced in float64. Both metrics share
one pass over the nodes through `ctx.cache`. The metric framework has no standard
error field; the per-pair NLL's spread is in the pass's state for callers who want it.
"""

from __future__ import annotations

import math

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["ConditionalNLL", "ArcCoverage", "conditional_pass", "arc_masses", "covered_fraction", "n_pairs"]

EVALS_PER_INFERENCE_POINT = 50_000  # energy evaluations the pass may spend per profile inference point
NODES_PER_CHUNK = 1 << 18  # quadrature nodes evaluated together (bounds memory: ~2 MB per float64 column)
NEGLIGIBLE = 1e-12  # nodes below this share of the model's mass never change an arc's share
CURVE_POINTS_PER_ARC = 64  # nearest-point search on 512 curve points (spacing <= 0.16 on horn)
ARCS, TOL, SHARE, MIN_MASS, TRUE_DRAWS = 8, 0.02, 0.5, 1e-3, 1024  # arc_coverage's defaults


def n_pairs(ctx, nodes_per_x: int) -> int:
    """How many test pairs the profile's budget scores (at least n_inference, at most all)."""
    budget = EVALS_PER_INFERENCE_POINT * ctx.profile.n_inference
    return min(len(ctx.data.test), max(ctx.profile.n_inference, budget // max(1, nodes_per_x)))


def _width(ctx) -> float:
    dom = ctx.domain()
    return float((dom[:, 1] - dom[:, 0]).mean())


def _has_arcs(task) -> bool:
    return {"mode_curve", "sampler"} <= task.ground_truth


def arc_masses(task, points, x, arcs: int, tol: float, weights=None):
    """Mass of each of `arcs` equal arcs of x's curve held within `tol` of it: [arcs], float64.

    `points` [P, dim] are answers of the one condition x [1, x_dim]; each belongs to the
    arc of its nearest curve point when it lies within `tol` of it. `weights` [P] are
    their masses (None: each counts 1).
    """
    curve = task.conditional_curve(x, arcs * CURVE_POINTS_PER_ARC)[0].double().to(points.device)  # [C, dim]
    w = torch.ones(points.shape[0], dtype=torch.float64, device=points.device) if weights is None else weights
    out = torch.zeros(arcs, dtype=torch.float64, device=points.device)
    for i in range(0, points.shape[0], 4096):  # [4096, C] distances at a time
        dist, idx = torch.cdist(points[i : i + 4096].double(), curve).min(1)
        near = dist <= tol
        out.index_add_(0, idx[near] // CURVE_POINTS_PER_ARC, w[i : i + 4096][near])
    return out


def covered_fraction(model_mass, true_mass, share: float, min_mass: float) -> float:
    """Fraction of arcs (with true mass) whose share of the model's near-curve mass is at
    least `share` times their share of the true one; 0 when the model's near-curve mass
    (a fraction of its total) is below `min_mass`."""
    total = float(model_mass.sum())
    valid = true_mass > 0
    if total < min_mass or not bool(valid.any()):
        return 0.0
    p = true_mass / true_mass.sum()
    return float((model_mass[valid] / total >= share * p[valid]).double().mean())


class _Pass:
    """log Z(x), F(x, y) and (for curve tasks) per-arc model masses of the scored test pairs."""

    def __init__(self, ctx, arc_spec):
        task, test = ctx.task, ctx.data.test
        # the budget counts the nodes of the rule at x = 1 (horn's largest: 69632)
        n_nodes = task.conditional_quadrature(test.x.new_ones(1, test.x.shape[1]))[0].shape[1]
        n = n_pairs(ctx, n_nodes)
        self.x, self.y = test.x[:n], test.y[:n]
        self.energy = ctx.energy(self.y, self.x).double().cpu()  # F(x, y) of the test pairs
        self.log_z = torch.empty(n, dtype=torch.float64)
        self.arc_spec, self.model_arcs = arc_spec, [None] * n
        per = max(1, NODES_PER_CHUNK // n_nodes)
        # conditions in order of their first coordinate: a rule's size may grow with x
        # (horn: with the ellipse), and a batch takes the size of its largest member
        order = torch.argsort(self.x[:, 0].cpu()).tolist()
        for i in range(0, n, per):
            rows = order[i : i + per]
            xc = self.x[rows]
            nodes, log_w = task.conditional_quadrature(xc)  # [b, N, dim], [b, N] float64
            b, n_nodes = nodes.shape[:2]
            e = ctx.energy(nodes.reshape(b * n_nodes, -1).float(), xc.repeat_interleave(n_nodes, 0)).double()
            if torch.isnan(e).any():  # the cell checks test energies only; the quadrature reaches wider
                raise ebmbench.Diverged("model energy is NaN on part of the conditional quadrature grid")
            log_m = log_w.to(e.device) - e.view(b, n_nodes)  # log of each node's unnormalised mass
            log_z = torch.logsumexp(log_m, 1)
            self.log_z[rows] = log_z.cpu()
            if arc_spec is not None:
                for j, row in enumerate(rows):
                    self.model_arcs[row] = self._arcs(task, nodes[j], xc[j : j + 1], log_m[j] - log_z[j])

    def _arcs(self, task, nodes, x, log_q):
        arcs, tol = self.arc_spec
        keep = log_q > math.log(NEGLIGIBLE)  # drop nodes that carry no mass (a concentrated model: most)
        return arc_masses(task, nodes[keep], x, arcs, tol, log_q[keep].exp())

    def nll_terms(self):
        """-log p_model(y | x) of each scored test pair, float64 [n]."""
        return self.energy + self.log_z


def conditional_pass(ctx, arc_spec=None) -> _Pass:
    """The shared pass (cached per arc spec; arc_spec = (arcs, tol in data units) or None)."""
    key = ("conditional_pass", arc_spec)
    if key not in ctx.cache:
        ctx.cache[key] = _Pass(ctx, arc_spec)
    return ctx.cache[key]


def _default_arc_spec(ctx):
    return (ARCS, TOL * _width(ctx)) if _has_arcs(ctx.task) else None


class ConditionalNLL(ebmbench.Metric):
    name = "conditional_nll"
    direction = "lower"
    task_kinds = frozenset({"conditional"})
    requires = frozenset({"conditional_quadrature"})
    tolerance = (0.02, 0.02)  # values near 0 (branches' floor is 0.22 nats): an absolute band too
    summary = "test NLL (nats) of p(y | x) = exp(-F(x, y)) / Z(x), Z(x) by the task's quadrature rule for each x"
    reference = "conditional log-likelihood (a proper scoring rule); docs/science.md §4, issue 11"

    def compute(self, ctx):
        # the arc spec of arc_coverage's defaults, so that both metrics share one pass
        return float(conditional_pass(ctx, _default_arc_spec(ctx)).nll_terms().mean())


class ArcCoverage(ebmbench.Metric):
    name = "arc_coverage"
    direction = "higher"
    task_kinds = frozenset({"conditional"})
    requires = frozenset({"conditional_quadrature", "mode_curve", "sampler"})
    summary = "fraction of K equal arcs of x's curve of answers that get their share of the model's mass near it"
    reference = "docs/science.md §4 ('are all modes found'), on the exact quadrature of exp(-F(x, .)); issue 11"
    params = {
        "arcs": ebmbench.Param(ARCS, "equal arcs the curve of answers is cut into", low=1),
        "tol": ebmbench.Param(TOL, "tube half-width around the curve, fraction of the mean domain width", low=0),
        "share": ebmbench.Param(SHARE, "least fraction of its true share an arc needs to count as covered", low=0),
        "min_mass": ebmbench.Param(MIN_MASS, "least model mass near the curve to cover anything", low=0, high=1),
        "true_draws": ebmbench.Param(TRUE_DRAWS, "draws of the true y | x per condition", low=1),
    }

    def compute(self, ctx):
        spec = (self.p["arcs"], self.p["tol"] * _width(ctx))
        state = conditional_pass(ctx, spec)
        m, g = self.p["true_draws"], ctx.generator("arc-coverage-truth")
        fractions = []
        for j, model_mass in enumerate(state.model_arcs):
            x = state.x[j : j + 1]
            draws = ctx.task.sample(m, g, x=x.expand(m, -1)).y.to(x.device)
            true_mass = arc_masses(ctx.task, draws, x, *spec)
            fractions.append(covered_fraction(model_mass, true_mass, self.p["share"], self.p["min_mass"]))
        return float(sum(fractions) / len(fractions))


@ebmbench.hookimpl
def ebmbench_register_metrics(register):
    register(ConditionalNLL)
    register(ArcCoverage)
