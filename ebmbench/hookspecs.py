"""The hook specification: one hook per kind of entry, each handed a `register` callback.

A plugin module implements any of these with `@ebmbench.hookimpl` and calls
`register(SomeClass)` once per entry; the core validates the class, records its
provider and source hash, and rejects duplicate names. Executors (where cells run)
and suites (which cells CI tracks) are registered the same way as the science.
"""

import pluggy

__all__ = ["hookspec", "hookimpl", "PROJECT", "KIND_OF_HOOK", "PLUGIN_API_VERSION"]

PROJECT = "ebmbench"
# The plugin API's version: the hooks here and the contracts (ebmbench.contracts). A plugin
# module may declare the version it was written for as `EBMBENCH_PLUGIN_API = 1`; a
# different one fails that plugin with one line (`ebmbench plugins` shows both). Raised
# when a hook or contract changes in a way that breaks existing plugins.
PLUGIN_API_VERSION = 1
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def ebmbench_register_tasks(register):
    """Register Task subclasses: `register(MyTask)`."""


@hookspec
def ebmbench_register_models(register):
    """Register Model subclasses (energy-module builders)."""


@hookspec
def ebmbench_register_methods(register):
    """Register Method subclasses (training methods)."""


@hookspec
def ebmbench_register_samplers(register):
    """Register Sampler subclasses."""


@hookspec
def ebmbench_register_metrics(register):
    """Register Metric subclasses."""


@hookspec
def ebmbench_register_executors(register):
    """Register Executor subclasses (where and how cells run: `--executor NAME`)."""


@hookspec
def ebmbench_register_suites(register):
    """Register Suite subclasses (named selections of cells: `run --suite NAME`)."""


KIND_OF_HOOK = {
    "ebmbench_register_tasks": "tasks",
    "ebmbench_register_models": "models",
    "ebmbench_register_methods": "methods",
    "ebmbench_register_samplers": "samplers",
    "ebmbench_register_metrics": "metrics",
    "ebmbench_register_executors": "executors",
    "ebmbench_register_suites": "suites",
}
