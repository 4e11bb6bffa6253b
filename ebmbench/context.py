"""What the core hands to a method while training and to a metric while evaluating.

The core owns seeding, devices, budgets and bookkeeping; these contexts are how a
plugin reaches them. Every generator given out is derived from the cell's seed and
a purpose string, so one metric's draws never depend on which others ran.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ebmbench.seeding import derive_seed, make_generator

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ebmbench.contracts import Method, SampleResult, Sampler, Task, TaskData
    from ebmbench.profiles import Profile
    from ebmbench.registry import Registry

__all__ = ["Diverged", "TrainContext", "EvalContext", "batched_energy"]


class Diverged(Exception):
    """Raised (by the core or a plugin) when training produced non-finite values."""


def _check_finite(where: str, values: dict[str, float]) -> None:
    bad = {k: v for k, v in values.items() if isinstance(v, float) and not math.isfinite(v)}
    if bad:
        raise Diverged(f"non-finite {', '.join(f'{k}={v}' for k, v in bad.items())} at {where}")


@dataclass
class _Base:
    registry: "Registry"
    task: "Task"
    profile: "Profile"
    seed: int
    device: str

    def generator(self, purpose: str) -> "torch.Generator":
        """A fresh generator for one purpose (e.g. "buffer-init"), on the cell's device."""
        return make_generator(derive_seed(self.seed, purpose), self.device)

    def sampler(self, name: str, **params: Any) -> "Sampler":
        return self.registry.make("samplers", name, **params)

    def domain(self) -> "torch.Tensor":
        import torch

        return torch.tensor(self.task.domain, dtype=torch.float32, device=self.device)

    def uniform(self, n: int, generator: "torch.Generator") -> "torch.Tensor":
        """n points uniform on the task's domain box."""
        import torch

        d = self.domain()
        u = torch.rand(n, d.shape[0], generator=generator, device=self.device)
        return d[:, 0] + u * (d[:, 1] - d[:, 0])


@dataclass
class TrainContext(_Base):
    """Given to `Method.train`: budget, generators, sampler factory and the curve log."""

    curve: list[dict[str, Any]] = field(default_factory=list)
    grad_evals: int = 0  # energy-gradient evaluations spent on sampling (a cost figure)
    # core-owned probe: held-out metrics measured at the first log call at or after each
    # step in probe_steps; its time is kept out of time_s and of the cell's train time
    probe: Callable[[], dict[str, float]] | None = None
    probe_steps: tuple[int, ...] = ()
    probe_time_s: float = 0.0
    _next_probe: int = 0
    _t0: float = field(default_factory=time.perf_counter)

    def log(self, step: int, **values: float) -> None:
        """Record one point of the training curve; non-finite values mean divergence."""
        clean = {k: float(v) for k, v in values.items()}
        row = {"step": int(step), "time_s": time.perf_counter() - self._t0, **clean}
        self.curve.append(row)  # kept even when non-finite: the report shows where it diverged
        _check_finite(f"step {step}", clean)
        due = [s for s in self.probe_steps[self._next_probe :] if s <= step]
        if self.probe is not None and due:
            t = time.perf_counter()
            row.update(self.probe())
            self._next_probe += len(due)  # probes a method's logging skipped over are not replayed
            spent = time.perf_counter() - t
            self.probe_time_s += spent
            self._t0 += spent

    def noise_gap(self, model, y: "torch.Tensor", x: "torch.Tensor | None" = None) -> float:
        """Mean energy of uniform noise on the domain minus mean energy of (x, y): a
        method-independent energy-gap diagnostic for the training curve."""
        noise = self.uniform(y.shape[0], self.generator(f"gap-{len(self.curve)}"))
        return float(batched_energy(model, noise, x).mean() - batched_energy(model, y, x).mean())

    def minibatch(self, n: int, size: int, generator: "torch.Generator") -> "torch.Tensor":
        """Indices of a minibatch drawn with replacement (cheap, and seed-exact)."""
        import torch

        return torch.randint(0, n, (size,), generator=generator, device=self.device)


def batched_energy(
    model: "torch.nn.Module", y: "torch.Tensor", x: "torch.Tensor | None" = None, chunk: int = 4096
) -> "torch.Tensor":
    """Energies of many points without building a graph, in bounded memory."""
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, y.shape[0], chunk):
            out.append(model(y[i : i + chunk], None if x is None else x[i : i + chunk]))
    return torch.cat(out) if out else torch.empty(0, device=y.device)


@dataclass
class EvalContext(_Base):
    """Given to `Metric.compute`: the trained model, the data, and shared cached draws."""

    model: "torch.nn.Module" = None
    data: "TaskData" = None
    method: "Method" = None
    cache: dict[str, Any] = field(default_factory=dict)

    def energy(self, y: "torch.Tensor", x: "torch.Tensor | None" = None) -> "torch.Tensor":
        return batched_energy(self.model, y, x)

    def eval_sampler(self) -> tuple[str, dict[str, Any]]:
        """(name, params) of the sampler that draws the method's evaluation samples: the
        method's choice (Method.sampler), else the registry's default sampler."""
        name, params = self.method.sampler()
        return (name if name is not None else self.registry.default_sampler()), dict(params)

    def energy_fn(self, x: "torch.Tensor | None" = None) -> Callable[["torch.Tensor"], "torch.Tensor"]:
        """y -> F(x, y) with x fixed (rows aligned), as samplers expect. The callable carries
        `.module` and `.x` so structure-aware samplers (block Gibbs in an RBM) can use them."""
        fn = lambda y: self.model(y, x)  # noqa: E731
        fn.module, fn.x = self.model, x
        return fn

    def samples(self) -> "SampleResult":
        """Model samples (cached): the method's sampler from uniform noise on the domain.

        Conditional tasks draw one y for each of the first n test conditions x.
        """
        if "samples" not in self.cache:
            name, params = self.eval_sampler()
            params = {"steps": self.profile.sampler_steps, **params}
            sampler = self.sampler(name, **params)
            g = self.generator("model-samples")
            x = None
            n = self.profile.n_samples
            if self.task.kind == "conditional":
                x = self.data.test.x[:n]
                n = x.shape[0]
            init = self.uniform(n, g)
            t0 = time.perf_counter()
            result = sampler.sample(self.energy_fn(x), init, g, domain=self.domain())
            result.stats["time_s"] = time.perf_counter() - t0  # for samples/s and ESS/s
            result.samples = result.samples.detach()
            self.cache["samples"] = result
            self.cache["samples_x"] = x
        return self.cache["samples"]
