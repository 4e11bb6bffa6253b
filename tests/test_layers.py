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
        ("ebmbench.show", "ebmbench.summary", "ebmbench.report", "ebmbench.compare_view", "ebmbench.catalog"),
    ),
    # ebmbench.api (run, load) is the command line called in-process; the package root
    # re-exports it by name through a module __getattr__, without importing it
    ("cli", ("ebmbench.cli", "ebmbench.config", "ebmbench.__main__", "ebmbench.pytest_plugin", "ebmbench.api")),
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
