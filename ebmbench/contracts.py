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

The vocabularies of the metadata (ground-truth kinds, task kinds, model and method
families, metric directions, sampler stats, training-curve names) are defined here as
`Literal` types with a documented meaning per word; `ebmbench.contract_checks` checks
every registered class against them (and the types of its class attributes) when its
plugin registers it, so a typo fails the plugin with one line instead of silently
matching nothing later. The `Protocol`s say what a plugin's objects must offer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Literal, Protocol, TypedDict, get_args, runtime_checkable

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
    # vocabularies
    "TaskKind",
    "TASK_KINDS",
    "GroundTruth",
    "GROUND_TRUTH",
    "MethodFamily",
    "METHOD_FAMILIES",
    "ModelFamily",
    "MODEL_FAMILIES",
    "Direction",
    "DIRECTIONS",
    "SamplerStats",
    "SAMPLER_STATS",
    "stats_problems",
    "CurveName",
    "CURVE_NAMES",
    "CORE_CURVES",
    "PROBE_PREFIX",
    # what a plugin's objects offer
    "EnergyModule",
    "LatentEnergyModule",
    "GenerativeModule",
    "EnergyFn",
]

# --------------------------------------------------------------------- vocabularies
# Each vocabulary is a Literal (for type checkers and IDEs) plus a dict word -> meaning
# (for the docs, `ebmbench list` and the registration checks); a test keeps them in step.

TaskKind = Literal["unconditional", "conditional"]
TASK_KINDS: dict[str, str] = {
    "unconditional": "the energy scores y alone; x is None",
    "conditional": "the energy scores y given a condition x (x_dim >= 1 columns per row)",
}

# Closed for the core's own uses, open for plugins: a task may declare a new kind and a
# metric require it (both lowercase identifiers), but a near-miss of a word below is
# refused at registration as the typo it almost always is ("log_densty").
GroundTruth = Literal[
    "log_density",
    "sampler",
    "support_distance",
    "reference_density",
    "labels",
    "mode_curve",
    "modes",
    "conditional_quadrature",
    "mixture",
]
GROUND_TRUTH: dict[str, str] = {
    "log_density": "log_density(y, x=None) -> [B]: the exact normalised log-density",
    "sampler": "sample(n, generator, x=None) -> Split: fresh draws from the true law, any n",
    "support_distance": "support_distance(y, x=None) -> [B]: distance of y to the true support of y | x",
    "reference_density": "reference_log_density(y, x=None) -> [B]: a reference log-density (exact where known, "
    "else estimated on the grid)",
    "labels": "y is a one-hot class; labels(y) -> [B] gives the class (n_classes attribute, else dim classes)",
    "mode_curve": "conditional_curve(x, n_points=256) -> [B, n_points, dim]: the noise-free curve of answers of x",
    "modes": "conditional_modes(x) -> [B, M, dim]: the true modes of y | x",
    "conditional_quadrature": "conditional_quadrature(x) -> (nodes [B, N, dim], log_weights [B, N]): a quadrature "
    "rule over the domain for each x, fine enough to resolve the true y | x (normalises exp(-F(x, .)))",
    "mixture": "mixture_components() -> (centres [K, dim], weights [K]): a mixture with known, separated modes",
}

# Closed: the report colours by it and readers compare within it. "baseline" is for
# reference estimators that are not EBM training methods (a KDE, a fitted Gaussian).
MethodFamily = Literal["contrastive", "architectural", "baseline"]
METHOD_FAMILIES: dict[str, str] = {
    "contrastive": "the loss pushes energy down on data and up elsewhere (MCMC ML, NCE, score matching, margins)",
    "architectural": "the model's structure limits the volume of low energy (K-means, PCA, sparse coding, GLO, RBM)",
    "baseline": "a reference density estimator, not an EBM training method (KDE, a fitted Gaussian)",
}

# Open: a new architecture with a special structure brings a new family (a lowercase
# identifier, `^[a-z][a-z0-9_]*$`) and the methods that know it; a near-miss of a
# built-in family is refused as a typo. A plain differentiable energy should be "neural".
ModelFamily = Literal[
    "neural", "prototype", "linear", "dictionary", "glo", "autoencoder", "rbm", "latent_grid", "oracle", "density"
]
MODEL_FAMILIES: dict[str, str] = {
    "neural": "any module trained by gradients on any loss (the default of models and methods)",
    "prototype": "an energy from the distance to K prototypes (K-means)",
    "linear": "the distance to a learnt linear subspace (PCA)",
    "dictionary": "a sparse-coding energy over a learnt dictionary of atoms",
    "glo": "E(y, z) = ||y - D(z)||^2 with a learnt generator D and a latent z on the sphere (GLO)",
    "autoencoder": "the reconstruction error of an encoder/decoder pair",
    "rbm": "a binary restricted Boltzmann machine: free energy over a bipartite hidden layer",
    "latent_grid": "E(x, y, z) with z on a fixed grid of K values; F = min (F_inf) or soft-min (F_beta) over z",
    "oracle": "the task's own -log p (exact or reference density): the floor of every metric; trained by nothing",
    "density": "a normalised density fitted in closed form by a baseline method (KDE, Gaussian)",
}

Direction = Literal["higher", "lower", "none"]
DIRECTIONS: dict[str, str] = {
    "higher": "higher values are better",
    "lower": "lower values are better",
    "none": "reported, never ranked (a fitted temperature, an acceptance rate)",
}


class SamplerStats(TypedDict, total=False):
    """`SampleResult.stats`: floats, all optional except `grad_evals`; other keys are the
    sampler's own diagnostics (SAMPLER_STATS lists the ones with a shared meaning)."""

    grad_evals: float
    acceptance: float
    temperature: float
    time_s: float
    energy_evals: float


SAMPLER_STATS: dict[str, str] = {
    "grad_evals": "energy-gradient evaluations over all chains (steps x B for ULA; 0.0 when gradient-free); required",
    "acceptance": "Metropolis acceptance rate in [0, 1]",
    "temperature": "the temperature T of exp(-E/T) actually sampled (>= 0)",
    "time_s": "sampler wall time in seconds; set by the core in EvalContext.samples(), not by samplers",
    "energy_evals": "energy evaluations without gradient over all chains",
}


def stats_problems(stats: Any) -> list[str]:
    """What is wrong with a sampler's `SampleResult.stats` (empty when nothing): a dict of
    str -> float, `grad_evals` present and >= 0, the shared keys within their ranges."""
    if not isinstance(stats, dict):
        return [f"stats must be a dict of str -> float, got {type(stats).__name__}"]
    out = []
    for key, value in stats.items():
        if not isinstance(key, str):
            out.append(f"stats key {key!r} is not a str")
        elif isinstance(value, bool) or not isinstance(value, int | float):
            out.append(f"stats[{key!r}] must be a float, got {type(value).__name__}")
    if "grad_evals" not in stats:
        out.append("stats lacks 'grad_evals' (0.0 for a gradient-free sampler)")
    ranges = {"grad_evals": (0, math.inf), "acceptance": (0, 1), "temperature": (0, math.inf), "time_s": (0, math.inf)}
    for key, (lo, hi) in ranges.items():
        value = stats.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value):
            if not lo <= value <= hi:
                out.append(f"stats[{key!r}] = {value!r} is outside [{lo}, {hi}]")
    return out


# Training-curve names (`TrainContext.log`) that mean the same for every method: the
# report draws CORE_CURVES as large panels, after the held-out curves of the curve-probe
# metrics (`PROBE_PREFIX + metric name`, e.g. val_<metric>); every other name is the
# method's own diagnostic, drawn small.
CurveName = Literal["loss", "energy_gap", "grad_norm", "noise_gap"]
CURVE_NAMES: dict[str, str] = {
    "loss": "the method's own objective (compare shapes across methods, not levels)",
    "energy_gap": "mean energy of the method's negatives minus that of the data (or the noise gap)",
    "grad_norm": "norm of the parameter gradient",
    "noise_gap": "ctx.noise_gap: mean energy of uniform noise on the domain minus that of the data",
}
CORE_CURVES: tuple[CurveName, ...] = ("loss", "energy_gap", "grad_norm")
PROBE_PREFIX = "val_"  # curve name of a curve-probe metric: held out on the validation split


# ------------------------------------------------------------ what plugins' objects offer
@runtime_checkable
class EnergyModule(Protocol):
    """What `Model.build` returns: a `torch.nn.Module` whose `forward(y, x=None)` gives one
    energy per row, shape [B], lower = more compatible; every tensor it needs lives in its
    parameters or buffers (the core moves it with `.to(device)`)."""

    def forward(self, y: "torch.Tensor", x: "torch.Tensor | None" = None) -> "torch.Tensor": ...


@runtime_checkable
class LatentEnergyModule(EnergyModule, Protocol):
    """A latent-variable energy (`Model.latent = True`): E(y, z) and the free energy over z,
    F∞ (min over z) for beta = inf, Fβ = -1/β log ∫ exp(-β E(y, z)) dz otherwise."""

    def latent_energy(
        self, y: "torch.Tensor", z: "torch.Tensor", x: "torch.Tensor | None" = None
    ) -> "torch.Tensor": ...

    def free_energy(
        self, y: "torch.Tensor", x: "torch.Tensor | None" = None, beta: float = math.inf
    ) -> "torch.Tensor": ...


@runtime_checkable
class GenerativeModule(EnergyModule, Protocol):
    """An energy module that tells its generative story (the `decode` sampler's protocol):
    generate(n, generator, beta=None) -> [n, dim]: z from the model's latent prior, decoded,
    plus y | z ~ exp(-beta E(y, z)) normalised, at the model's own beta when None."""

    def generate(self, n: int, generator: "torch.Generator", beta: float | None = None) -> "torch.Tensor": ...


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
    # a str naming a registered entry of this kind ("samplers", ...), checked when the grid
    # is planned (a typo costs nothing); "" (the default value) means "none chosen"
    names: str | None = None

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
        if self.names:
            return f"the name of a registered {self.names[:-1]}"
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

    `ground_truth` names what the task can answer exactly, in the GROUND_TRUTH vocabulary
    (e.g. "log_density": `log_density(y)` is the exact normalised log-density); metrics
    `require` these words. `image_shape` = (rows, cols) says that y (or x and y together,
    x being the top rows) is an image: the report draws galleries of samples then.
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
    ground_truth: ClassVar[frozenset[GroundTruth | str]] = frozenset()
    tags: ClassVar[frozenset[str]] = frozenset()  # free lowercase labels; some metrics look for one
    # rows * cols == dim, or == dim + x_dim (x the top rows, y the rest, row-major)
    image_shape: ClassVar[tuple[int, int] | None] = None
    # the law's narrowest feature in data units (a mixture component's std, the noise
    # around a curve), or None: training samplers cap their step by it, since an
    # unadjusted Langevin step eps inflates a Gaussian of std l by 1 / (1 - eps / 2l^2)
    # in variance whatever the domain's width (docs/science.md §2)
    length_scale: ClassVar[float | None] = None

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

    `family` is what methods match on (MODEL_FAMILIES: "neural" nets trained by
    gradients on any loss; "prototype" models such as K-means whose structure limits
    low energy; ... or a new family of the plugin's own). `build` returns an
    EnergyModule; latent-variable modules (`latent = True`) are LatentEnergyModules.
    """

    family: ClassVar[ModelFamily | str] = "neural"
    kinds: ClassVar[frozenset[TaskKind]] = frozenset({"unconditional", "conditional"})
    latent: ClassVar[bool] = False
    # the float parameter that is the inverse temperature β of the free energy Fβ (inf:
    # F∞), if any: the report draws metrics against it when a run sweeps it
    inverse_temperature_param: ClassVar[str | None] = None

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

    family: ClassVar[MethodFamily]
    model_families: ClassVar[frozenset[ModelFamily | str]] = frozenset({"neural"})
    task_kinds: ClassVar[frozenset[TaskKind]] = frozenset({"unconditional", "conditional"})
    # as Model.inverse_temperature_param, for a method that sets the β it evaluates Fβ at
    inverse_temperature_param: ClassVar[str | None] = None

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
    stats: SamplerStats = field(default_factory=dict)  # grad_evals, acceptance, ...: SAMPLER_STATS


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
    direction: ClassVar[Direction]
    task_kinds: ClassVar[frozenset[TaskKind]] = frozenset({"unconditional", "conditional"})
    requires: ClassVar[frozenset[GroundTruth | str]] = frozenset()  # ground truth the task must offer
    max_dim: ClassVar[float] = math.inf  # e.g. 2 for grid metrics
    # `ebmbench compare`'s band for this metric, (relative, absolute): a change smaller than
    # max(absolute, relative * |baseline mean|) is never a regression. None: the command's
    # --rel-tol/--abs-tol. Declare it where a relative band means nothing (values near 0).
    tolerance: ClassVar[tuple[float, float] | None] = None
    # measured on the validation split during training when `run` is not given
    # --curve-metric (held-out curves); cheap, ranked metrics only
    curve_probe: ClassVar[bool] = False
    # an unbiased estimate of a quantity that is >= 0 (e.g. MMD²): a value below 0 is
    # estimator noise around a truth near 0, and the report says so beside it
    unbiased_nonnegative: ClassVar[bool] = False
    # the value is the evaluation sampler's energy-gradient evaluations per model sample:
    # the report's cost figure adds value x profile.n_samples to training's grad_evals
    sampling_cost_per_sample: ClassVar[bool] = False

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


# The Literals and the documented dicts must name the same words (checked on import: a
# word added to one and forgotten in the other would be undocumented or never accepted).
for _literal, _words in (
    (TaskKind, TASK_KINDS),
    (GroundTruth, GROUND_TRUTH),
    (MethodFamily, METHOD_FAMILIES),
    (ModelFamily, MODEL_FAMILIES),
    (Direction, DIRECTIONS),
    (CurveName, CURVE_NAMES),
):
    assert set(get_args(_literal)) == set(_words), (_literal, sorted(_words))
assert set(SamplerStats.__annotations__) == set(SAMPLER_STATS)
del _literal, _words
