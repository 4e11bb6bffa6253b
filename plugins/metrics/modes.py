"""Mode weights of a 2-D mixture task: does the model put the right mass on each mode?

For a task whose law is a mixture with known, well-separated modes (ground truth
"mixture": `task.mixture_components()` -> centres [K, 2], weights [K]) the weight the
model gives mode k is its normalised mass over that mode's Voronoi cell V_k (the points
nearer to c_k than to any other centre):

    w_hat_k = sum_{g_i in V_k} q_i,   q_i = softmax(-beta E(g))_i,

on the fine evaluation grid of `nll_grid` (plugins/metrics/density.py; the cell masses
are the very ones of kl_pq_grid, shared through the cell's cache). No sampler takes
part: the number measures the model's density, not a chain's mixing (issue 11).

The target is the truth's mass over the same cells, w_k = sum_{g_i in V_k} p_i, with p
the task's exact (or reference) density on the grid, and the error is the total
variation between the two partitions' laws,

    mode_weight_error = 1/2 sum_k |w_hat_k - w_k|   in [0, 1].

Why these choices:
* Voronoi cells partition the plane, so the w_hat_k sum to 1 with nothing left over
  and a model that puts mass between modes is charged for it in the cells it lands in.
* The truth's own cell masses, not the nominal weights, are the target: Gaussian tails
  cross the cell boundaries, so even the exact density has cell masses that differ from
  the nominal w_k (8gaussians_weighted: by at most 5e-4 per mode, TV 0.0011, all of it
  the partition's, none of it the model's). Against the cell masses the exact density
  scores 0 and the metric is a divergence between the coarse-grained laws of p and q.
  By the data-processing inequality it is at most TV(p, q) on the grid, and by Pinsker
  at most sqrt(KL(p||q) / 2): a model can be good on the modes' weights and still poor
  in shape, never the other way round.
* Total variation rather than KL(w||w_hat): bounded (a model that drops a mode scores at
  most 1, not infinity), in the units of probability mass a reader can check ("0.1 of
  the mass is on the wrong modes"), and symmetric.

`mode_weight_error` is at the model's own temperature (beta = 1): exp(-beta E) with
beta != 1 reweights the modes (masses go roughly as w_k^beta for modes of equal shape),
so the temperature a method learns is part of the answer; `mode_weight_error_cal`
uses beta_cal, the val-NLL-optimal inverse temperature of density.py, and compares the
weights of the shape alone.
"""

from __future__ import annotations

import ebmbench
from ebmbench.lazy import lazy_import

from ebmbench_plugins.metrics.density import _grid_reason, grid_state

torch = lazy_import("torch")

__all__ = ["ModeWeightError", "ModeWeightErrorCal", "voronoi_labels", "cell_weights", "total_variation"]

EBMBENCH_PLUGIN_API = 1


def voronoi_labels(points, centres):
    """Index of the nearest centre of each point: [N] long (ties to the lower index)."""
    d2 = ((points.double()[:, None, :] - centres.to(points.device, torch.float64)[None]) ** 2).sum(-1)
    return d2.argmin(1)


def cell_weights(log_masses, labels, k: int):
    """Summed masses exp(log_masses) per label 0..k-1, float64 [k]."""
    m = torch.as_tensor(log_masses, dtype=torch.float64).reshape(-1).exp()
    return torch.zeros(k, dtype=torch.float64).index_add_(0, labels.to(m.device), m)


def total_variation(a, b) -> float:
    """1/2 sum |a - b| of two weight vectors."""
    return 0.5 * float((torch.as_tensor(a, dtype=torch.float64) - torch.as_tensor(b, dtype=torch.float64)).abs().sum())


class ModeWeightError(ebmbench.Metric):
    name = "mode_weight_error"
    direction = "lower"
    task_kinds = frozenset({"unconditional"})
    requires = frozenset({"mixture"})
    max_dim = 2
    # a value near 0 for a good model: a relative band means nothing there. 0.02 is the
    # multinomial noise of the weights of a likelihood fit on 2 000 draws (weighted.py)
    tolerance = (0.2, 0.02)
    summary = "TV 1/2 sum_k |w_hat_k - w_k| of the model's grid mass per mode (Voronoi cell) vs the truth's"
    reference = "total variation over the Voronoi cells of the modes; weight blindness: Song & Ermon 2019 sec. 3.2"
    calibrated = False

    def applies_to(self, task):
        reason = super().applies_to(task) or _grid_reason(task)
        if reason is None and not ({"log_density", "reference_density"} & task.ground_truth):
            return "needs ground truth log_density or reference_density"
        return reason

    def weights(self, ctx):
        """(model weights, true weights) per mode, float64 [K] each, at this metric's beta."""
        state = grid_state(ctx)
        centres, _ = ctx.task.mixture_components()
        key = "mode_voronoi_labels"  # the partition is the same for both metrics of a cell
        if key not in ctx.cache:
            ctx.cache[key] = voronoi_labels(state.points.cpu(), centres.cpu())
        labels, k = ctx.cache[key], centres.shape[0]
        return cell_weights(state.log_q(self.calibrated), labels, k), cell_weights(state.log_p(), labels, k)

    def compute(self, ctx):
        w_hat, w = self.weights(ctx)
        return total_variation(w_hat, w)


class ModeWeightErrorCal(ModeWeightError):
    name = "mode_weight_error_cal"
    summary = "mode_weight_error of exp(-beta E) at beta_cal (val-NLL-optimal inverse temperature)"
    calibrated = True


@ebmbench.hookimpl
def ebmbench_register_metrics(register):
    register(ModeWeightError)
    register(ModeWeightErrorCal)
