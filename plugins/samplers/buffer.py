"""A replay buffer of persistent chains, usable with any sampler (docs/science.md §2, PCD).

Tieleman (2008) keeps the negative chains alive between parameter updates; Du &
Mordatch (2019) store ~10k past samples and restart 5 % of each batch from noise, so
the buffer keeps exploring while most chains continue where they stopped. Here:

    draw = buffer.draw(n, g)        # n distinct slots, a `reinit` fraction restarted
    y = sampler.sample(E, draw.y, g, domain=...).samples
    buffer.push(draw, y)            # write back, update chain ages

or `buffer.run(sampler, energy_of, n, g, domain)` for the three lines at once.
Conditional tasks store the condition x of every chain next to its y: a chain of y
keeps running at the x it started with; a restarted chain takes its x from the
caller (the current data batch). `age` counts the sampler runs a chain has been
through since its last (re)start — a training diagnostic (stale chains are old).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ebmbench.lazy import lazy_import

torch = lazy_import("torch")

__all__ = ["ReplayBuffer", "BufferDraw"]


@dataclass
class BufferDraw:
    y: torch.Tensor  # chain starts [n, dim]
    x: torch.Tensor | None  # their conditions (conditional tasks)
    slots: torch.Tensor  # buffer rows they came from / go back to
    restart: torch.Tensor  # bool [n]: started from fresh noise


class ReplayBuffer:
    """Persistent chains: `size` stored states, a `reinit` fraction restarted per draw.

    `init(n, generator) -> Tensor[n, dim]` makes fresh starting points (e.g. uniform
    noise on the task domain, `TrainContext.uniform`). `x` (optional, [size, x_dim])
    are the stored conditions of a conditional task.
    """

    def __init__(
        self, init: Callable, size: int, generator: torch.Generator, reinit: float = 0.05, x: torch.Tensor | None = None
    ):
        if not 0.0 <= reinit <= 1.0:
            raise ValueError(f"reinit must be in [0, 1], got {reinit}")
        if x is not None and x.shape[0] != size:
            raise ValueError(f"x has {x.shape[0]} rows for a buffer of size {size}")
        self.init = init
        self.reinit = float(reinit)
        self.y = init(size, generator).detach().clone()
        self.x = None if x is None else x.detach().clone()
        self.age = torch.zeros(size, device=self.y.device)

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def mean_age(self) -> float:
        return float(self.age.mean())

    def draw(self, n: int, generator: torch.Generator, x: torch.Tensor | None = None) -> BufferDraw:
        """n chain starts from distinct slots; restarted ones are fresh noise (and take x).

        With more requests than slots (n > size) slots repeat, and the last write wins.
        """
        size = len(self)
        dev = self.y.device
        if n <= size:
            slots = torch.randperm(size, generator=generator, device=dev)[:n]
        else:
            slots = torch.randint(0, size, (n,), generator=generator, device=dev)
        restart = torch.rand(n, generator=generator, device=dev) < self.reinit
        y0 = self.y[slots]
        if bool(restart.any()):
            y0 = torch.where(restart[:, None], self.init(n, generator), y0)
        x0 = None
        if self.x is not None:
            x0 = self.x[slots]
            if x is not None:
                x0 = torch.where(restart[:, None], x, x0)
        return BufferDraw(y0, x0, slots, restart)

    def push(self, draw: BufferDraw, y: torch.Tensor) -> None:
        """Store the chains' new states and count one more run for each."""
        with torch.no_grad():
            self.y[draw.slots] = y.detach()
            if self.x is not None and draw.x is not None:
                self.x[draw.slots] = draw.x
            self.age[draw.slots] = torch.where(draw.restart, 1.0, self.age[draw.slots] + 1)

    def run(
        self,
        sampler,
        energy_of: Callable,
        n: int,
        generator: torch.Generator,
        domain=None,
        x: torch.Tensor | None = None,
    ):
        """Draw n chains, advance them with `sampler`, store them; returns (SampleResult, draw).

        `energy_of(x) -> (y -> E(y, x))` builds the sampler's energy for the chains'
        conditions (x is None on unconditional tasks).
        """
        draw = self.draw(n, generator, x)
        result = sampler.sample(energy_of(draw.x), draw.y, generator, domain=domain)
        self.push(draw, result.samples)
        return result, draw
