"""Known-good and known-bad inputs of the conformance kit.

A metric's direction is checked on two evaluation contexts of one task: a *perfect*
model and a *poor* one. Perfect is the task's exact energy `-log p(y | x)` when it has
the `log_density` ground truth, else a Gaussian kernel density estimate of the training
data (close to the truth at the smoke profile's 2000 points, and defined for any
task); its samples are true samples (fresh ones from the task's sampler, else held-out
training rows), so no MCMC runs and the check costs little. Poor is the same model moved
off the data: every `y` coordinate shifted by 30 % of its domain width, cyclically (what
leaves one side of the domain re-enters on the other, so the poor model's mass stays in
the domain and uniform noise is as likely under it as under the perfect one), and for a
conditional task the condition reflected about its mean (the answer to another
question), with samples moved alike. Any metric whose direction is right ranks the
perfect context above the poor one.
"""

from __future__ import annotations

import math
from typing import Any

from ebmbench.contracts import Method, SampleResult

__all__ = ["KitMethod", "reference_energy", "reference_context", "gaussian_target", "micro_profile", "SHIFT"]

SHIFT = 0.3  # fraction of each domain width by which the poor model is moved
KDE_POINTS = 256  # kernel centres: enough for the smoke-profile checks, cheap in 64-D


class KitMethod(Method):
    """The method an evaluation context names: evaluation samples with the default sampler."""

    name = "conformance-kit"
    family = "contrastive"


def micro_profile():
    """The smoke profile with 4 optimiser steps and no curve probes: enough to see a method
    train, log, stay deterministic and keep off the global RNG, in a fraction of a second."""
    import dataclasses

    from ebmbench.profiles import get_profile

    return dataclasses.replace(get_profile("smoke"), train_steps=4, curve_probes=0)


def _module(fn):
    import torch

    class Energy(torch.nn.Module):
        def forward(self, y, x=None):
            return fn(y, x)

    return Energy()


def reference_energy(task, data, poor: bool):
    """The perfect (poor=False) or poor energy module of `task` (see the module doc)."""
    import torch

    domain = torch.tensor(task.domain, dtype=torch.float32, device=data.train.y.device)
    x_mean = None if data.train.x is None else data.train.x.mean(0)

    def moved(y, x):
        if not poor:
            return y, x
        if x is not None:
            x = 2 * x_mean - x  # the answer to another condition
        return cyclic_shift(y, domain, -SHIFT), x

    if "log_density" in task.ground_truth:
        return _module(lambda y, x=None: -task.log_density(*moved(y, x)).float())
    centres = data.train.y[:KDE_POINTS].double()
    cx = None if data.train.x is None else data.train.x[:KDE_POINTS].double()
    joint = centres if cx is None else torch.cat([centres, cx], 1)
    n, d = joint.shape
    h = float(joint.std(0).mean().clamp_min(1e-3)) * n ** (-1 / (d + 4))  # Scott's rule

    squared_norms = joint.pow(2).sum(1)

    def kde(y, x=None):
        y, x = moved(y, x)
        u = y.double() if cx is None else torch.cat([y.double(), x.double()], 1)
        # |u - c|^2 = |u|^2 - 2 u.c + |c|^2: one matmul (with a fast backward: inference
        # metrics differentiate this energy at every descent step) instead of a [B, n, d]
        # tensor of differences, which cost 18.5 of the 21.5 s of arc_coverage on horn;
        # float64 keeps the cancellation error ~1e-16 of the squared norms
        sq = (u.pow(2).sum(1, keepdim=True) - 2 * u @ joint.T + squared_norms).clamp_min(0)
        log_p = torch.logsumexp(-sq / (2 * h * h), 1) - math.log(n) - d / 2 * math.log(2 * math.pi * h * h)
        return (-log_p).float()

    return _module(kde)


def cyclic_shift(y, domain, fraction: float):
    """y moved by `fraction` of each domain width, wrapped around into the domain."""
    import torch

    lo, width = domain[:, 0], domain[:, 1] - domain[:, 0]
    return lo + torch.remainder(y - lo + fraction * width, width)


def _true_samples(task, data, n: int, generator) -> tuple[Any, Any]:
    """(y, x) of n true draws: fresh from the task when it has a sampler, else held-out rows."""
    if task.kind == "conditional":
        x = data.test.x[:n]
        if "sampler" in task.ground_truth:
            return task.sample(x.shape[0], generator, x=x).y, x
        return data.test.y[:n], x
    if "sampler" in task.ground_truth:
        return task.sample(n, generator).y, None
    return data.train.y[-n:], None


def reference_context(registry, task, data, profile, seed: int, poor: bool, device: str = "cpu"):
    """An EvalContext holding the perfect or poor model, its samples already in the cache."""
    from ebmbench.context import EvalContext
    from ebmbench.seeding import derive_seed, make_generator

    model = reference_energy(task, data, poor).to(device).eval()
    ctx = EvalContext(registry, task, profile, seed, device, model=model, data=data, method=KitMethod())
    y, x = _true_samples(task, data, profile.n_samples, make_generator(derive_seed(seed, "kit-samples"), device))
    if poor:
        y = cyclic_shift(y, ctx.domain(), SHIFT)
    # stand-in samples: no sampler ran, so cost statistics are nominal
    ctx.cache["samples"] = SampleResult(y.float().detach(), {"grad_evals": 0.0, "time_s": 1.0})
    ctx.cache["samples_x"] = x
    return ctx


def gaussian_target(dim: int = 2):
    """E(y) = ||y||^2 / 2 (a standard normal at T = 1) as samplers receive energies: a
    callable carrying `.module` and `.x`, like EvalContext.energy_fn."""
    module = _module(lambda y, x=None: 0.5 * y.pow(2).sum(1))

    def generate(n, generator, beta=None):  # its generative story (GenerativeModule): N(0, I / beta)
        import torch

        scale = (1.0 if beta is None else beta) ** -0.5
        return torch.randn(n, dim, generator=generator, device=generator.device) * scale

    module.generate = generate

    def energy(y):
        return module(y)

    energy.module, energy.x = module, None
    return energy
