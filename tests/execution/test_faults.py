"""Fault injection through the real CLI: each fault costs its own cell (the right status
and one line of reason), the healthy cell beside it is `done`, and nothing a plugin
started outlives the run. Faults live in tests/fixtures/faults/faults.py, loaded with
--plugins-dir exactly as a user's plugin file would be.
"""

from __future__ import annotations

import os
import time

import pytest
from support import FAULTS_DIR, FIXTURES, invoke, only_run, wait_gone

from ebmbench.results.runs import load_results

FAST = ("--metric", "energy_gap", "--curve-metric", "none")
BASE = (
    "-t",
    "8gaussians",
    "-m",
    "kmeans",
    "--profile",
    "smoke",
    "--seeds",
    "1",
    "--no-report",
    "--plugins-dir",
    FAULTS_DIR,
    *FAST,
)


def rows(out):
    return load_results(only_run(out)).set_index("method")


def test_timeout_kills_the_plugins_children_too(tmp_path):
    """A child that ignores SIGTERM dies with its worker's process group at the timeout."""
    env = {"EBMBENCH_FAULT_DIR": str(tmp_path)}
    r = invoke("run", *BASE, "-M", "fault_child,kmeans", "-j", "1", "--timeout", "3", "--out", tmp_path / "o", env=env)
    df = rows(tmp_path / "o")
    assert df.loc["fault_child", "status"] == "timeout"
    assert df.loc["fault_child", "reason"] == "exceeded the 3 s timeout and was killed"
    assert df.loc["fault_child", "peak_mem_mb"] > 10  # sampled by the parent while the cell ran
    assert df.loc["kmeans", "status"] == "done"
    pids = [int(p) for p in (tmp_path / "pids").read_text().split()]
    assert len(pids) == 2 and wait_gone(pids) == []
    assert r.exit_code == 0


def test_memory_over_the_limit_is_an_error_and_the_run_goes_on(tmp_path):
    r = invoke(
        "run",
        *BASE,
        "-M",
        "fault_memory,kmeans",
        "-j",
        "1",
        "--max-memory",
        "0.8",
        "--timeout",
        "60",
        "--out",
        tmp_path,
    )
    df = rows(tmp_path)
    assert df.loc["fault_memory", "status"] == "error"
    assert df.loc["fault_memory", "reason"].startswith("out of memory (limit 0.8 GB")
    assert df.loc["kmeans", "status"] == "done"  # on a replacement worker
    assert r.exit_code == 1


@pytest.mark.parametrize(
    "method, expected",
    [
        ("fault_segfault", "signal 11, SIGSEGV: a segmentation fault in native code"),
        ("fault_sigkill", "signal 9, SIGKILL: killed from outside the worker; often the kernel's out-of-memory killer"),
    ],
)
def test_native_crashes_name_the_signal(tmp_path, method, expected):
    r = invoke("run", *BASE, "-M", f"{method},kmeans", "-j", "1", "--out", tmp_path)
    df = rows(tmp_path)
    assert df.loc[method, "status"] == "error"
    assert expected in df.loc[method, "reason"] and "\n" not in df.loc[method, "reason"]
    assert df.loc["kmeans", "status"] == "done"
    assert r.exit_code == 1


def test_a_worker_that_hangs_before_ready_meets_the_startup_deadline(tmp_path):
    env = {"EBMBENCH_FAULT_HANG_START": "1"}
    t0 = time.monotonic()
    r = invoke(
        "run",
        *BASE,
        "-M",
        "kmeans",
        "-j",
        "1",
        "--timeout",
        "5",
        "--startup-timeout",
        "3",
        "--plugins-dir",
        FIXTURES / "slowstart",
        "--out",
        tmp_path,
        env=env,
    )
    assert time.monotonic() - t0 < 60
    df = rows(tmp_path)
    assert df.loc["kmeans", "status"] == "error"
    assert df.loc["kmeans", "reason"].startswith("worker did not start within 3 s")
    assert r.exit_code == 1


def test_unwritable_out_is_one_line_and_exit_2(tmp_path):
    r = invoke("run", *BASE, "-M", "kmeans", "--out", "/proc/ebmbench-cannot-write-here")
    assert r.exit_code == 2, (r.output, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ebmbench: error: --out: cannot create"), r.stderr


def test_disk_full_marks_the_run_failed_and_keeps_written_rows(tmp_path, monkeypatch):
    """ENOSPC on the third parquet write: the cells stored before it stay readable."""
    import errno

    import pyarrow.parquet as pq

    from ebmbench.results.runs import load_meta

    real_write = pq.write_table
    calls = {"n": 0}

    def write_table(table, where, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] >= 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(table, where, *args, **kwargs)

    monkeypatch.setattr(pq, "write_table", write_table)
    r = invoke("run", *BASE, "-M", "kmeans,fault_nan,fault_raise", "-j", "1", "--out", tmp_path)
    assert r.exit_code == 1, (r.output, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "No space left on device" in lines[0] and "marked failed" in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    run_dir = only_run(tmp_path)
    meta = load_meta(run_dir)
    assert meta["status"] == "failed" and "No space left on device" in meta["failure"]
    assert len(load_results(run_dir)) >= 1  # what was written before the failure


@pytest.mark.slow  # a LocalCluster, and a Dask worker lost twice
def test_dask_worker_lost_twice_is_an_error_after_one_retry(tmp_path):
    pytest.importorskip("distributed")
    env = {"EBMBENCH_FAULT_KILL_PARENT": "1"}
    r = invoke(
        "run", *BASE, "-M", "fault_kill_parent,kmeans", "-j", "2", "--executor", "dask", "--out", tmp_path, env=env
    )
    df = rows(tmp_path)
    assert df.loc["fault_kill_parent", "status"] == "error"
    assert df.loc["fault_kill_parent", "reason"] == "dask: the Dask worker running it died twice (retried once)"
    assert df.loc["kmeans", "status"] == "done"
    assert r.exit_code == 1
    assert os.environ.get("EBMBENCH_FAULT_KILL_PARENT") is None
