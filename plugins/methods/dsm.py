"""Denoising score matching (Vincent 2011), docs/science.md §2: one noise level, and a ladder.

Perturb y with N(0, sigma^2 I) and regress the model score -grad_y E(y~) onto the
score of the perturbation kernel -(y~ - y) / sigma^2. The loss is weighted by
sigma^2 (Song & Ermon 2019), which changes no optimum but keeps its scale near 1.
Conditional tasks perturb y only.

`dsm_multi` draws each example's sigma from a geometric ladder sigma_max ... sigma_min
(Song & Ermon 2019, NCSN) with the same sigma^2 weighting. NCSN's network takes sigma
as an input; ours is one energy E(y) for all levels, so this is an annealed DSM of a
single energy. What that energy learns is exact for a Gaussian: the sigma^2-weighted
objective of a quadratic energy is minimised by the precision (Sigma + s_eff^2 I)^-1 with
s_eff^2 = sum sigma^4 / sum sigma^2 (see `effective_sigma`; single sigma: s_eff = sigma).
The large levels dominate that average, so the energy is that of a density blurred
at about s_eff — smoother, with better-shaped tails far from the data, but broader
modes than single-sigma DSM at sigma_min. `schedule=anneal` instead walks down the
ladder during training (a curriculum), ending on sigma_min.
"""

from __future__ import annotations

import math

import ebmbench
from ebmbench.lazy import lazy_import

from ebmbench_plugins.methods._fit import fit

torch = lazy_import("torch")

__all__ = ["DSM", "DSMMulti", "dsm_loss", "dsm_multi_loss", "geometric_sigmas", "effective_sigma"]


def dsm_loss(model, y, x, sigma, generator):
    """sigma^2/2 * ||grad E(y~) - (y~ - y)/sigma^2||^2; `sigma` a float or a [B, 1] tensor."""
    y_tilde = (y + sigma * torch.randn(y.shape, generator=generator, device=y.device)).requires_grad_(True)
    (grad_e,) = torch.autograd.grad(model(y_tilde, x).sum(), y_tilde, create_graph=True)
    target = (y_tilde - y) / sigma**2  # = grad_y of -log q(y~|y); model score is -grad_e
    return (0.5 * sigma**2 * (grad_e - target).pow(2)).sum(-1).mean()


def geometric_sigmas(sigma_max: float, sigma_min: float, levels: int) -> list[float]:
    """sigma_max, ..., sigma_min in geometric progression (one value if levels == 1)."""
    if levels == 1:
        return [sigma_min]
    ratio = (sigma_min / sigma_max) ** (1 / (levels - 1))
    return [sigma_max * ratio**i for i in range(levels)]


def effective_sigma(sigmas) -> float:
    """sqrt(sum sigma^4 / sum sigma^2): the blur a quadratic energy learns from the ladder."""
    return math.sqrt(sum(s**4 for s in sigmas) / sum(s**2 for s in sigmas))


def dsm_multi_loss(model, y, x, sigmas, generator):
    """DSM with each row's sigma drawn uniformly from the ladder `sigmas` (NCSN, L levels)."""
    ladder = torch.as_tensor(sigmas, dtype=y.dtype, device=y.device)
    level = torch.randint(0, len(sigmas), (y.shape[0],), generator=generator, device=y.device)
    return dsm_loss(model, y, x, ladder[level][:, None], generator)


class DSM(ebmbench.Method):
    name = "dsm"
    family = "contrastive"
    summary = "denoising score matching at one noise level sigma"
    reference = "Vincent 2011, A Connection Between Score Matching and Denoising Autoencoders"
    params = {
        "sigma": ebmbench.Param(0.1, "perturbation std (in data units)", low=0, low_open=True),
        "lr": ebmbench.Param(1e-3, "Adam learning rate", low=0, low_open=True),
    }

    def train(self, model, data, ctx):
        sigma = self.p["sigma"]
        fit(
            model, data, ctx, lambda m, y, x, g, step: (dsm_loss(m, y, x, sigma, g), {}), lr=self.p["lr"], purpose="dsm"
        )


class DSMMulti(ebmbench.Method):
    name = "dsm_multi"
    family = "contrastive"
    summary = "denoising score matching over a geometric sigma ladder, sigma^2-weighted, one energy for all levels"
    reference = "Song & Ermon 2019, Generative Modeling by Estimating Gradients of the Data Distribution (NCSN)"
    params = {
        # NCSN uses 10 levels from 1 to 0.01 on [0, 1] images; the toy tasks span ~8 units
        # with mode widths ~0.35, so the ladder stops at the single-sigma default and
        # starts where modes begin to merge.
        "sigma_max": ebmbench.Param(1.0, "largest perturbation std (data units)", low=0, low_open=True),
        "sigma_min": ebmbench.Param(0.1, "smallest perturbation std (data units)", low=0, low_open=True),
        "levels": ebmbench.Param(10, "number of noise levels L", low=1),
        "schedule": ebmbench.Param(
            "mixture",
            "mixture: a random level per example (NCSN); anneal: walk down the ladder during training",
            choices=("mixture", "anneal"),
        ),
        "lr": ebmbench.Param(1e-3, "Adam learning rate", low=0, low_open=True),
    }

    def compatible(self, model, task):
        if self.p["sigma_min"] > self.p["sigma_max"]:
            return f"dsm_multi needs sigma_min <= sigma_max, got {self.p['sigma_min']} > {self.p['sigma_max']}"
        return super().compatible(model, task)

    def train(self, model, data, ctx):
        sigmas = geometric_sigmas(self.p["sigma_max"], self.p["sigma_min"], self.p["levels"])
        steps = ctx.profile.train_steps

        def loss(m, y, x, g, step):
            if self.p["schedule"] == "anneal":  # equal share of the steps per level, largest first
                sigma = sigmas[min(len(sigmas) - 1, step * len(sigmas) // steps)]
                return dsm_loss(m, y, x, sigma, g), {"sigma": sigma}
            return dsm_multi_loss(m, y, x, sigmas, g), {"sigma_eff": effective_sigma(sigmas)}

        fit(model, data, ctx, loss, lr=self.p["lr"], purpose="dsm_multi")


@ebmbench.hookimpl
def ebmbench_register_methods(register):
    register(DSM)
    register(DSMMulti)
