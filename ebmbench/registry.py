"""Plugin discovery and the registry of tasks, models, methods, samplers and metrics.

Loading order: entry points of group `ebmbench` (those of the ebmbench distribution
itself, the built-ins, first), then `.py` files of the plugins directories, then
plugin objects handed in by code (tests). Each plugin is imported, registered and
validated on its own: a failure marks that plugin `failed` and the rest loads
(pluggy's `load_setuptools_entrypoints` would let one broken plugin crash all).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import inspect
import math
import os
import re
import sys
import traceback
import types
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from ebmbench import hookspecs
from ebmbench.contracts import KINDS as SCIENCE_KINDS
from ebmbench.contract_checks import ContractError, check_entry
from ebmbench.contracts import Component, Method, Metric, Sampler, Task
from ebmbench.executor_api import Executor
from ebmbench.errors import PluginLoadError, UsageError, unknown_name
from ebmbench.suite_api import Suite

__all__ = [
    "LoadConfig",
    "PluginInfo",
    "Entry",
    "Registry",
    "load_registry",
    "KINDS",
    "source_hash",
    "source_files",
    "source_modules",
    "report_metadata",
]

KINDS = {**SCIENCE_KINDS, "executors": Executor, "suites": Suite}

# Result columns owned by the core; a metric may not shadow them.
# (ebmbench.results.schema.ResultRow's fields; a test keeps the two in step)
RESERVED = {
    "run_id",
    "cell_id",
    "cell_key",
    "cached_from",
    "task",
    "model",
    "method",
    "model_params",
    "method_params",
    "task_params",
    "metric_errors",
    "label",
    "rep",
    "seed",
    "data_seed",
    "profile",
    "device",
    "status",
    "reason",
    "traceback",
    "train_time_s",
    "eval_time_s",
    "peak_mem_mb",
    "grad_evals",
    "wall_time_s",
}


@dataclass
class LoadConfig:
    """What to load; the CLI fills it from flags and environment variables."""

    disabled: tuple[str, ...] = ()
    plugins_dirs: tuple[str, ...] = ()
    strict: bool = False

    @classmethod
    def from_env(cls, disabled=(), plugins_dirs=(), strict=False) -> "LoadConfig":
        env_disabled = [s.strip() for s in os.environ.get("EBMBENCH_DISABLE_PLUGINS", "").split(",")]
        env_dirs = [d for d in os.environ.get("EBMBENCH_PLUGINS_DIR", "").split(os.pathsep) if d]
        env_strict = os.environ.get("EBMBENCH_STRICT_PLUGINS", "").lower() in {"1", "true", "yes"}
        return cls(
            disabled=tuple(dict.fromkeys([*disabled, *(d for d in env_disabled if d)])),
            plugins_dirs=tuple(dict.fromkeys([*plugins_dirs, *env_dirs])),
            strict=strict or env_strict,
        )


@dataclass
class PluginInfo:
    name: str
    module: str
    dist: str | None = None
    version: str | None = None
    status: str = "loaded"  # loaded | failed | blocked
    error: str | None = None
    api_version: int | None = None  # the module's EBMBENCH_PLUGIN_API, if it declares one
    attempted: list[str] = field(default_factory=list)  # "kind:name" it tried to register, if it failed
    hooks: list[str] = field(default_factory=list)
    entries: list[str] = field(default_factory=list)  # "kind:name"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Entry:
    kind: str
    name: str
    cls: type[Component]
    plugin: str
    dist: str | None
    version: str | None
    source_hash: str

    def make(self, **params: Any) -> Component:
        return self.cls(**params)

    def describe(self) -> dict[str, Any]:
        """What `ebmbench list` shows; metadata only, nothing is run."""
        c = self.cls
        info: dict[str, Any] = {"name": self.name, "summary": c.summary}
        if issubclass(c, Task):
            info.update(
                kind=c.kind,
                dim=c.dim,
                x_dim=c.x_dim,
                domain=[list(b) for b in c.domain],
                main_metric=c.main_metric,
                headline_metrics=list(c.headline_metrics),
                ground_truth=sorted(c.ground_truth),
                tags=sorted(c.tags),
                image_shape=list(c.image_shape) if c.image_shape else None,
            )
        elif self.kind == "models":
            info.update(family=c.family, task_kinds=sorted(c.kinds), latent=c.latent)
            info.update(inverse_temperature_param=c.inverse_temperature_param)
        elif issubclass(c, Method):
            info.update(family=c.family, model_families=sorted(c.model_families), task_kinds=sorted(c.task_kinds))
            info.update(inverse_temperature_param=c.inverse_temperature_param)
        elif issubclass(c, Metric):
            info.update(direction=c.direction, task_kinds=sorted(c.task_kinds), requires=sorted(c.requires))
            info.update(
                max_dim=c.max_dim if math.isfinite(c.max_dim) else None,  # JSON has no inf
                tolerance=list(c.tolerance) if c.tolerance else None,
                curve_probe=c.curve_probe,
                unbiased_nonnegative=c.unbiased_nonnegative,
                sampling_cost_per_sample=c.sampling_cost_per_sample,
            )
        elif issubclass(c, Sampler):
            info.update(default_for_evaluation="default_for_evaluation" in vars(c) and c.default_for_evaluation)
        elif issubclass(c, Suite):
            spec = c.to_json()
            info.update(suite_version=spec["version"], profile=spec["profile"], metrics=spec["metrics"])
            info.update(groups=spec["groups"])
        info["params"] = {
            k: {"default": p.default, "allowed": p.describe(), "help": p.help} for k, p in c.params.items()
        }
        info.update(
            reference=c.reference,
            plugin=self.plugin,
            dist=self.dist,
            version=self.version,
            source_hash=self.source_hash,
        )
        return info


def _dependency_modules(module: types.ModuleType) -> list[types.ModuleType]:
    """`module` and every module of the same top-level package it reaches through its
    globals (imported modules, functions, classes), transitively: the plugin's own
    helper modules, whose edits change its numbers as much as edits of its own file."""
    top = module.__name__.split(".")[0]
    seen: dict[str, types.ModuleType] = {}
    stack = [module]
    while stack:
        mod = stack.pop()
        if mod.__name__ in seen:
            continue
        seen[mod.__name__] = mod
        for value in list(vars(mod).values()):
            # type() only, never isinstance() or attribute access on an unknown value: a
            # lazily imported module (ebmbench.lazy) would import itself when touched
            kind = type(value)
            if kind is types.ModuleType:
                name = value.__name__
            elif kind is types.FunctionType or issubclass(kind, type):
                name = getattr(value, "__module__", None)
            else:
                continue
            if name and name.split(".")[0] == top and name not in seen and name in sys.modules:
                stack.append(sys.modules[name])
    return [seen[n] for n in sorted(seen)]


def source_modules(obj: Any) -> list[types.ModuleType]:
    """The imported modules whose source decides `obj`'s behaviour: its own and its package helpers."""
    module = sys.modules.get(getattr(obj, "__module__", ""))
    return [m for m in _dependency_modules(module) if getattr(m, "__file__", None)] if module else []


def _static_imports(name: str, path: Path, top: str) -> frozenset[str]:
    """Modules of package `top` that the file imports anywhere, also inside functions
    (`from mypkg.models._nets import MLP` inside a `build` method), read from
    its syntax tree: nothing is imported to find them. Parsed once per file version."""
    try:
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        return frozenset()
    return _parsed_imports(name, path, top, stamp)


@functools.lru_cache(maxsize=4096)
def _parsed_imports(name: str, path: Path, top: str, stamp: tuple[int, int]) -> frozenset[str]:
    import ast

    try:
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return frozenset()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}".rstrip(".") if base else parent
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)  # `from pkg import submodule`
    return frozenset(m for m in found if m.split(".")[0] == top)


def _attrs(module: Any) -> dict[str, Any]:
    """A module's namespace without touching its attributes: a lazily imported module
    (ebmbench.lazy) would otherwise run, and import torch, on the first access."""
    return object.__getattribute__(module, "__dict__")


def _module_file(name: str) -> Path | None:
    """The source file of a module, without executing it: find_spec imports the parent
    packages only, so a name whose parent is a plain module (`pkg.helper.Class`) is
    not looked up at all (that would run `pkg.helper`, and the torch it imports)."""
    parent = name.rpartition(".")[0]
    if parent and parent not in sys.modules:
        parent_file = _module_file(parent)
        if parent_file is None or parent_file.name != "__init__.py":
            return None
    elif parent and "__path__" not in _attrs(sys.modules[parent]):
        return None  # the parent is a module, not a package: `name` is an attribute of it
    module = sys.modules.get(name)
    if module is not None:
        file = _attrs(module).get("__file__")
        return Path(file) if file else None
    try:
        spec = importlib.util.find_spec(name)  # imports parent packages, never the module itself
    except (ImportError, ValueError, AttributeError):
        return None
    return Path(spec.origin) if spec is not None and spec.origin and spec.has_location else None


def source_files(obj: Any) -> list[tuple[str, Path]]:
    """(module name, file) of every module whose source decides `obj`'s behaviour: its
    own, the helpers of its package it reaches through its globals, and those any of
    these imports anywhere in its code (a helper imported inside a function counts as
    much as one imported at the top), transitively; sorted by name."""
    module = sys.modules.get(getattr(obj, "__module__", ""))
    if module is None:
        return []
    top = module.__name__.split(".")[0]
    files = {m.__name__: Path(m.__file__) for m in source_modules(obj)}
    stack = list(files)
    while stack:
        name = stack.pop()
        for dep in _static_imports(name, files[name], top):
            if dep not in files and (path := _module_file(dep)) is not None and path.suffix == ".py":
                files[dep] = path
                stack.append(dep)
    return sorted(files.items())


def source_hash(obj: Any) -> str:
    """sha256 over (module name, NUL, source bytes) of `source_files(obj)`. It is part of
    every cell key (the cache) and of each run's provenance, so editing the plugin's file
    or any helper module it uses invalidates exactly its cells."""
    digest = hashlib.sha256()
    files = source_files(obj)
    for name, path in files:
        try:
            digest.update(name.encode() + b"\0" + path.read_bytes())
        except OSError:
            digest.update(name.encode())
    if not files:
        try:
            digest.update(inspect.getsource(obj).encode())
        except (TypeError, OSError):
            digest.update(getattr(obj, "__qualname__", repr(obj)).encode())
    return digest.hexdigest()[:16]


def _validate(kind: str, cls: Any) -> str:
    """Return the entry's name, or raise ValueError (a ContractError: one line naming the
    entry and the field) saying what is wrong; ebmbench.contract_checks has the rules."""
    name = check_entry(kind, cls, KINDS[kind], RESERVED)
    if kind == "suites" and (problems := cls.problems()):
        raise ValueError(f"suite {name!r}: {'; '.join(problems)}")
    return name


def report_metadata(kind: str, cls: type) -> dict[str, Any]:
    """The class metadata a report draws by, recorded per entry in run.json: a method's
    family (groups and colours) and a model's (an oracle's rows are every metric's
    floor), a model's or method's inverse-temperature parameter (the
    Fβ sweep; the key is always present for these kinds, so a report can tell "declares
    none" from "recorded before the field existed"), a task's image shape (galleries),
    whether a metric is an unbiased estimate of a non-negative quantity (notes below 0)
    and whether it is the evaluation sampler's cost per sample (the cost figure)."""
    out: dict[str, Any] = {}
    if kind in ("methods", "models") and getattr(cls, "family", None):
        out["family"] = str(cls.family)  # models: the oracle's floor rows (summary.floor_labels)
    if kind in ("models", "methods"):
        out["inverse_temperature_param"] = getattr(cls, "inverse_temperature_param", None)
    if kind == "tasks" and getattr(cls, "image_shape", None):
        out["image_shape"] = [int(v) for v in cls.image_shape]
    for flag in ("unbiased_nonnegative", "sampling_cost_per_sample"):  # recorded where declared
        if kind == "metrics" and getattr(cls, flag, False):
            out[flag] = True
    return out


class Registry:
    """The loaded catalog: entries by kind and name, plus every plugin's status."""

    def __init__(
        self,
        config: LoadConfig,
        plugins: list[PluginInfo],
        entries: dict[str, dict[str, Entry]],
        clashes: dict[str, dict[str, list[str]]] | None = None,
    ):
        self.config = config
        self.plugins = plugins
        self.entries = entries
        # kind -> name -> the plugins that both register it: their entries are kept under
        # qualified names ("plugin:name") and the bare name is ambiguous, never a silent winner
        self.clashes = clashes or {k: {} for k in KINDS}

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries[kind])

    def get(self, kind: str, name: str) -> Entry:
        """An entry by its name, or by its qualified name `plugin:name` (always accepted)."""
        entries = self.entries[kind]
        if name in entries:
            return entries[name]
        providers = self.clashes.get(kind, {}).get(name)
        if providers:
            options = " or ".join(f"{p}:{name}" for p in providers)
            raise UsageError(f"ambiguous {kind[:-1]} {name!r}: {options}")
        plugin, _, bare = name.rpartition(":")
        if plugin and bare in entries and entries[bare].plugin == plugin:
            return entries[bare]
        for p in self.plugins:  # the name of an entry whose plugin did not load
            if p.status == "failed" and f"{kind}:{name}" in p.attempted:
                raise UsageError(f"{kind[:-1]} {name!r} belongs to plugin {p.name!r}, which failed to load: {p.error}")
        raise unknown_name(kind, name, entries)

    def make(self, kind: str, name: str, **params: Any) -> Component:
        from ebmbench.params import validate_params

        entry = self.get(kind, name)
        return entry.make(**validate_params(entry, params))

    def default_sampler(self) -> str:
        """The sampler that declares `default_for_evaluation` on its own class: the one
        evaluation uses for methods that do not choose theirs. Raises RuntimeError (the
        metric that needs samples then fails alone) when none or several do."""
        found = [n for n, e in sorted(self.entries["samplers"].items()) if e.cls.__dict__.get("default_for_evaluation")]
        if len(found) == 1:
            return found[0]
        if not found:
            raise RuntimeError(
                "no loaded sampler declares default_for_evaluation (is its plugin blocked?); "
                "the method must choose one in Method.sampler()"
            )
        raise RuntimeError(f"several samplers declare default_for_evaluation: {', '.join(found)}")

    def task_problems(self) -> list[str]:
        """What makes a task's leaderboard mean less than it says, one line each: a main or
        headline metric that no loaded plugin provides, one without a direction (it cannot
        rank), or one that does not apply to the task (e.g. a domain beyond the fixed grid).
        Checked once every plugin has loaded (a task may name another plugin's metric)."""
        import difflib

        metrics = self.entries["metrics"]
        found: dict[tuple[str, str], list[str]] = {}  # (provider, problem) -> tasks: one line each
        for name, entry in sorted(self.entries["tasks"].items()):
            out = found.setdefault
            try:
                task = entry.make()
            except Exception as exc:  # noqa: BLE001 - a task that cannot be built says so once
                out((_provider(entry), f"cannot be built with its defaults: {_short_error(exc)}"), []).append(name)
                continue
            declared = [("main_metric", getattr(entry.cls, "main_metric", None))]
            declared += [("headline_metrics", m) for m in getattr(entry.cls, "headline_metrics", ())]
            for field_name, metric in declared:
                if metric not in metrics:
                    close = difflib.get_close_matches(str(metric), list(metrics), n=1, cutoff=0.6)
                    hint = f"; did you mean {close[0]!r}?" if close else " (its plugin may be blocked or failed)"
                    out((_provider(entry), f"{field_name} {metric!r} is not a loaded metric{hint}"), []).append(name)
                    continue
                cls = metrics[metric].cls
                if field_name == "main_metric" and cls.direction not in ("higher", "lower"):
                    problem = f"main_metric {metric!r} has no direction: it cannot rank the methods"
                    out((_provider(entry), problem), []).append(name)
                reason = cls().applies_to(task)
                if reason:
                    out((_provider(entry), f"{field_name} {metric!r} does not apply: {reason}"), []).append(name)
        return [
            f"task{'s' * (len(tasks) > 1)} {', '.join(tasks)} ({provider}): {problem}"
            for (provider, problem), tasks in found.items()
        ]

    def provenance(self) -> dict[str, Any]:
        """Who provides each entry, plus the metadata the report reads from run.json so that it
        never needs the plugins (nor guesses from a name): report_metadata."""
        return {
            "plugins": [p.to_json() for p in self.plugins],
            "entries": {
                k: {
                    n: {"plugin": e.plugin, "dist": e.dist, "version": e.version, "source_hash": e.source_hash}
                    | report_metadata(k, e.cls)
                    for n, e in v.items()
                }
                for k, v in self.entries.items()
            },
        }


# ------------------------------------------------------------------------ loading
def _entry_points() -> list[importlib.metadata.EntryPoint]:
    eps = list(importlib.metadata.entry_points(group=hookspecs.PROJECT))
    # Built-ins first, then third parties by name: a stable, documented order.
    seen: dict[tuple[str, str], importlib.metadata.EntryPoint] = {}
    for ep in sorted(eps, key=lambda e: (getattr(e.dist, "name", "") != "ebmbench", e.name)):
        # An editable + regular install lists a distribution's entry point twice; the
        # same name from another distribution is a clash to report, not to drop.
        seen.setdefault((getattr(ep.dist, "name", ""), ep.name), ep)
    return list(seen.values())


def _import_file(path: Path) -> Any:
    mod_name = "ebmbench_local_" + re.sub(r"\W", "_", path.stem)
    spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(mod_name, None)
        raise
    return module


def _hook_namespace(plugin: Any) -> Any:
    """For a module, a namespace of its plain functions only.

    pluggy inspects every attribute of a plugin; on a module that would touch the
    lazily imported torch (see ebmbench.lazy) and import it. `type()` does not.
    """
    if not isinstance(plugin, types.ModuleType):
        return plugin
    funcs = {k: v for k, v in vars(plugin).items() if type(v) is types.FunctionType}
    return types.SimpleNamespace(__name__=plugin.__name__, __file__=getattr(plugin, "__file__", None), **funcs)


def _short_error(exc: BaseException) -> str:
    if isinstance(exc, ContractError):  # already one line naming the entry and the field
        return str(exc).splitlines()[0]
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


class _Loader:
    def __init__(self, config: LoadConfig):
        self.config = config
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: list[PluginInfo] = []
        self.entries: dict[str, dict[str, Entry]] = {k: {} for k in KINDS}
        self.clashes: dict[str, dict[str, list[str]]] = {k: {} for k in KINDS}

    def fail(self, info: PluginInfo, exc: BaseException | str) -> None:
        info.status = "failed"
        info.error = exc if isinstance(exc, str) else _short_error(exc)
        if self.config.strict:
            raise PluginLoadError(f"plugin {info.name!r} failed: {info.error}")

    def add(self, info: PluginInfo, load) -> None:
        self.plugins.append(info)
        if info.name in self.config.disabled:
            info.status = "blocked"
            return
        if any(p.name == info.name and p is not info for p in self.plugins):
            return self.fail(info, f"a plugin named {info.name!r} is already loaded")
        try:
            module = load()
            declared = getattr(module, "EBMBENCH_PLUGIN_API", None)
            info.api_version = declared if isinstance(declared, int) else None
            if declared is not None and declared != hookspecs.PLUGIN_API_VERSION:
                return self.fail(
                    info,
                    f"written for plugin API {declared!r}; this ebmbench {_version()} speaks "
                    f"plugin API {hookspecs.PLUGIN_API_VERSION}",
                )
            plugin = _hook_namespace(module)
            self.pm.register(plugin, name=info.name)
        except Exception as exc:  # a broken plugin costs only itself
            return self.fail(info, exc)
        try:
            self.pm.check_pending()  # a misspelled hook name is an error, not silence
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(name=info.name)
            return self.fail(info, str(exc))
        info.hooks = sorted(
            impl_name
            for impl_name in hookspecs.KIND_OF_HOOK
            if any(i.plugin_name == info.name for i in getattr(self.pm.hook, impl_name).get_hookimpls())
        )
        self.register_entries(info, plugin)

    def register_entries(self, info: PluginInfo, plugin: Any) -> None:
        staged: list[Entry] = []
        attempted: list[str] = []  # names a failing plugin tried: "did you mean" can point at it
        for hook_name in info.hooks:
            kind = hookspecs.KIND_OF_HOOK[hook_name]
            impl = next(i for i in getattr(self.pm.hook, hook_name).get_hookimpls() if i.plugin_name == info.name)

            def register(cls, _kind=kind):
                attempted.append(f"{_kind}:{getattr(cls, 'name', '?')}")
                name = _validate(_kind, cls)
                staged.append(Entry(_kind, name, cls, info.name, info.dist, info.version, source_hash(cls)))

            try:
                impl.function(register=register)
            except Exception as exc:
                self.pm.unregister(name=info.name)
                info.attempted = attempted
                return self.fail(info, exc)
        # Commit all of a plugin's entries or none of them: a name twice in one plugin is its bug.
        for e in staged:
            twin = next((s for s in staged if s is not e and s.kind == e.kind and s.name == e.name), None)
            other = self.entries[e.kind].get(e.name) or twin
            if twin is not None or (other is not None and self.config.strict):
                self.pm.unregister(name=info.name)
                return self.fail(
                    info, f"{e.kind[:-1]} {e.name!r} is registered by both {_provider(other)} and {_provider(e)}"
                )
        for e in staged:
            self._commit(e)
        info.entries = [f"{e.kind}:{e.name}" for e in staged]

    def _commit(self, e: Entry) -> None:
        """Add an entry; a name another plugin already has is kept by both, each under its
        qualified name `plugin:name`, and the bare name becomes ambiguous (Registry.get)."""
        import dataclasses

        entries, clashes = self.entries[e.kind], self.clashes[e.kind]
        if e.name not in entries and e.name not in clashes:
            entries[e.name] = e
            return
        if e.name in entries:  # the first provider moves to its qualified name
            first = entries.pop(e.name)
            entries[f"{first.plugin}:{first.name}"] = dataclasses.replace(first, name=f"{first.plugin}:{first.name}")
            clashes[e.name] = [first.plugin]
        clashes[e.name].append(e.plugin)
        entries[f"{e.plugin}:{e.name}"] = dataclasses.replace(e, name=f"{e.plugin}:{e.name}")


def _version() -> str:
    from ebmbench._version import __version__

    return __version__


def _provider(e: Entry) -> str:
    dist = f"{e.dist} {e.version}" if e.dist else "local file"
    return f"plugin {e.plugin!r} ({dist})"


def load_registry(config: LoadConfig | None = None, extra_plugins: tuple[tuple[str, Any], ...] = ()) -> Registry:
    """Load every plugin; `extra_plugins` are (name, object) pairs added last (tests)."""
    config = config or LoadConfig.from_env()
    loader = _Loader(config)
    for ep in _entry_points():
        dist = ep.dist
        info = PluginInfo(ep.name, ep.value, getattr(dist, "name", None), getattr(dist, "version", None))
        loader.add(info, ep.load)
    for folder in config.plugins_dirs:
        root = Path(folder)
        if not root.is_dir():
            from ebmbench.errors import UsageError

            raise UsageError(f"plugins directory {folder!r} does not exist")
        for path in sorted(root.glob("*.py")):
            if path.name.startswith("_"):
                continue
            loader.add(PluginInfo(path.stem, str(path)), lambda p=path: _import_file(p))
    for name, obj in extra_plugins:
        loader.add(PluginInfo(name, getattr(obj, "__name__", repr(obj))), lambda o=obj: o)
    return Registry(config, loader.plugins, loader.entries, loader.clashes)


def format_exception(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))
