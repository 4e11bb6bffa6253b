"""First-order, unadjusted gradient dynamics (docs/science.md §3): Langevin, annealed Langevin,
gradient descent.

    y <- y - step * grad E(y) + noise * xi,   xi ~ N(0, I)

* `langevin` (ULA): with noise = sqrt(2 * step) this samples exp(-E) as step -> 0;
  many EBM recipes decouple the two, which samples exp(-E / T) with
  T = noise^2 / (2 step): the sampler reports T so methods can record the
  temperature they actually used.
* `annealed_langevin`: the same update with a decreasing, geometric noise schedule
  (Song & Ermon 2019 use geometric sigmas, 10 levels). The energy here is one fixed
  function, not a noise-conditional network, so lowering the noise at a fixed step
  anneals the temperature T_i = noise_i^2 / (2 step) from hot (chains cross between
  modes) down to the final level (T = 1 by default).
* `gradient_descent`: zero temperature (noise = 0), i.e. inference
  argmin_y E(y); plain steps or Adam (scale-free: the energy's scale varies by orders
  of magnitude across methods), optionally with a cosine-decayed step.

Steps are given for a domain of width 8 (the toy tasks) and scaled by (width / 8)^2
on other domains unless `scale_to_domain` is off (see `_base`). The inner loop runs
in place on one leaf tensor, with the noise drawn into a preallocated buffer: no
per-step allocation beyond what autograd itself needs (see the throughput benchmark).
"""

from __future__ import annotations

import math

from ebmbench_plugins.samplers._base import COMMON_PARAMS, GradientSampler, clip_rows_, energy_and_grad

import ebmbench
from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["Langevin", "AnnealedLangevin", "GradientDescent", "langevin_step_size", "ula_"]


def langevin_step_size(step: float, domain, scale_to_domain: bool) -> float:
    if domain is None or not scale_to_domain:
        return step
    width = float((domain[:, 1] - domain[:, 0]).mean())
    return step * (width / 8.0) ** 2


def ula_(energy, y, steps: int, step: float, noise: float, generator, lo=None, hi=None, clip: float = 0.0, xi=None):
    """Run `steps` unadjusted Langevin updates on the leaf `y` (requires_grad) in place.

    `xi` is an optional preallocated noise buffer shaped like `y`. Returns `y`.
    """
    if noise > 0 and xi is None:
        xi = torch.empty_like(y, requires_grad=False)
    ones = None
    for _ in range(steps):
        with torch.enable_grad():  # also works when the caller sampled under no_grad
            e = energy(y)
            if ones is None:
                ones = torch.ones_like(e)
            (grad,) = torch.autograd.grad(e, y, grad_outputs=ones)
        with torch.no_grad():
            if clip > 0:
                clip_rows_(grad, clip)
            y.sub_(grad, alpha=step)
            if noise > 0:
                torch.randn(y.shape, generator=generator, out=xi)
                y.add_(xi, alpha=noise)
            if lo is not None:
                y.clamp_(min=lo, max=hi)
    return y


def _leaf(init):
    return init.detach().clone().requires_grad_(True)


class Langevin(GradientSampler):
    name = "langevin"
    summary = "unadjusted Langevin (ULA); step and noise set separately, reports T"
    reference = "Welling & Teh 2011; decoupled step/noise as in Du & Mordatch 2019"
    params = {
        "steps": ebmbench.Param(100, "number of Langevin steps", low=0),
        "step": ebmbench.Param(0.01, "gradient step size (for a width-8 domain)", low=0, low_open=True),
        "noise": ebmbench.Param(-1.0, "noise std per step; -1 = sqrt(2*step), i.e. T = 1", low=-1),
        **COMMON_PARAMS,
    }

    def settings(self, domain):
        step = langevin_step_size(self.p["step"], domain, self.p["scale_to_domain"])
        noise = math.sqrt(2 * step) if self.p["noise"] < 0 else self.p["noise"]
        if self.p["noise"] >= 0 and self.p["scale_to_domain"] and domain is not None:
            noise *= math.sqrt(step / self.p["step"]) if self.p["step"] > 0 else 1.0
        return step, noise

    def sample(self, energy, init, generator, *, domain=None):
        step, noise = self.settings(domain)
        lo, hi = self.bounds(domain)
        y = ula_(energy, _leaf(init), self.p["steps"], step, noise, generator, lo, hi, self.p["grad_clip"])
        temperature = noise**2 / (2 * step) if step > 0 else math.inf
        stats = {
            "grad_evals": float(self.p["steps"] * init.shape[0]),
            "temperature": temperature,
            "step": step,
            "noise": noise,
        }
        return ebmbench.SampleResult(y.detach(), stats)


class AnnealedLangevin(GradientSampler):
    name = "annealed_langevin"
    summary = "Langevin with a geometric, decreasing noise schedule (temperature annealing)"
    reference = "Song & Ermon 2019 (NCSN annealed Langevin dynamics, geometric sigmas)"
    params = {
        "steps": ebmbench.Param(100, "total Langevin steps, split evenly over the levels", low=0),
        "levels": ebmbench.Param(10, "noise levels (Song & Ermon: 10)", low=1),
        "step": ebmbench.Param(0.01, "gradient step size (for a width-8 domain)", low=0, low_open=True),
        "noise_max": ebmbench.Param(0.5, "noise std of the first level (width-8 domain)", low=0),
        "noise_min": ebmbench.Param(-1.0, "noise std of the last level; -1 = sqrt(2*step), i.e. T = 1", low=-1),
        **COMMON_PARAMS,
    }

    def schedule(self, domain):
        """(step, noise levels, steps per level)."""
        ratio = self.width_ratio(domain)
        step = self.p["step"] * ratio**2
        last = math.sqrt(2 * step) if self.p["noise_min"] < 0 else self.p["noise_min"] * ratio
        first = max(self.p["noise_max"] * ratio, last)
        n = self.p["levels"]
        noises = [first * (last / first) ** (i / (n - 1)) if n > 1 and first > 0 else last for i in range(n)]
        base, extra = divmod(self.p["steps"], n)
        counts = [base + (i >= n - extra) for i in range(n)]  # leftovers go to the coldest levels
        return step, noises, counts

    def sample(self, energy, init, generator, *, domain=None):
        step, noises, counts = self.schedule(domain)
        lo, hi = self.bounds(domain)
        y = _leaf(init)
        xi = torch.empty_like(y, requires_grad=False)
        for noise, k in zip(noises, counts):
            ula_(energy, y, k, step, noise, generator, lo, hi, self.p["grad_clip"], xi)
        temps = [s**2 / (2 * step) if step > 0 else math.inf for s in noises]
        stats = {
            "grad_evals": float(self.p["steps"] * init.shape[0]),
            "temperature": temps[-1],
            "temperature_start": temps[0],
            "step": step,
            "noise": noises[-1],
        }
        return ebmbench.SampleResult(y.detach(), stats)


class GradientDescent(GradientSampler):
    name = "gradient_descent"
    summary = "zero-temperature inference: gradient descent (or Adam) on the energy"
    reference = "docs/science.md §1: inference is y = argmin_y F(x, y)"
    params = {
        "steps": ebmbench.Param(100, "descent steps", low=0),
        "optimizer": ebmbench.Param(
            "sgd", "plain steps, or Adam (blind to the energy's scale)", choices=("sgd", "adam")
        ),
        "step": ebmbench.Param(0.01, "sgd: gradient step (width-8 domain, scaled by width^2)", low=0, low_open=True),
        "adam_lr": ebmbench.Param(0.02, "adam: step as a fraction of the domain width", low=0, low_open=True),
        "schedule": ebmbench.Param("constant", "step-size schedule", choices=("constant", "cosine")),
        **COMMON_PARAMS,
    }

    def sample(self, energy, init, generator, *, domain=None):
        lo, hi = self.bounds(domain)
        steps, clip, adam = self.p["steps"], self.p["grad_clip"], self.p["optimizer"] == "adam"
        y = _leaf(init)
        if adam:
            width = 8.0 * self.width_ratio(domain) if domain is not None else 1.0
            base = self.p["adam_lr"] * width
            # Adam (Kingma & Ba 2015) in place, per coordinate; torch.optim's per-step
            # bookkeeping costs more than this whole update on small chain batches.
            m, v = torch.zeros_like(y, requires_grad=False), torch.zeros_like(y, requires_grad=False)
            b1, b2, eps = 0.9, 0.999, 1e-8
        else:
            base = self.p["step"] * self.width_ratio(domain) ** 2
        for t in range(steps):
            lr = base
            if self.p["schedule"] == "cosine":
                lr = 0.5 * base * (1 + math.cos(math.pi * t / max(1, steps)))
            with torch.enable_grad():
                _, grad = energy_and_grad(energy, y, clip)
            with torch.no_grad():
                if adam:
                    m.mul_(b1).add_(grad, alpha=1 - b1)
                    v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
                    denom = (v / (1 - b2 ** (t + 1))).sqrt_().add_(eps)
                    y.addcdiv_(m, denom, value=-lr / (1 - b1 ** (t + 1)))
                else:
                    y.sub_(grad, alpha=lr)
                if lo is not None:
                    y.clamp_(min=lo, max=hi)
        with torch.no_grad():
            final = energy(y.detach())
        stats = {"grad_evals": float(steps * init.shape[0]), "temperature": 0.0, "energy": float(final.mean())}
        return ebmbench.SampleResult(y.detach(), stats)


@ebmbench.hookimpl
def ebmbench_register_samplers(register):
    register(Langevin)
    register(AnnealedLangevin)
    register(GradientDescent)
