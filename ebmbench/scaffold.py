"""`ebmbench new-plugin NAME --kind KIND`: write a plugin package that works as written.

The package has the `ebmbench` entry point in its pyproject, one example entry of the
chosen kind (ebmbench.scaffold_templates), a closed-form test of it, the conformance
kit's one-line test, and a README. Bad input is a UsageError (one line, exit 2): a name
that is not a distribution name that imports as a package, or a target that exists.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from ebmbench.errors import UsageError
from ebmbench.scaffold_templates import CONFORMANCE_TEST, ENTRY_BASE, MODULES, PYPROJECT, README, TESTS

__all__ = ["KINDS", "new_plugin", "package_name"]

KINDS = tuple(ENTRY_BASE)  # task, model, method, sampler, metric
# a distribution name whose import name (dashes -> underscores) is a Python identifier and
# whose entry names satisfy ebmbench's naming rule (lowercase, see docs/plugins.md §9.1)
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")

RUN_LINES = {
    "task": "ebmbench run -t $entry -m mlp -M nce --profile smoke --seeds 1",
    "model": "ebmbench run -t 8gaussians -m $entry -M nce --profile smoke --seeds 1",
    "method": "ebmbench run -t 8gaussians -m mlp -M $entry --profile smoke --seeds 1",
    "sampler": 'ebmbench run -t 8gaussians -m mlp -M "short_run" --profile smoke --seeds 1  # a method picks samplers',
    "metric": "ebmbench run -t 8gaussians -m mlp -M nce --profile smoke --seeds 1 --metric $entry",
}


def package_name(name: str) -> str:
    return name.replace("-", "_")


def entry_name(name: str, kind: str) -> str:
    """The example's registered name, prefixed with the package: names are global per kind."""
    return f"{package_name(name)}_{ENTRY_BASE[kind]}"


def _check(name: str, kind: str, target: Path) -> None:
    if not NAME_RE.match(name):
        raise UsageError(
            f"invalid plugin name {name!r}: use lowercase letters, digits and single - or _ "
            "between them, starting with a letter (e.g. ebm-banana)"
        )
    if kind not in KINDS:
        raise UsageError(f"--kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if target.exists():
        raise UsageError(f"{target} already exists: choose another name or --out")


def new_plugin(name: str, kind: str = "task", out: str | Path = ".") -> Path:
    """Write the package `out/NAME` and return its folder."""
    target = Path(out) / name
    _check(name, kind, target)
    pkg, entry = package_name(name), entry_name(name, kind)
    values = {"dist": name, "pkg": pkg, "kind": kind, "entry": entry}
    values["run_line"] = Template(RUN_LINES[kind]).substitute(values)
    files = {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        f"src/{pkg}/__init__.py": '"""$dist: an ebmbench plugin package."""\n',
        f"src/{pkg}/{kind}.py": MODULES[kind],
        "tests/test_conformance.py": CONFORMANCE_TEST,
        f"tests/test_{kind}.py": TESTS[kind],
    }
    try:
        for rel, text in files.items():
            path = target / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(Template(text).substitute(values))
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target
