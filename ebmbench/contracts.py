"""The five contracts a plugin implements: Task, Model, Method, Sampler, Metric.

Each is a small class with class-level metadata (read by `ebmbench list` without
running anything) and one or two methods that do the science. This module never
imports torch: listing the catalog and `--help` must stay fast (llm #732).

Conventions every implementation follows:

* tensors are `float32`, batch first; `y` is what the energy scores, `x` the
  condition of a conditional task (None for unconditional tasks);
* an energy module is a `torch.nn.Module` whose `forward(y, x=None)` returns one
  energy per row, shape `[B]` (lower = more compatible);
* every random draw takes the `torch.Generator` it is handed — never the global RNG.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Literal

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch

    from ebmbench.context import EvalContext, TrainContext
    from ebmbench.profiles import Profile

__all__ = [
    "Param",
    "Component",
    "Split",
    "TaskData",
    "Task",
    "Model",
    "Method",
    "SampleResult",
    "Sampler",
    "Metric",
    "KINDS",
]

TaskKind = Literal["unconditional", "conditional"]


@dataclass(frozen=True)
class Param:
    """A user-settable hyperparameter, e.g. `-M "pcd[steps=20]"`.

    Bounds of numbers are inclusive unless `low_open`/`high_open` say otherwise: a
    noise scale or a step size is `low=0, low_open=True` (0 is meaningless, not just
    small). A float is finite unless `finite=False`, or unless its default is itself
    infinite (`beta=inf` meaning the zero-temperature limit): inf and nan are never
    meant for a step size or a learning rate, and would only show up as a diverged cell.
    """

    default: Any
    help: str = ""
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: the value must be > low
    high_open: bool = False  # True: the value must be < high
    finite: bool | None = None  # floats; None: finite unless the default is infinite

    @property
    def type(self) -> type:
        return type(self.default)

    @property
    def allows_inf(self) -> bool:
        """Whether inf (or -inf) is an allowed value; never for ints, bools and strings."""
        if self.type is not float:
            return False
        return self.finite is False or (self.finite is None and math.isinf(self.default))

    def describe(self) -> str:
        """What is allowed, in interval notation: `float in (0, inf)`, `int in [1, inf]`."""
        if self.choices:
            return "one of " + ", ".join(map(str, self.choices))
        if self.low is None and self.high is None:
            finite = self.type is float and not self.allows_inf
            return f"{self.type.__name__} (finite)" if finite else self.type.__name__
        # an unbounded side is open when inf itself is not allowed: [0, inf) for a finite float
        unbounded_open = self.type is float and not self.allows_inf
        lo = "-inf" if self.low is None else f"{self.low:g}" if isinstance(self.low, float) else str(self.low)
        hi = "inf" if self.high is None else f"{self.high:g}" if isinstance(self.high, float) else str(self.high)
        left = "(" if self.low_open or (self.low is None and unbounded_open) else "["
        right = ")" if self.high_open or (self.high is None and unbounded_open) else "]"
        return f"{self.type.__name__} in {left}{lo}, {hi}{right}"

    def violation(self, value: float) -> str | None:
        """None if the number `value` is allowed, else what is wrong with it (for the message)."""
        if math.isnan(value):
            return "not a number"
        if math.isinf(value) and not self.allows_inf:
            return "not finite"
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return "too small"
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            return "too large"
        return None


class Component:
    """Shared metadata of every registered entry."""

    name: ClassVar[str]
    summary: ClassVar[str] = ""  # one line, shown by `ebmbench list`
    reference: ClassVar[str] = ""  # the paper or formula it follows
    params: ClassVar[dict[str, Param]] = {}

    def __init__(self, **params: Any) -> None:
        # Values were validated by ebmbench.params; defaults fill the rest.
        values = {k: p.default for k, p in self.params.items()}
        values.update(params)
        self.p: dict[str, Any] = values

    def __repr__(self) -> str:
        args = ",".join(f"{k}={v}" for k, v in self.p.items())
        return f"{self.name}[{args}]"


# ----------------------------------------------------------------------------- tasks
@dataclass
class Split:
    """One data split. `x` is the condition (None for unconditional tasks)."""

    y: "torch.Tensor"
    x: "torch.Tensor | None" = None

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def to(self, device: Any) -> "Split":
        return Split(self.y.to(device), None if self.x is None else self.x.to(device))


@dataclass
class TaskData:
    train: Split
    val: Split
    test: Split

    def to(self, device: Any) -> "TaskData":
        return TaskData(self.train.to(device), self.val.to(device), self.test.to(device))


class Task(Component):
    """A data distribution with train/val/test splits and optional ground truth.

    `ground_truth` names what the task can answer exactly:
    * "log_density": `log_density(y)` is the exact normalised log-density;
    * "sampler": `sample(n, generator, x)` draws fresh points from the true law;
    * "support_distance": `support_distance(y, x)` is the distance of `y` to the
      true support (e.g. the true curve of y given x).
    """

    kind: ClassVar[TaskKind] = "unconditional"
    dim: ClassVar[int]  # dimension of y
    x_dim: ClassVar[int] = 0  # dimension of x (conditional tasks)
    domain: ClassVar[tuple[tuple[float, float], ...]]  # bounds of y, per coordinate
    main_metric: ClassVar[str]
    # 2-4 metrics a reader compares beside the main one; `ebmbench show` and `run` print
    # these columns (most important first) and keep the rest for `show --all-columns`,
    # so a leaderboard fits an 80-column terminal or CI log. Names of registered metrics.
    headline_metrics: ClassVar[tuple[str, ...]] = ()
    ground_truth: ClassVar[frozenset[str]] = frozenset()
    tags: ClassVar[frozenset[str]] = frozenset()

    def sample(self, n: int, generator: "torch.Generator", x: "torch.Tensor | None" = None) -> Split:
        """n i.i.d. draws from the true distribution (for conditional tasks, of (x, y))."""
        raise NotImplementedError

    def make(self, profile: "Profile", generator: "torch.Generator") -> TaskData:
        """The splits for one repetition; sizes come from the budget profile."""
        return TaskData(
            train=self.sample(profile.n_train, generator),
            val=self.sample(profile.n_val, generator),
            test=self.sample(profile.n_test, generator),
        )

    def log_density(self, y: "torch.Tensor", x: "torch.Tensor | None" = None) -> "torch.Tensor":
        raise NotImplementedError(f"task {self.name} has no exact log-density")

    def support_distance(self, y: "torch.Tensor", x: "torch.Tensor | None" = None) -> "torch.Tensor":
        raise NotImplementedError(f"task {self.name} has no support distance")


# ---------------------------------------------------------------------------- models
class Model(Component):
    """Builds an energy module for a task.

    `family` is what methods match on ("neural" nets trained by gradients on any
    loss; "prototype" models such as K-means whose structure limits low energy).
    Latent-variable modules also implement `latent_energy(y, z, x=None)` and
    `free_energy(y, x=None, beta=math.inf)` (F∞ for beta = inf, Fβ otherwise).
    """

    family: ClassVar[str] = "neural"
    kinds: ClassVar[frozenset[str]] = frozenset({"unconditional", "conditional"})
    latent: ClassVar[bool] = False

    def compatible(self, task: Task) -> str | None:
        """None if this model can score `task`, else the reason it cannot."""
        if task.kind not in self.kinds:
            return f"model {self.name} supports {'/'.join(sorted(self.kinds))} tasks, {task.name} is {task.kind}"
        return None

    def build(self, task: Task, data: TaskData, generator: "torch.Generator") -> "torch.nn.Module":
        raise NotImplementedError


# --------------------------------------------------------------------------- methods
class Method(Component):
    """Trains an energy module on a task within the profile's budget."""

    family: ClassVar[Literal["contrastive", "architectural"]]
    model_families: ClassVar[frozenset[str]] = frozenset({"neural"})
    task_kinds: ClassVar[frozenset[str]] = frozenset({"unconditional", "conditional"})

    def compatible(self, model: Model, task: Task) -> str | None:
        """None if the pair can run, else the reason it is skipped."""
        if model.family not in self.model_families:
            allowed = "/".join(sorted(self.model_families))
            return f"method {self.name} trains {allowed} models, {model.name} is {model.family}"
        if task.kind not in self.task_kinds:
            return f"method {self.name} supports {'/'.join(sorted(self.task_kinds))} tasks, {task.name} is {task.kind}"
        return None

    def train(self, model: "torch.nn.Module", data: TaskData, ctx: "TrainContext") -> None:
        raise NotImplementedError

    def sampler(self) -> tuple[str | None, dict[str, Any]]:
        """The sampler (name, params) used to draw this model's samples for evaluation.

        Methods whose training fixes a temperature (e.g. PCD's Langevin settings)
        override this so evaluation samples the distribution the method learned. The
        default, None, is the loaded sampler that declares `default_for_evaluation`
        (built in: langevin); the contexts resolve it (`ctx.eval_sampler()`).
        """
        return None, {}


# -------------------------------------------------------------------------- samplers
@dataclass
class SampleResult:
    samples: "torch.Tensor"
    stats: dict[str, float] = field(default_factory=dict)  # grad_evals, acceptance, ...


EnergyFn = Callable[["torch.Tensor"], "torch.Tensor"]


class Sampler(Component):
    """Draws approximate samples of `exp(-E/T)` starting from `init`."""

    # the sampler of methods that do not choose one (Method.sampler() -> None); exactly one
    # loaded sampler declares it on its own class (a subclass does not inherit the role)
    default_for_evaluation: ClassVar[bool] = False

    def sample(
        self,
        energy: EnergyFn,
        init: "torch.Tensor",
        generator: "torch.Generator",
        *,
        domain: "torch.Tensor | None" = None,  # [dim, 2] bounds for optional clamping
    ) -> SampleResult:
        raise NotImplementedError


# --------------------------------------------------------------------------- metrics
class Metric(Component):
    """A number computed on a trained model; `direction` says which way is better."""

    # "none" marks a reported quantity that is not ranked (a fitted beta, a temperature)
    direction: ClassVar[Literal["higher", "lower", "none"]]
    task_kinds: ClassVar[frozenset[str]] = frozenset({"unconditional", "conditional"})
    requires: ClassVar[frozenset[str]] = frozenset()  # ground truth the task must offer
    max_dim: ClassVar[float] = math.inf  # e.g. 2 for grid metrics
    # `ebmbench compare`'s band for this metric, (relative, absolute): a change smaller than
    # max(absolute, relative * |baseline mean|) is never a regression. None: the command's
    # --rel-tol/--abs-tol. Declare it where a relative band means nothing (values near 0).
    tolerance: ClassVar[tuple[float, float] | None] = None
    # measured on the validation split during training when `run` is not given
    # --curve-metric (held-out curves); cheap, ranked metrics only
    curve_probe: ClassVar[bool] = False

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "higher"

    def applies_to(self, task: Task) -> str | None:
        """None if the metric is defined on `task`, else why not."""
        if task.kind not in self.task_kinds:
            return f"needs a {'/'.join(sorted(self.task_kinds))} task"
        missing = self.requires - task.ground_truth
        if missing:
            return f"needs ground truth {', '.join(sorted(missing))}"
        if task.dim > self.max_dim:
            return f"defined for dimension <= {self.max_dim:g}"
        return None

    def compute(self, ctx: "EvalContext") -> float:
        raise NotImplementedError


KINDS: dict[str, type[Component]] = {
    "tasks": Task,
    "models": Model,
    "methods": Method,
    "samplers": Sampler,
    "metrics": Metric,
}
