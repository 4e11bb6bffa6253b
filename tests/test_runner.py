"""The runner: grid planning, cell isolation and statuses, exit codes (ebmbench/runner.py,
ebmbench/execution/)..

Fault methods live in tests/fixtures/faults/faults.py and are loaded with
--plugins-dir, so the worker process imports them exactly as a user's would.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support import FAULTS_DIR, invoke, only_run

from ebmbench.params import parse_selection
from ebmbench.registry import LoadConfig, load_registry
from ebmbench.execution.plan import RunConfig, plan
from ebmbench.results.runs import load_results
from ebmbench.results.schema import RunStatus

FAST_METRICS = ("--metric", "energy_gap,auroc_noise")
# One worker: fewer processes to start on a busy machine, and the hang is followed on a fresh one.
BASE = (
    "-t",
    "8gaussians",
    "-m",
    "kmeans",
    "--profile",
    "smoke",
    "--seeds",
    "1",
    "--jobs",
    "1",
    "--plugins-dir",
    FAULTS_DIR,
)


# ------------------------------------------------------------------------ planning
def sels(*texts):
    return [s for t in texts for s in parse_selection(t)]


@pytest.fixture(scope="module")
def registry():
    return load_registry(LoadConfig())


def test_plan_expands_tasks_pairs_and_seeds(registry):
    cfg = RunConfig(
        tasks=sels("8gaussians", "horn"),
        models=sels("kmeans", "mlp"),
        methods=sels("kmeans", "dsm[sigma=0.1|0.2]"),
        seeds=2,
        profile="smoke",
    )
    cells = plan(registry, cfg)
    # 12 (task, model, method) combinations: 5 runnable x 2 seeds, 7 skipped ones once each
    assert len(cells) == 5 * 2 + 7
    runnable = {(c.spec.task, c.label) for c in cells if c.skip_reason is None}
    assert runnable == {
        ("8gaussians", "kmeans/kmeans"),
        ("8gaussians", "mlp/dsm[sigma=0.1]"),
        ("8gaussians", "mlp/dsm[sigma=0.2]"),
        ("horn", "mlp/dsm[sigma=0.1]"),
        ("horn", "mlp/dsm[sigma=0.2]"),
    }
    skipped = {(c.spec.task, c.label): c.skip_reason for c in cells if c.skip_reason}
    assert "prototype" in skipped[("8gaussians", "kmeans/dsm[sigma=0.1]")]  # dsm trains neural models
    assert "unconditional" in skipped[("horn", "kmeans/kmeans")]  # prototypes: unconditional only
    # seeds: distinct per cell, identical when planned again, shared data per (task, rep)
    seeds = [c.spec.seed for c in cells]
    assert len(set(seeds)) == len(seeds)
    assert seeds == [c.spec.seed for c in plan(registry, cfg)]
    data_seeds = {(c.spec.task, c.spec.rep): set() for c in cells}
    for c in cells:
        data_seeds[(c.spec.task, c.spec.rep)].add(c.spec.data_seed)
    assert all(len(s) == 1 for s in data_seeds.values())
    assert {c.spec.method_params["sigma"] for c in cells if c.spec.method == "dsm"} == {0.1, 0.2}


def test_cell_seed_depends_only_on_its_own_identity(registry):
    """Adding other cells to the grid must not change a cell's seed."""
    one = plan(registry, RunConfig(sels("8gaussians"), sels("kmeans"), sels("kmeans"), 1, profile="smoke"))
    many = plan(
        registry,
        RunConfig(sels("2spirals", "8gaussians"), sels("mlp", "kmeans"), sels("pcd", "kmeans"), 1, profile="smoke"),
    )
    match = [c for c in many if c.spec.task == "8gaussians" and c.label == "kmeans/kmeans"]
    assert [c.spec.seed for c in match] == [one[0].spec.seed]
    other_base = plan(
        registry, RunConfig(sels("8gaussians"), sels("kmeans"), sels("kmeans"), 1, base_seed=1, profile="smoke")
    )
    assert other_base[0].spec.seed != one[0].spec.seed


def test_all_selects_everything_registered(registry):
    cells = plan(registry, RunConfig(seeds=1, profile="smoke"))
    assert {c.spec.task for c in cells} == set(registry.names("tasks"))
    assert {c.spec.method for c in cells} == set(registry.names("methods"))
    assert {c.spec.model for c in cells} == set(registry.names("models"))


# ------------------------------------------------------------ faults, end to end
@pytest.fixture(scope="module")
def fault_run(tmp_path_factory):
    """raise, NaN, a healthy cell, process death, an incompatible pair; one worker."""
    out = tmp_path_factory.mktemp("faults")
    r = invoke("run", *BASE, "-M", "fault_raise,fault_nan,kmeans,fault_exit,pcd", *FAST_METRICS, "--out", out)
    run_dir = only_run(out)
    df = load_results(run_dir).set_index("method")
    return r, run_dir, df


@pytest.fixture(scope="module")
def hang_run(tmp_path_factory):
    """A cell that sleeps 10 000 s under --timeout 3, then a cell on a fresh worker."""
    out = tmp_path_factory.mktemp("hang")
    r = invoke("run", *BASE, "-M", "fault_hang,fault_nan", "--timeout", "3", "--out", out)
    run_dir = only_run(out)
    return r, run_dir, load_results(run_dir).set_index("method")


def test_every_cell_has_its_row_and_status(fault_run):
    r, _, df = fault_run
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert sorted(df.index) == sorted(["fault_raise", "fault_nan", "kmeans", "fault_exit", "pcd"])
    assert df["status"].to_dict() == {
        "fault_raise": "error",
        "fault_nan": "diverged",
        "kmeans": "done",
        "fault_exit": "error",
        "pcd": "skipped",
    }


def test_error_keeps_exception_and_traceback_and_exits_1(fault_run):
    r, _, df = fault_run
    assert r.exit_code == 1
    row = df.loc["fault_raise"]
    assert row["reason"] == "RuntimeError: injected failure in fault_raise"
    assert "Traceback" in row["traceback"] and "_explode" in row["traceback"]
    assert "faults.py" in row["traceback"]
    assert "worker process died (exit code 3)" in df.loc["fault_exit", "reason"]


def test_nan_loss_is_diverged(fault_run):
    _, _, df = fault_run
    assert "non-finite loss=nan at step 1" in df.loc["fault_nan", "reason"]
    assert pd.isna(df.loc["fault_nan", "traceback"])  # a result of the benchmark, not a bug


def test_healthy_cell_next_to_faults_is_done_with_metrics(fault_run):
    _, _, df = fault_run
    done = df.loc["kmeans"]
    assert done["auroc_noise"] > 0.8 and math.isfinite(done["energy_gap"])
    assert done["train_time_s"] > 0 and done["peak_mem_mb"] > 0
    for method in ("fault_raise", "fault_exit", "pcd"):
        assert math.isnan(df.loc[method, "auroc_noise"])


def test_incompatible_pair_is_skipped_with_reason(fault_run):
    _, _, df = fault_run
    assert df.loc["pcd", "reason"] == "method pcd trains neural models, kmeans is prototype"


def test_curves_keep_points_logged_before_divergence(fault_run):
    _, run_dir, _ = fault_run
    curves = pd.read_parquet(run_dir / "curves.parquet")
    nan_curve = curves[(curves["method"] == "fault_nan") & (curves["name"] == "loss")]
    assert nan_curve["step"].tolist() == [0, 1]
    assert nan_curve["value"].iloc[0] == 1.0 and math.isnan(nan_curve["value"].iloc[1])
    assert len(curves[curves["method"] == "kmeans"]) > 0


def test_hung_cell_is_killed_at_the_timeout(hang_run):
    r, _, df = hang_run
    # finishing at all proves the kill: the fault sleeps 10 000 s
    assert df.loc["fault_hang", "status"] == "timeout"
    assert "3 s timeout" in df.loc["fault_hang", "reason"]
    assert df.loc["fault_hang", "wall_time_s"] >= 3
    # the next cell ran on a fresh worker, with its own result
    assert df.loc["fault_nan", "status"] == "diverged"
    # timeout and diverged are results of the benchmark: exit 0 unless --fail-on asks
    assert r.exit_code == 0, (r.output, r.stderr)


def test_worker_start_is_not_on_the_cells_clock(tmp_path):
    """A worker that takes longer to start than --timeout must still run a quick cell:
    interpreter start, torch import and plugin loading are not the cell's time."""
    slow = tmp_path / "slowstart"
    slow.mkdir()
    (slow / "slow_import.py").write_text(
        "import os, time\n"
        "if 'EBMBENCH_WORKER_FD' in os.environ:  # only inside the worker process\n"
        "    time.sleep(1.5)\n"
    )
    # fault_nan's cell takes milliseconds: anything but `diverged` means the start was timed
    r = invoke("run", *BASE, "-M", "fault_nan", "--timeout", "1", "--plugins-dir", slow, "--out", tmp_path / "out")
    df = load_results(only_run(tmp_path / "out"))
    assert df["status"].tolist() == ["diverged"], df["reason"].tolist()
    assert df["wall_time_s"].iloc[0] < 1.5  # the worker's start-up is not the cell's time
    assert r.exit_code == 0


# --------------------------------------------------------------------- exit codes
def test_fail_on_diverged_exits_1(tmp_path):
    r = invoke("run", *BASE, "-M", "fault_nan", "--fail-on", "diverged", "--out", tmp_path)
    assert r.exit_code == 1, r.output
    assert load_results(only_run(tmp_path))["status"].tolist() == ["diverged"]


def test_a_metric_that_raises_costs_its_value_not_the_cell(tmp_path):
    """One buggy third-party metric: its value is NaN and its error is in `metric_errors`
    (the traceback in `traceback`); the cell stays done with every other metric; the log,
    `show` and the report say which metric failed; exit 1 unless --fail-on leaves
    metric_error out."""
    import json

    plugins = Path(__file__).parent / "fixtures" / "badmetric"
    args = ["--plugins-dir", plugins, "-t", "8gaussians", "-m", "kmeans", "-M", "kmeans", "--profile", "smoke"]
    args += ["--seeds", "1", "--metric", "explodes,energy_gap", "--out", tmp_path]
    r = invoke("run", *args, "--no-report")
    assert r.exit_code == 1, r.stderr  # metric_error is in the default --fail-on
    assert "    metric explodes failed: RuntimeError: boom in red" in r.stdout.splitlines()
    run = only_run(tmp_path)
    row = pd.read_parquet(run / "results.parquet").iloc[0]
    assert row["status"] == "done" and row["reason"] is None
    assert np.isnan(row["explodes"]) and np.isfinite(row["energy_gap"])
    assert json.loads(row["metric_errors"]) == {"explodes": "RuntimeError: boom in red"}
    assert "RuntimeError: boom" in row["traceback"] and "\x1b" not in row["traceback"]
    shown = invoke("show", run.name, "--out", tmp_path)
    expected = "metric error: explodes raised in 1 cell (8gaussians kmeans/kmeans #0): RuntimeError: boom in red"
    assert expected in " ".join(shown.stdout.split())  # wrapped at the console's width
    from ebmbench.report import build_report

    page = build_report(run, tmp_path / "report", formats=("html",)).html.read_text()
    assert "metric error" in page and "explodes: RuntimeError: boom in red" in page
    again = invoke("run", *args, "--no-report", "--force", "--fail-on", "error")
    assert again.exit_code == 0, again.stderr


def test_default_curve_probes_are_declared_by_metrics_not_named_by_the_core(tmp_path):
    """No --curve-metric: every metric with `curve_probe = True` is probed, a third-party
    one as much as nll_grid; blocking the plugin that provides nll_grid leaves a runnable
    grid (the core used to name nll_grid and failed: "unknown metric 'nll_grid'")."""
    import json

    plugins = Path(__file__).parent / "fixtures" / "taskparams"
    args = ["-m", "mlp", "-M", "dsm", "--profile", "smoke", "--seeds", "1", "--no-report"]
    r = invoke("run", "--plugins-dir", plugins, "-t", "scaled", *args, "--out", tmp_path / "a")
    assert r.exit_code == 0, r.stderr
    run = only_run(tmp_path / "a")
    assert json.loads((run / "run.json").read_text())["grid"]["curve_metrics"] == ["data_scale", "nll_grid"]
    curves = pd.read_parquet(run / "curves.parquet")
    assert {"val_data_scale", "val_nll_grid"} <= set(curves["name"])
    blocked = invoke("run", "-p", "no:metrics.density", "-t", "8gaussians", *args, "--out", tmp_path / "b")
    assert blocked.exit_code == 0, blocked.stderr
    assert load_results(only_run(tmp_path / "b"))["status"].tolist() == ["done"]


# ------------------------------------------------------------------------ scheduling
def test_with_several_workers_the_longest_known_cells_start_first(registry, tmp_path):
    """LPT order from earlier runs' wall times: unseen cells first (plan order), then the
    known ones longest first; one worker keeps the plan's order."""
    from test_leaderboard import base_row

    from ebmbench.results.store import RunStore
    from ebmbench.runner import expected_wall_times, longest_first

    cfg = RunConfig(
        tasks=sels("8gaussians"), models=sels("mlp"), methods=sels("dsm", "nce", "pcd", "ssm"), seeds=1, profile="smoke"
    )
    cells = [c for c in plan(registry, cfg) if not c.skip_reason]
    assert [c.method_label for c in cells] == ["dsm", "nce", "pcd", "ssm"]
    store = RunStore.create(tmp_path, "20260101-000000-aaaaaaaaaaaa", {"run_id": "x", "status": "finished"})
    for label, wall in (("mlp/dsm", 1.0), ("mlp/pcd", 9.0), ("mlp/ssm", 4.0)):
        store.add({**base_row("8gaussians", label, 0, "done"), "profile": "smoke", "wall_time_s": wall}, [])
    store.add({**base_row("8gaussians", "mlp/nce", 0, "error"), "profile": "smoke", "wall_time_s": 99.0}, [])
    store.finish(RunStatus.FINISHED)

    order = longest_first(cells, tmp_path, exclude=tmp_path / "none", parallel=True)
    assert [c.method_label for c in order] == ["nce", "pcd", "ssm", "dsm"]  # nce: only an error row
    assert longest_first(cells, tmp_path, exclude=tmp_path / "none", parallel=False) == cells
    quick = RunConfig(**{**cfg.__dict__, "profile": "quick"})  # another profile's times do not count
    assert longest_first(plan(registry, quick), tmp_path, exclude=tmp_path, parallel=True) == plan(registry, quick)
    # the same history gives the progress display its expected times (the ETA)
    expected = expected_wall_times(cells, tmp_path, exclude=tmp_path / "none")
    assert {c.method_label: expected.get(c.spec.cell_id) for c in cells} == {
        "dsm": 1.0,
        "nce": None,
        "pcd": 9.0,
        "ssm": 4.0,
    }
