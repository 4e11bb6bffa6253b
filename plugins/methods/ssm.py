"""Sliced score matching (Song, Garg, Shi & Ermon 2019), docs/science.md §2.

Hyvärinen's score matching minimises E_data[tr(grad_y s(y)) + 1/2 ||s(y)||^2] with
the model score s = -grad_y E. The trace costs one backward pass per dimension;
slicing replaces it by random projections v with E[v v^T] = I:

    SSM:     E_data E_v [ v^T (grad_y s) v + 1/2 (v^T s)^2 ]
    SSM-VR:  E_data E_v [ v^T (grad_y s) v ] + 1/2 ||s||^2     (vr=True)

SSM-VR computes E_v[(v^T s)^2] = ||s||^2 analytically, which removes that term's
variance (Song et al. 2019, eq. 8). v^T (grad_y s) v is a Hessian-vector product:
differentiate v^T s once more with respect to y. With `projections` > 1 each data
row is repeated, one v per copy, as in the reference code.

Score matching needs a density of y. Data on a manifold or on a lattice (digits:
constant border pixels, 17 grey levels) have none, and the objective is then
unbounded below; Song & Ermon 2019 (Fig. 1) show SSM failing on raw images and
converging once the data are perturbed by N(0, 0.01^2) — the default `noise` here,
negligible at the toy tasks' scale. Tasks whose y is a one-hot class (`n_classes`)
are skipped.
"""

from __future__ import annotations

import ebmbench
from ebmbench.lazy import lazy_import

from ebmbench_plugins.methods._fit import fit

torch = lazy_import("torch")

__all__ = ["SSM", "ssm_loss", "projections"]


def projections(shape, kind: str, generator, device=None):
    """Random slicing directions with E[v v^T] = I: Rademacher (+-1) or standard Gaussian."""
    if kind == "rademacher":
        return torch.randint(0, 2, shape, generator=generator, device=device).float() * 2 - 1
    return torch.randn(shape, generator=generator, device=device)


def ssm_loss(model, y, x, generator, n_proj=1, kind="rademacher", vr=False, noise=0.0):
    """The sliced score-matching loss and its two terms (trace, norm) as diagnostics.

    `noise` > 0 first perturbs y with N(0, noise^2 I): the loss then matches the score of
    the perturbed data, which has a density even when y lies on a manifold."""
    if noise > 0:
        y = y + noise * torch.randn(y.shape, generator=generator, device=y.device)
    if n_proj > 1:
        y = y.repeat(n_proj, 1)
        x = None if x is None else x.repeat(n_proj, 1)
    y = y.detach().requires_grad_(True)
    (grad_e,) = torch.autograd.grad(model(y, x).sum(), y, create_graph=True)
    score = -grad_e
    v = projections(y.shape, kind, generator, y.device)
    sv = (score * v).sum(-1)
    (hvp,) = torch.autograd.grad(sv.sum(), y, create_graph=True)  # (grad_y s)^T v, row by row
    trace = (hvp * v).sum(-1)  # v^T (grad_y s) v: unbiased for tr(grad_y s)
    norm = 0.5 * score.pow(2).sum(-1) if vr else 0.5 * sv.pow(2)
    loss = (trace + norm).mean()
    return loss, {"trace_term": trace.mean().detach(), "norm_term": norm.mean().detach()}


class SSM(ebmbench.Method):
    name = "ssm"
    family = "contrastive"
    summary = "sliced score matching (random projections of the score); vr=True for SSM-VR"
    reference = (
        "Song, Garg, Shi & Ermon 2019, Sliced Score Matching: A Scalable Approach to Density and Score Estimation"
    )
    params = {
        "projections": ebmbench.Param(1, "random projections per data point (M)", low=1),
        "distribution": ebmbench.Param("rademacher", "law of the projections v", choices=("rademacher", "gaussian")),
        "vr": ebmbench.Param(False, "variance-reduced form: 1/2 ||s||^2 instead of 1/2 (v^T s)^2"),
        "noise": ebmbench.Param(0.01, "std of Gaussian noise added to y (data units; 0 = plain SSM)", low=0),
        "lr": ebmbench.Param(1e-3, "Adam learning rate", low=0, low_open=True),
    }

    def compatible(self, model, task):
        if getattr(task, "n_classes", 0):
            return f"score matching needs a continuous y; {task.name} has a discrete (one-hot) y"
        return super().compatible(model, task)

    def train(self, model, data, ctx):
        def loss(m, y, x, g, step):
            return ssm_loss(m, y, x, g, self.p["projections"], self.p["distribution"], self.p["vr"], self.p["noise"])

        fit(model, data, ctx, loss, lr=self.p["lr"], purpose="ssm")


@ebmbench.hookimpl
def ebmbench_register_methods(register):
    register(SSM)
