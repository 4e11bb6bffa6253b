"""The core's layers import only downward, and no core module names a built-in plugin."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "ebmbench"

# lowest first: a module may import its own layer and the ones before it
LAYERS = [
    (
        "plugin API",
        (
            "ebmbench._version",
            "ebmbench.errors",
            "ebmbench.lazy",
            "ebmbench.seeding",
            "ebmbench.profiles",
            "ebmbench.params",
            "ebmbench.contracts",
            "ebmbench.hookspecs",
            "ebmbench.executor_api",
            "ebmbench.suite_api",
            "ebmbench.registry",
            "ebmbench.context",
            "ebmbench.cache",
            "ebmbench",
        ),
    ),
    ("execution", ("ebmbench.execution",)),
    ("results", ("ebmbench.results",)),
    ("orchestration", ("ebmbench.runner",)),
    (
        "presentation",
        (
            "ebmbench.show",
            "ebmbench.summary",
            "ebmbench.paired",
            "ebmbench.report",
            "ebmbench.compare_view",
            "ebmbench.catalog",
        ),
    ),
    # ebmbench.api (run, load) is the command line called in-process; the package root
    # re-exports it by name through a module __getattr__, without importing it. The
    # conformance kit (ebmbench.testing) drives cells like `run` does: a top-layer tool.
    (
        "cli",
        (
            "ebmbench.cli",
            "ebmbench.config",
            "ebmbench.__main__",
            "ebmbench.pytest_plugin",
            "ebmbench.api",
            "ebmbench.testing",
            "ebmbench.scaffold",
        ),
    ),
]


def layer_of(module: str) -> int:
    best = None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and (best is None or len(p) > best[1]):
                best = (i, len(p))
    assert best is not None, f"{module} is in no layer"
    return best[0]


def module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append(node.module)
    return out


def test_each_layer_imports_only_downward():
    upward = []
    for path in sorted(CORE.rglob("*.py")):
        mod = module_name(path)
        own = layer_of(mod)
        for imported in imports(path):
            if imported.startswith("ebmbench") and not imported.startswith("ebmbench_plugins"):
                if layer_of(imported) > own:
                    upward.append(f"{mod} ({LAYERS[own][0]}) imports {imported} ({LAYERS[layer_of(imported)][0]})")
    assert upward == []


def test_no_core_module_names_a_built_in_plugin():
    offenders = [str(p.relative_to(CORE)) for p in CORE.rglob("*.py") if "ebmbench_plugins" in p.read_text()]
    assert offenders == []


# core code that still names a built-in entry, with the change it needs (issue 12): the
# owners of these files remove them; the test fails on any new one
PENDING: set[tuple[str, str]] = set()


def _code_strings(path: Path):
    """String constants of a module's code: not docstrings, not its `__all__`."""
    tree = ast.parse(path.read_text())
    skip = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
        ):
            skip.add(id(body[0].value))  # a docstring
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            skip.update(id(n) for n in ast.walk(node.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node.value


def test_no_core_code_names_a_built_in_entry():
    """Built-in plugins get no privilege a third party cannot have: the core decides by
    declared metadata, never by an entry's name. Words of the contracts' vocabularies
    (a model family "linear", a curve "energy_gap") are not entry names here."""
    from ebmbench import contracts
    from ebmbench.registry import LoadConfig, load_registry

    registry = load_registry(LoadConfig())
    names = {n for kind in contracts.KINDS for n in registry.names(kind)}
    vocabulary = {*contracts.MODEL_FAMILIES, *contracts.SAMPLER_STATS, *contracts.CURVE_NAMES, *contracts.GROUND_TRUTH}
    found = {
        (str(path.relative_to(CORE)), s)
        for path in sorted(CORE.rglob("*.py"))
        for s in _code_strings(path)
        if s in names - vocabulary
    }
    assert found <= PENDING, sorted(found - PENDING)
