"""Signals to the main process, as an operator (timeout, CI cancel, docker stop, Slurm)
sends them: SIGTERM/SIGINT end the run cleanly, SIGKILL leaves a run that the next
command recognises as interrupted; either way, nothing keeps running and the run can
be continued without recomputing what finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import FAULTS_DIR, wait_gone

from ebmbench.results.runs import load_meta, load_results

pytestmark = pytest.mark.slow  # real subprocesses, several seconds of sleeping cells each

N_CELLS = 5
GRID = (
    "-t",
    "8gaussians",
    "-m",
    "kmeans",
    "-M",
    "fault_slow[seconds=1.5]",
    "--seeds",
    str(N_CELLS),
    "--profile",
    "smoke",
    "--no-report",
    "--plugins-dir",
    str(FAULTS_DIR),
    "--metric",
    "energy_gap",
    "--curve-metric",
    "none",
    "-j",
    "1",
)


def start(out: Path, trace: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "EBMBENCH_FAULT_DIR": str(trace)}
    return subprocess.Popen(
        [sys.executable, "-m", "ebmbench.cli", "run", *GRID, "--out", str(out), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell starts background jobs with SIGINT ignored, and Python keeps an ignored
        # SIGINT ignored: the child must get Ctrl-C whatever launched the tests.
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for_rows(out: Path, n: int, proc: subprocess.Popen, seconds: float = 120) -> Path:
    """The run folder once at least n cells are stored."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        runs = list((out / "runs").glob("*")) if (out / "runs").is_dir() else []
        if (
            runs
            and len([p for p in (runs[0] / "parts").glob("*.parquet") if not p.name.endswith(".curves.parquet")]) >= n
        ):
            return runs[0]
        time.sleep(0.1)
    raise AssertionError(f"fewer than {n} cells after {seconds} s")


def completed(trace: Path) -> list[str]:
    path = trace / "completed"
    return path.read_text().split() if path.exists() else []


def pids(trace: Path) -> list[int]:
    return [int(p) for p in (trace / "pids").read_text().split()]


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_sigint_stop_everything_and_resume_continues(tmp_path, sig, code):
    out, trace = tmp_path / "out", tmp_path / "trace"
    trace.mkdir()
    proc = start(out, trace)
    run_dir = wait_for_rows(out, 2, proc)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, (stdout, stderr)
    last = stderr.strip().splitlines()[-1]
    assert f"--resume {run_dir.name}" in last and f"ebmbench report {run_dir.name}" in last, stderr
    assert "Traceback" not in stderr
    meta = load_meta(run_dir)
    assert meta["status"] == "interrupted"
    assert wait_gone(pids(trace)) == [], "a worker outlived the run"
    kept = load_results(run_dir)
    n_kept = int((kept["status"] == "done").sum())
    assert n_kept >= 2 and (run_dir / "results.parquet").exists()  # compacted on the way out
    before = completed(trace)

    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "ebmbench.cli",
            "run",
            "--resume",
            run_dir.name,
            "--out",
            str(out),
            "--plugins-dir",
            str(FAULTS_DIR),
            "--no-report",
        ],
        env={**os.environ, "EBMBENCH_FAULT_DIR": str(trace)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    df = load_results(run_dir)
    assert (df["status"] == "done").sum() == N_CELLS and df["cell_id"].is_unique
    # only the missing cells ran: every seed completed exactly once over both runs
    after = completed(trace)
    assert len(after) - len(before) == N_CELLS - n_kept
    assert sorted(set(after)) == sorted(after) or len(set(after)) == N_CELLS
    assert load_meta(run_dir)["status"] == "finished" and len(load_meta(run_dir)["resumed"]) == 1


def test_sigkill_of_the_main_process_is_seen_and_the_rerun_reuses_finished_cells(tmp_path):
    out, trace = tmp_path / "out", tmp_path / "trace"
    trace.mkdir()
    proc = start(out, trace)
    run_dir = wait_for_rows(out, 2, proc)
    proc.kill()
    proc.communicate(timeout=30)
    # the workers notice that their parent is gone and take their process group down
    assert wait_gone(pids(trace)) == [], "a worker outlived its killed parent"
    raw = json.loads((run_dir / "run.json").read_text())
    assert raw["status"] == "running"  # nobody could record anything
    assert load_meta(run_dir)["status"] == "interrupted"  # but every reader sees the truth
    n_done = int((load_results(run_dir)["status"] == "done").sum())
    before = completed(trace)

    again = start(out, trace)
    stdout, stderr = again.communicate(timeout=300)
    assert again.returncode == 0, stderr
    assert f"run {run_dir.name} was interrupted" in stderr  # reported once, and recorded
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
    new_run = next(p for p in (out / "runs").iterdir() if p != run_dir)
    df = load_results(new_run)
    assert (df["status"] == "done").sum() == N_CELLS
    assert (df["cached_from"] == run_dir.name).sum() == n_done
    assert len(completed(trace)) - len(before) == N_CELLS - n_done
