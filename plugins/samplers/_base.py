"""Pieces every gradient-based sampler shares: options, domain scaling, clipping, bounds.

Kept private (no hook): `langevin`, `metropolis` and friends import it. Like every
plugin module it binds torch lazily and touches no torch attribute at import time.

Conventions, identical across the samplers so a method can swap one for another:
* step sizes are given for a domain of width 8 (the toy tasks) and rescaled with the
  task's domain width (`scale_to_domain`): a Langevin step, which moves a chain by
  sqrt(2 step), scales with width^2; a leapfrog step, which moves it by step * p,
  scales with width;
* `clamp` keeps chains in the task domain. Unadjusted dynamics project onto the box
  after each step; Metropolis samplers instead reject proposals that leave it, which
  targets the density truncated to the box and keeps detailed balance;
* `grad_clip` caps each chain's energy-gradient norm (the JEM / IGEBM stabiliser).
  In MALA and HMC the clipped field only shapes the proposal; the MH test uses the
  exact energy and the clipped proposal densities, so the target is unchanged.
"""

from __future__ import annotations

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["GradientSampler", "COMMON_PARAMS", "domain_width_ratio", "energy_and_grad", "clip_rows_", "inside"]

COMMON_PARAMS = {
    "clamp": ebmbench.Param(True, "keep chains in the task domain (projection, or MH rejection)"),
    "grad_clip": ebmbench.Param(0.0, "clip each chain's energy gradient to this norm (0 = off)", low=0),
    "scale_to_domain": ebmbench.Param(True, "scale step sizes with the domain width (given for width 8)"),
}


def domain_width_ratio(domain, scale_to_domain: bool) -> float:
    """Mean domain width / 8, or 1 when scaling is off or there is no domain."""
    if domain is None or not scale_to_domain:
        return 1.0
    return float((domain[:, 1] - domain[:, 0]).mean()) / 8.0


def clip_rows_(grad, clip: float):
    """Scale rows of `grad` in place so that none has norm above `clip`."""
    norm = torch.linalg.vector_norm(grad, dim=1, keepdim=True).clamp_min_(1e-12)
    grad.mul_((clip / norm).clamp_(max=1.0))
    return grad


def energy_and_grad(energy, y, clip: float = 0.0):
    """(E(y) [B] detached, dE/dy [B, d]) for chains `y`; the gradient is clipped if clip > 0.

    `y` is detached first, so callers can pass any tensor; the graph is freed on return.
    """
    y = y.detach().requires_grad_(True)
    e = energy(y)
    (grad,) = torch.autograd.grad(e, y, grad_outputs=torch.ones_like(e))
    if clip > 0:
        clip_rows_(grad, clip)
    return e.detach(), grad


def inside(y, lo, hi):
    """Boolean [B]: is each row within the box [lo, hi]? (All True without bounds.)"""
    if lo is None:
        return torch.ones(y.shape[0], dtype=torch.bool, device=y.device)
    return ((y >= lo) & (y <= hi)).all(dim=1)


class GradientSampler(ebmbench.Sampler):
    """Base of the gradient samplers: the shared options and their interpretation."""

    def width_ratio(self, domain) -> float:
        return domain_width_ratio(domain, self.p["scale_to_domain"])

    def bounds(self, domain):
        """(lo, hi) rows of the domain when clamping is on, else (None, None)."""
        if domain is None or not self.p["clamp"]:
            return None, None
        domain = domain.detach()
        return domain[:, 0].contiguous(), domain[:, 1].contiguous()
