"""Metropolis-corrected gradient samplers (docs/science.md §3): MALA and HMC.

Both target pi(y) ∝ exp(-E(y) / T) exactly (T = `temperature`, 1 by default): the
Metropolis–Hastings test removes the discretisation bias of the unadjusted dynamics,
at the price of rejected moves. Each reports its mean acceptance rate.

* MALA (Roberts & Tweedie 1996): proposal y' = y - eta grad U(y) + sqrt(2 eta) xi with
  U = E / T, accepted with probability
  min(1, exp(U(y) - U(y')) q(y | y') / q(y' | y)), q(a | b) = N(a; b - eta grad U(b), 2 eta I).
* HMC (Duane et al. 1987; Neal 2011): momentum p ~ N(0, I), L leapfrog steps of size
  eps on H(y, p) = U(y) + |p|^2 / 2, accepted with probability min(1, exp(H0 - H1)).

With `clamp`, proposals outside the task domain are rejected (the target becomes the
density truncated to the box; detailed balance holds). With `grad_clip` the clipped
gradient field drives the proposals; both samplers stay exact (MALA evaluates the
same clipped field in both proposal densities; a leapfrog map with any position-
dependent force is volume preserving and reversible) — see `_base`.
Every chain keeps its current energy and gradient, so a MALA step costs one gradient
evaluation and an HMC iteration L.
"""

from __future__ import annotations

import math

from ebmbench_plugins.samplers._base import (
    COMMON_PARAMS,
    GradientSampler,
    energy_and_grad,
    inside,
)

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["MALA", "HMC"]


def _accept(log_ratio, generator):
    """Boolean [B]: the MH coin flips for log acceptance ratios `log_ratio`."""
    u = torch.rand(log_ratio.shape, generator=generator, device=log_ratio.device, dtype=log_ratio.dtype)
    return torch.log(u) < log_ratio


def _keep(accept, new, old):
    """Rows of `new` where accepted, of `old` elsewhere (in a fresh tensor)."""
    mask = accept.view(-1, *([1] * (new.dim() - 1)))
    return torch.where(mask, new, old)


class MALA(GradientSampler):
    name = "mala"
    summary = "Metropolis-adjusted Langevin: ULA proposal + MH test, reports acceptance"
    reference = "Roberts & Tweedie 1996, Exponential convergence of Langevin distributions"
    params = {
        "steps": ebmbench.Param(100, "number of MALA steps", low=0),
        "step": ebmbench.Param(0.01, "Langevin step eta (width-8 domain, scaled by width^2)", low=0, low_open=True),
        "temperature": ebmbench.Param(1.0, "target exp(-E / T)", low=1e-6),
        **COMMON_PARAMS,
    }

    def sample(self, energy, init, generator, *, domain=None):
        eta = self.p["step"] * self.width_ratio(domain) ** 2
        inv_t = 1.0 / self.p["temperature"]
        clip = self.p["grad_clip"]
        lo, hi = self.bounds(domain)
        noise = math.sqrt(2 * eta)
        y = init.detach().clone()
        e, g = energy_and_grad(energy, y, clip)
        accepted = torch.zeros((), device=y.device)
        for _ in range(self.p["steps"]):
            with torch.no_grad():
                mean_fwd = y - (eta * inv_t) * g
                prop = mean_fwd + noise * torch.randn(y.shape, generator=generator, device=y.device)
            e_new, g_new = energy_and_grad(energy, prop, clip)
            with torch.no_grad():
                mean_bwd = prop - (eta * inv_t) * g_new
                log_q_fwd = -(prop - mean_fwd).pow(2).sum(1) / (4 * eta)
                log_q_bwd = -(y - mean_bwd).pow(2).sum(1) / (4 * eta)
                log_ratio = (e - e_new) * inv_t + log_q_bwd - log_q_fwd
                acc = _accept(log_ratio, generator) & inside(prop, lo, hi) & torch.isfinite(e_new)
                y, e, g = _keep(acc, prop, y), _keep(acc, e_new, e), _keep(acc, g_new, g)
                accepted += acc.float().mean()
        steps = self.p["steps"]
        stats = {
            "grad_evals": float((steps + 1) * init.shape[0]),
            "acceptance": float(accepted) / steps if steps else math.nan,
            "temperature": self.p["temperature"],
            "step": eta,
        }
        return ebmbench.SampleResult(y.detach(), stats)


class HMC(GradientSampler):
    name = "hmc"
    summary = "Hamiltonian Monte Carlo: L leapfrog steps + MH test, reports acceptance"
    reference = "Duane et al. 1987; Neal 2011, MCMC using Hamiltonian dynamics"
    params = {
        "steps": ebmbench.Param(100, "HMC iterations (each L leapfrog steps)", low=0),
        "step": ebmbench.Param(0.1, "leapfrog step eps (width-8 domain, scaled by width)", low=0, low_open=True),
        "leapfrog": ebmbench.Param(5, "leapfrog steps L per iteration", low=1),
        "temperature": ebmbench.Param(1.0, "target exp(-E / T)", low=1e-6),
        **COMMON_PARAMS,
    }

    def sample(self, energy, init, generator, *, domain=None):
        eps = self.p["step"] * self.width_ratio(domain)
        inv_t = 1.0 / self.p["temperature"]
        clip, n_leap = self.p["grad_clip"], self.p["leapfrog"]
        lo, hi = self.bounds(domain)
        y = init.detach().clone()
        e, g = energy_and_grad(energy, y, clip)
        accepted = torch.zeros((), device=y.device)
        for _ in range(self.p["steps"]):
            with torch.no_grad():
                p = torch.randn(y.shape, generator=generator, device=y.device)
                h0 = e * inv_t + 0.5 * p.pow(2).sum(1)
                q = y.clone()
                p.sub_(g, alpha=0.5 * eps * inv_t)
            for i in range(n_leap):
                with torch.no_grad():
                    q.add_(p, alpha=eps)
                e_new, g_new = energy_and_grad(energy, q, clip)
                with torch.no_grad():
                    p.sub_(g_new, alpha=(eps if i < n_leap - 1 else 0.5 * eps) * inv_t)
            with torch.no_grad():
                h1 = e_new * inv_t + 0.5 * p.pow(2).sum(1)
                acc = _accept(h0 - h1, generator) & inside(q, lo, hi) & torch.isfinite(h1)
                y, e, g = _keep(acc, q, y), _keep(acc, e_new, e), _keep(acc, g_new, g)
                accepted += acc.float().mean()
        steps = self.p["steps"]
        stats = {
            "grad_evals": float((steps * n_leap + 1) * init.shape[0]),
            "acceptance": float(accepted) / steps if steps else math.nan,
            "temperature": self.p["temperature"],
            "step": eps,
            "leapfrog": float(n_leap),
        }
        return ebmbench.SampleResult(y.detach(), stats)


@ebmbench.hookimpl
def ebmbench_register_samplers(register):
    register(MALA)
    register(HMC)
