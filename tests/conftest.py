"""Shared fixtures: a clean plugin environment and one small real run (see support.py)."""

from __future__ import annotations

import os

import pytest

from support import ENV_VARS, SMOKE, invoke, only_run


def pytest_configure(config):
    """Under pytest-xdist (`-n N`) the N workers share the cores: each gets its share of
    torch's and the BLAS libraries' threads (threadpoolctl: numpy's OpenBLAS is loaded
    by now, with the count of OMP_NUM_THREADS), and so do the processes its tests start.
    N workers at the machine's full thread count would oversubscribe it and spin in
    OpenMP barriers."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 0)
    if workers > 1:
        import torch
        from threadpoolctl import threadpool_limits

        share = max(1, (os.cpu_count() or 1) // workers)
        os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = str(share)
        torch.set_num_threads(share)
        threadpool_limits(limits=share)


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
