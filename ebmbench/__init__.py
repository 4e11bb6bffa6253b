"""ebmbench: a benchmark suite for training methods of energy-based models.

The public plugin API lives here; importing it does not import torch.
"""

from ebmbench._version import __version__
from ebmbench.context import Diverged, EvalContext, TrainContext, batched_energy
from ebmbench.contracts import (
    Component,
    Method,
    Metric,
    Model,
    Param,
    Sampler,
    SampleResult,
    Split,
    Task,
    TaskData,
)
from ebmbench.hookspecs import PLUGIN_API_VERSION, hookimpl
from ebmbench.profiles import Profile
from ebmbench.suite_api import Suite, SuiteGroup

__all__ = [
    "__version__",
    "hookimpl",
    "PLUGIN_API_VERSION",
    "Component",
    "Param",
    "Split",
    "TaskData",
    "Task",
    "Model",
    "Method",
    "Sampler",
    "SampleResult",
    "Metric",
    "Profile",
    "Suite",
    "SuiteGroup",
    "TrainContext",
    "EvalContext",
    "Diverged",
    "batched_energy",
]


def __getattr__(name: str):
    """`ebmbench.run` and `ebmbench.load` (ebmbench.api), imported on first use: the API
    sits on top of the command line, and importing ebmbench stays light for plugins."""
    if name in ("run", "load"):
        import importlib

        return getattr(importlib.import_module("ebmbench.api"), name)
    raise AttributeError(f"module 'ebmbench' has no attribute {name!r}")
