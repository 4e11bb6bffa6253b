"""Instruments of the conformance kit: global-RNG snapshots, a spying registry, equality.

A plugin must take every random draw from the generator it is handed (docs/plugins.md
§8.3). Whether it does is observable from outside: the global RNGs of torch, NumPy and
`random` must be in the same state after a call as before. The spy wraps the instances
a registry makes, so the real cell code (`run_cell`) can be watched call by call and a
touched RNG is blamed on the entry whose method touched it, not on the cell.
"""

from __future__ import annotations

import functools
import math
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "RngSnapshot",
    "rng_snapshot",
    "rng_restore",
    "rng_changes",
    "seed_global_rngs",
    "RngFinding",
    "SpyRegistry",
    "same_value",
]

# The methods of an entry that do the work, by kind; `build` may touch the global RNG
# (constructing an nn.Linear draws its default init, which a plugin then overwrites,
# §8.3), so it is watched for dependence (the same-seed repeat), not for touching.
WATCHED = {
    "tasks": ("make", "sample"),
    "methods": ("train",),
    "samplers": ("sample",),
    "metrics": ("compute",),
    "models": ("build",),
}
MAY_TOUCH = {("models", "build")}


@dataclass
class RngSnapshot:
    torch: Any
    numpy: Any
    python: Any
    cuda: Any = None
    modules: int = 0  # len(sys.modules): an import in between makes a comparison inconclusive


def rng_snapshot() -> RngSnapshot:
    import numpy as np
    import torch

    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    return RngSnapshot(torch.get_rng_state(), np.random.get_state(), random.getstate(), cuda, len(sys.modules))


def rng_restore(s: RngSnapshot) -> None:
    import numpy as np
    import torch

    torch.set_rng_state(s.torch)
    np.random.set_state(s.numpy)
    random.setstate(s.python)
    if s.cuda is not None:
        torch.cuda.set_rng_state_all(s.cuda)


def rng_changes(before: RngSnapshot, after: RngSnapshot) -> list[str]:
    """Which global RNGs moved between two snapshots ("torch", "numpy", "random", "cuda").

    Nothing, when a module was imported in between: some libraries draw from `random`
    when imported (sklearn.datasets does), which is no fault of the plugin that first
    imports them. Every check repeats its calls, and a repeat imports nothing new."""
    import torch

    if after.modules != before.modules:
        return []
    moved = []
    if not torch.equal(before.torch, after.torch):
        moved.append("torch")
    b, a = before.numpy, after.numpy
    if b[0] != a[0] or not (b[1] == a[1]).all() or b[2:] != a[2:]:
        moved.append("numpy")
    if before.python != after.python:
        moved.append("random")
    if before.cuda is not None and after.cuda is not None:
        if any(not torch.equal(x, y) for x, y in zip(before.cuda, after.cuda)):
            moved.append("cuda")
    return moved


def seed_global_rngs(seed: int) -> None:
    """Put every global RNG in a known state: a plugin that reads them would give other
    numbers under another seed, which is what the same-seed repeat looks for."""
    import numpy as np
    import torch

    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


@dataclass
class RngFinding:
    kind: str
    name: str
    method: str
    moved: list[str]

    def __str__(self) -> str:
        return f"{self.kind[:-1]} {self.name}.{self.method}() changed the global {'/'.join(self.moved)} RNG"


def guarded(kind: str, name: str, method: str, fn: Callable, findings: list[RngFinding]) -> Callable:
    """`fn` wrapped: a global RNG it moves is recorded and put back, so that an outer
    call (a method's train around its sampler) is not blamed for an inner one."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        before = rng_snapshot()
        try:
            return fn(*args, **kwargs)
        finally:
            moved = rng_changes(before, rng_snapshot())
            if moved:
                if (kind, method) not in MAY_TOUCH:
                    findings.append(RngFinding(kind, name, method, moved))
                rng_restore(before)

    return wrapper


@dataclass
class SpyRegistry:
    """A registry whose `make` hands out instances with guarded work methods. The
    contexts of a cell make their samplers through it too (`ctx.sampler`)."""

    registry: Any
    findings: list[RngFinding] = field(default_factory=list)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.registry, attr)

    def make(self, kind: str, name: str, **params: Any) -> Any:
        inst = self.registry.make(kind, name, **params)
        for method in WATCHED.get(kind, ()):
            setattr(inst, method, guarded(kind, name, method, getattr(inst, method), self.findings))
        return inst


def same_value(a: Any, b: Any) -> bool:
    """Bit-for-bit equality of results: tensors by `torch.equal`, floats with nan == nan,
    containers element by element."""
    import torch

    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)) or a.shape != b.shape:
            return False
        return bool(
            torch.equal(a, b)
            or (torch.isnan(a).eq(torch.isnan(b)).all() and torch.equal(a.nan_to_num(), b.nan_to_num()))
        )
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return a == b
