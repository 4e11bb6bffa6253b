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

import dataclasses
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

__all__ = ["MALA", "ResampledMALA", "HMC", "importance_resample"]


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
        "target_acceptance": ebmbench.Param(
            0.0,
            "adapt the step toward this mean acceptance during burn-in (0 = fixed step)",
            low=0,
            high=1,
            high_open=True,
        ),
        "burn_in": ebmbench.Param(0.5, "fraction of the steps that adapt the step; frozen after", low=0, high=1),
        "resample_init": ebmbench.Param(
            0, "start from importance resampling of this many uniform points per chain (0 = off)", low=0
        ),
        **COMMON_PARAMS,
    }

    def sample(self, energy, init, generator, *, domain=None):
        eta = self.p["step"] * self.width_ratio(domain) ** 2
        target = self.p["target_acceptance"]
        burn_in = round(self.p["burn_in"] * self.p["steps"]) if target > 0 else 0
        inv_t = 1.0 / self.p["temperature"]
        clip = self.p["grad_clip"]
        lo, hi = self.bounds(domain)
        noise = math.sqrt(2 * eta)
        y, init_ess = init.detach().clone(), math.nan
        if self.p["resample_init"] > 0 and domain is not None:
            y, init_ess = importance_resample(energy, y, self.p["resample_init"], inv_t, domain, generator)
        e, g = energy_and_grad(energy, y, clip)
        accepted = torch.zeros((), device=y.device)
        for t in range(self.p["steps"]):
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
                rate = acc.float().mean()
                if t >= burn_in:
                    accepted += rate
            if t < burn_in:
                # Robbins-Monro on log(step) with the acceptance averaged over all chains (one
                # number per step, so a host sync per step): larger steps where too many moves
                # pass, smaller where too few. Frozen after burn-in, so the chain that makes
                # the samples is a plain MALA chain with one fixed step: exact for pi.
                eta *= math.exp(2.0 * (float(rate) - target) / math.sqrt(1 + t / 10))
                noise = math.sqrt(2 * eta)
        steps = self.p["steps"]
        kept = steps - burn_in  # the acceptance of the fixed-step chain, after burn-in
        stats = {
            "grad_evals": float((steps + 1) * init.shape[0]),
            "acceptance": float(accepted) / kept if kept else math.nan,
            "temperature": self.p["temperature"],
            "step": eta,
        }
        if self.p["resample_init"] > 0 and domain is not None:
            stats["init_ess"] = init_ess  # below the number of chains: the starts stayed uniform
            stats["energy_evals"] = float(self.p["resample_init"] * init.shape[0])
        return ebmbench.SampleResult(y.detach(), stats)


def importance_resample(energy, init, per_chain: int, inv_t: float, domain, generator):
    """(starts, ESS): chains' starts drawn from exp(-E / T) restricted to the domain box by
    sampling-importance-resampling (Rubin 1988) of `per_chain` uniform points per chain —
    exact as the pool grows, whatever the modes, where local moves from uniform starts keep
    the weights of the basins they happened to start in.

    The energy is evaluated on blocks of exactly n rows, row i for chain i, so a
    conditional energy (rows aligned with their conditions x) is always called as the
    sampler contract says. Only when the energy says it is unconditional (`energy.x is
    None`, as EvalContext.energy_fn marks it) are the rows exchangeable: then the n starts
    are resampled from the whole pool, and with an effective sample size below n (high
    dimension: the weights degenerate onto a few points) the uniform `init` is kept.
    Otherwise each chain picks one of its own candidates (ESS: the mean over chains).
    """
    n, d = init.shape
    lo, hi = domain[:, 0].to(init), domain[:, 1].to(init)
    pool = lo + torch.rand((per_chain, n, d), generator=generator, device=init.device) * (hi - lo)
    with torch.no_grad():
        log_w = torch.stack([-energy(block).detach().double() * inv_t for block in pool])  # [per_chain, n]
        log_w = torch.where(torch.isfinite(log_w), log_w, torch.full_like(log_w, -math.inf))
    if getattr(energy, "x", False) is None:  # exchangeable rows: one pool for all chains
        w = torch.softmax(log_w.flatten(), 0)
        ess = float(1.0 / w.pow(2).sum()) if torch.isfinite(w).all() else 0.0
        if not ess >= n:
            return init, ess
        idx = torch.multinomial(w, n, replacement=True, generator=generator)
        return pool.reshape(-1, d)[idx].clone(), ess
    w = torch.softmax(log_w, 0)  # per chain, over its own candidates
    if not torch.isfinite(w).all():  # a chain whose candidates all have infinite energy
        w = torch.where(torch.isfinite(w), w, torch.full_like(w, 1.0 / per_chain))
    pick = torch.multinomial(w.T, 1, generator=generator).squeeze(1)
    ess = float((1.0 / w.pow(2).sum(0)).mean())
    return pool[pick, torch.arange(n, device=init.device)].clone(), ess


class ResampledMALA(MALA):
    """The evaluation sampler of methods that choose none: it must measure the model, not
    itself. Unadjusted Langevin at a fixed step spreads an exact rings energy to 2.7x its
    radial width, and chains from uniform starts keep the weights of the basins they
    started in. Here the starts are importance-resampled from exp(-E) on the domain (exact
    as the pool grows; in 2-D a pool of 20 points per chain suffices) and MALA, with its
    step adapted to 57 % acceptance during burn-in and frozen after, keeps the chains
    exactly on target while it decorrelates the duplicated starts. On the exact energies
    of the seven 2-D tasks its precision, recall, density and coverage match those of
    true samples (tests/plugins/test_samplers.py). Where the resampling weights degenerate
    (dimension 64: effective sample size below the number of chains) the starts stay
    uniform and only the adapted MALA runs; `init_ess` in the stats tells which."""

    name = "sir_mala"
    default_for_evaluation = True  # what methods without a sampler of their own are sampled with
    summary = "importance-resampled starts + MALA with its step adapted during burn-in; exact, mixes modes"
    reference = "Rubin 1988 (sampling-importance-resampling); Roberts & Rosenthal 1998 (MALA at 0.574)"
    params = {
        **MALA.params,
        "target_acceptance": dataclasses.replace(MALA.params["target_acceptance"], default=0.574),
        "resample_init": dataclasses.replace(MALA.params["resample_init"], default=20),
    }


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
    register(ResampledMALA)
    register(HMC)
