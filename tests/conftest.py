"""Shared fixtures: a clean plugin environment and one small real run (see support.py)."""

from __future__ import annotations

import pytest

from support import ENV_VARS, SMOKE, invoke, only_run


@pytest.fixture(autouse=True)
def _clean_plugin_env(monkeypatch):
    """A developer's own EBMBENCH_* settings must not change what the tests load."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """One real run of the smoke cell through the CLI: (click result, run folder)."""
    out = tmp_path_factory.mktemp("smoke-run")
    result = invoke("run", *SMOKE, "--out", out)
    assert result.exit_code == 0, (result.output, result.stderr, result.exception)
    return result, only_run(out)
