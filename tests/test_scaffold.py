"""`ebmbench new-plugin`: the package it writes loads, registers and passes the conformance
kit for every kind (fast, in-process); installed into a fresh venv it is discovered, runs
and passes its own tests (slow: the round trip a plugin author makes)."""

from __future__ import annotations

import importlib.util
import json
import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

from support import assert_usage_error, invoke

from ebmbench.registry import LoadConfig, load_registry
from ebmbench.scaffold import KINDS, entry_name
from ebmbench.testing import Kit, KitConfig, run_case

PARTNERS = ("8gaussians", "mlp", "nce")


def _import(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # the source hash looks the module up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_registers_and_passes_the_kit(tmp_path, kind):
    name = f"ebm-scaf{kind}"
    result = invoke("new-plugin", name, "--kind", kind, "--dest", tmp_path)
    assert result.exit_code == 0, result.output
    pkg = name.replace("-", "_")
    root = tmp_path / name
    assert f'"{pkg}.{kind}" = "{pkg}.{kind}"' in (root / "pyproject.toml").read_text()
    assert "conformance_suite" in (root / "tests" / "test_conformance.py").read_text()
    module = _import(root / "src" / pkg / f"{kind}.py", f"{pkg}_{kind}_scaffold")
    registry = load_registry(LoadConfig(), extra_plugins=((f"{pkg}.{kind}", module),))
    assert entry_name(name, kind) in registry.names(f"{kind}s")
    kit = Kit(KitConfig(pkg, partners=PARTNERS), registry=registry)
    cases = [c for c in kit.cases() if not c.slow and not c.skip]
    assert cases and all(c.id.startswith(f"{kind}s:") for c in cases)
    for case in cases:
        run_case(case)  # raises with the check's message


def test_bad_name_and_existing_folder_are_usage_errors(tmp_path):
    assert_usage_error(invoke("new-plugin", "Bad Name", "--dest", tmp_path), "invalid plugin name")
    assert invoke("new-plugin", "ebm-twice", "--dest", tmp_path).exit_code == 0
    assert_usage_error(invoke("new-plugin", "ebm-twice", "--dest", tmp_path), "already exists")


def _venv(tmp_path: Path) -> Path:
    """A fresh venv that sees this environment's packages through a .pth file (installing
    torch into it would take minutes); the plugin is installed into the venv itself, by
    the parent's pip running under the venv's interpreter."""
    venv = tmp_path / "venv"
    # without its own pip and setuptools: the parent's (visible through the .pth file) build
    # the package, so a bundled old setuptools cannot shadow them
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    purelib = next((venv / "lib").glob("python*/site-packages"))
    parents = [p for p in [*site.getsitepackages(), site.getusersitepackages()] if os.path.isdir(p)]
    # addsitedir, not a bare path: the parent's own .pth files (an editable ebmbench) must run too
    (purelib / "_parent_env.pth").write_text("".join(f"import site; site.addsitedir({p!r})\n" for p in parents))
    return venv / "bin"


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["task", "method"])
def test_round_trip_in_a_fresh_venv(tmp_path, kind):
    name = f"ebm-trip{kind}"
    assert invoke("new-plugin", name, "--kind", kind, "--dest", tmp_path).exit_code == 0
    bin_ = _venv(tmp_path)
    env = {**os.environ, "PIP_NO_INDEX": "1", "PYTHONNOUSERSITE": "1"}  # offline: nothing is downloaded
    pip = [bin_ / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", tmp_path / name]
    subprocess.run(pip, check=True, env=env, cwd=tmp_path)
    ebmbench = [bin_ / "python", "-m", "ebmbench"]
    plugins = subprocess.run([*ebmbench, "plugins", "--json"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert plugins.returncode == 0, plugins.stderr
    mine = [p for p in json.loads(plugins.stdout) if p["name"] == f"{name.replace('-', '_')}.{kind}"]
    assert [(p["status"], p["dist"]) for p in mine] == [("loaded", name)], plugins.stdout
    entry = entry_name(name, kind)
    pick = {"task": ["-t", entry, "-m", "mlp", "-M", "nce"], "method": ["-t", "8gaussians", "-m", "mlp", "-M", entry]}
    run = [*ebmbench, "run", *pick[kind], "--profile", "smoke", "--seeds", "1", "--no-report", "--out", "res"]
    done = subprocess.run(run + ["--executor", "serial"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    tests = [bin_ / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", tmp_path / name / "tests"]
    own = subprocess.run(tests, capture_output=True, text=True, env=env, cwd=tmp_path / name)
    assert own.returncode == 0, own.stdout[-3000:] + own.stderr[-2000:]
