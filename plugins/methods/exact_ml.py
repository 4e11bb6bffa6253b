"""Exact maximum likelihood on a 2-D grid: the gold standard of the toy tasks (docs/science.md §2).

On a low-dimensional domain the partition function needs no sampling: quadrature on
a fine grid gives it, and the negative log-likelihood of a batch is exact up to the
quadrature error,

    loss = mean_i E(y_i) + log Z,   log Z = logsumexp_j(-E(g_j)) + log |cell|,

with g_j the cell midpoints of an n^d grid over the task's domain box (mass outside
the box is ignored: the density is the model truncated to the domain, which is what
the grid-normalised NLL metric scores). Its gradient is the ML gradient with the
model expectation computed exactly — softmax(-E(g)) weights over the grid.

By default the whole grid is shifted by one uniform random offset within a cell
each update (a randomly shifted lattice rule): the estimate of Z is then unbiased
for any energy, so the model cannot exploit the gaps between fixed grid points.
For smooth energies the midpoint rule is already very accurate (on a Gaussian of
std sigma its relative error at spacing h is ~2 exp(-2 pi^2 sigma^2 / h^2)); 64 x 64
on the width-9 toy domain (h = 0.14) is ample for 8gaussians (sigma = 0.35) and cheap.

Adam at lr 1e-2 (1e-3 stays on the 8gaussians "ring" plateau for the whole quick
budget, grid NLL 3.28; 1e-2 reaches 2.88-2.98 there, see `_contrastive`).
Only unconditional tasks of dimension <= 2: a conditional task needs Z(x) for every
condition, and the grid grows as n^d.
"""

from __future__ import annotations

from ebmbench_plugins.methods._contrastive import OPTIM_PARAMS, lr_scheduler

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["ExactML", "grid_log_partition", "cell_grid"]


def cell_grid(domain, n: int, offset=None):
    """Points lo + (i + offset) * h of an n^d grid over the box `domain` [d, 2], and log|cell|.

    offset (per coordinate, in [0, 1)) defaults to 0.5: the cell midpoints.
    """
    lo, hi = domain[:, 0], domain[:, 1]
    h = (hi - lo) / n
    if offset is None:
        offset = torch.full_like(lo, 0.5)
    axes = [lo[k] + (torch.arange(n, device=lo.device, dtype=lo.dtype) + offset[k]) * h[k] for k in range(lo.numel())]
    mesh = torch.meshgrid(*axes, indexing="ij")
    return torch.stack([m.reshape(-1) for m in mesh], dim=1), float(torch.log(h).sum())


def grid_log_partition(energy_fn, domain, n: int, offset=None):
    """(log Z, grid energies) of exp(-E) over the box by the (shifted) midpoint rule."""
    pts, log_cell = cell_grid(domain, n, offset)
    e = energy_fn(pts)
    return torch.logsumexp(-e, dim=0) + log_cell, e


class ExactML(ebmbench.Method):
    name = "exact_ml"
    family = "contrastive"
    summary = "exact maximum likelihood, partition function by quadrature on a 2-D grid"
    reference = "docs/science.md §2: exact ML on a fine 2-D grid (the toy-task gold standard)"
    params = {
        "grid": ebmbench.Param(64, "grid points per axis for log Z", low=4),
        "jitter": ebmbench.Param(True, "shift the grid by a random offset each update (unbiased Z)"),
        "lr": ebmbench.Param(1e-2, "Adam learning rate", low=0, low_open=True),
        "schedule": OPTIM_PARAMS["schedule"],
    }
    task_kinds = frozenset({"unconditional"})
    max_dim = 2

    def compatible(self, model, task):
        if model.family not in self.model_families:
            return super().compatible(model, task)
        if task.kind != "unconditional":
            return (
                f"method {self.name} needs log Z by quadrature over y alone; {task.name} is conditional "
                "(it would need Z(x) for every condition)"
            )
        if task.dim > self.max_dim:
            return f"method {self.name} integrates on a grid: dimension <= {self.max_dim}, {task.name} has {task.dim}"
        return None

    def train(self, model, data, ctx):
        g = ctx.generator(self.name)
        domain = ctx.domain()
        opt = torch.optim.Adam(model.parameters(), lr=self.p["lr"])
        train, batch, n = data.train, ctx.profile.batch_size, self.p["grid"]
        n_steps = ctx.profile.train_steps
        sched = lr_scheduler(opt, self.p["schedule"], n_steps)
        log_every = max(1, n_steps // 100)
        for step in range(n_steps):
            idx = ctx.minibatch(len(train), batch, g)
            y = train.y[idx]
            offset = torch.rand(domain.shape[0], generator=g, device=domain.device) if self.p["jitter"] else None
            log_z, e_grid = grid_log_partition(model, domain, n, offset)
            e_pos = model(y)
            loss = e_pos.mean() + log_z
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))
            opt.step()
            if sched is not None:
                sched.step()
            ctx.grad_evals += n ** domain.shape[0]  # energy evaluations on the grid (no sampling)
            if step % log_every == 0 or step == n_steps - 1:
                with torch.no_grad():
                    # the model's mean energy, exactly: E_p[E] = sum softmax(-E_grid) E_grid
                    e_model = (torch.softmax(-e_grid, 0) * e_grid).sum()
                ctx.log(
                    step,
                    loss=loss.item(),
                    energy_gap=float(e_model - e_pos.detach().mean()),
                    grad_norm=gnorm.item(),
                    log_z=log_z.item(),
                    noise_gap=ctx.noise_gap(model, y),
                )


@ebmbench.hookimpl
def ebmbench_register_methods(register):
    register(ExactML)
