"""Unadjusted Langevin dynamics with step and noise exposed separately (primer §3).

    y <- y - step * grad E(y) + noise * xi,   xi ~ N(0, I)

With noise = sqrt(2 * step) this samples exp(-E) as step -> 0; many EBM recipes
decouple the two, which samples exp(-E / T) with T = noise^2 / (2 step): the
sampler reports T so methods can record the temperature they actually used.
Steps are given for a domain of width 8 (the toy tasks) and scaled by
(width / 8)^2 on other domains unless `scale_to_domain` is off, so one default
moves chains a comparable fraction of the domain on every task.
"""

from __future__ import annotations

import math

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["Langevin", "langevin_step_size"]


def langevin_step_size(step: float, domain, scale_to_domain: bool) -> float:
    if domain is None or not scale_to_domain:
        return step
    width = float((domain[:, 1] - domain[:, 0]).mean())
    return step * (width / 8.0) ** 2


class Langevin(ebmbench.Sampler):
    name = "langevin"
    summary = "unadjusted Langevin (ULA); step and noise set separately, reports T"
    reference = "Welling & Teh 2011; decoupled step/noise as in Du & Mordatch 2019"
    params = {
        "steps": ebmbench.Param(100, "number of Langevin steps", low=0),
        "step": ebmbench.Param(0.01, "gradient step size (for a width-8 domain)", low=0),
        "noise": ebmbench.Param(-1.0, "noise std per step; -1 = sqrt(2*step), i.e. T = 1", low=-1),
        "clamp": ebmbench.Param(True, "clamp chains to the task domain after each step"),
        "grad_clip": ebmbench.Param(0.0, "clip each chain's energy gradient to this norm (0 = off)", low=0),
        "scale_to_domain": ebmbench.Param(True, "scale step (and default noise) with the domain width"),
    }

    def settings(self, domain):
        step = langevin_step_size(self.p["step"], domain, self.p["scale_to_domain"])
        noise = math.sqrt(2 * step) if self.p["noise"] < 0 else self.p["noise"]
        if self.p["noise"] >= 0 and self.p["scale_to_domain"] and domain is not None:
            noise *= math.sqrt(step / self.p["step"]) if self.p["step"] > 0 else 1.0
        return step, noise

    def sample(self, energy, init, generator, *, domain=None):
        step, noise = self.settings(domain)
        y = init.detach().clone()
        lo, hi = (domain[:, 0], domain[:, 1]) if domain is not None else (None, None)
        clip = self.p["grad_clip"]
        for _ in range(self.p["steps"]):
            y.requires_grad_(True)
            (grad,) = torch.autograd.grad(energy(y).sum(), y)
            if clip > 0:
                norm = grad.norm(dim=1, keepdim=True).clamp_min(1e-12)
                grad = grad * (clip / norm).clamp(max=1.0)
            with torch.no_grad():
                y = y - step * grad
                if noise > 0:
                    y = y + noise * torch.randn(y.shape, generator=generator, device=y.device)
                if self.p["clamp"] and lo is not None:
                    y = torch.max(torch.min(y, hi), lo)
        temperature = noise**2 / (2 * step) if step > 0 else math.inf
        stats = {"grad_evals": float(self.p["steps"] * init.shape[0]), "temperature": temperature,
                 "step": step, "noise": noise}
        return ebmbench.SampleResult(y.detach(), stats)


@ebmbench.hookimpl
def ebmbench_register_samplers(register):
    register(Langevin)
