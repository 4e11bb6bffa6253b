"""Several runs read as one (`ebmbench show RUN1 RUN2`): seeds add up, a cell measured
twice counts once, and runs that disagree on a metric's direction are refused."""

import io

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ebmbench.errors import UsageError
from ebmbench.results.combine import load_runs, merge_meta
from support import assert_usage_error, invoke, write_run
from support import result_row as row


def test_two_runs_give_the_intervals_over_all_their_seeds(tmp_path):
    first = [row("t", "mlp/a", rep, 100 + rep, 1.0 + rep) for rep in range(2)]
    second = [row("t", "mlp/a", rep, 200 + rep, 2.0 + rep, seed=10 + rep) for rep in range(2)]
    write_run(tmp_path, "r1", first)
    write_run(tmp_path, "r2", second)
    result = invoke("show", "--out", tmp_path, "r1", "r2", "--metric", "nll", "--format", "csv")
    assert result.exit_code == 0, result.output
    got = pd.read_csv(io.StringIO(result.output)).iloc[0]
    values = np.array([1.0, 2.0, 2.0, 3.0])
    ci = stats.t.interval(0.95, 3, loc=values.mean(), scale=stats.sem(values))
    assert (got["n"], got["mean"], got["ci_low"], got["ci_high"]) == pytest.approx((4, 2.0, *ci))
    table = invoke("show", "--out", tmp_path, "r1", "r2")
    assert table.exit_code == 0, table.output
    assert "runs r1 + r2 · profile smoke · finished · 4 of 4 cells" in table.output


def test_a_cell_in_both_runs_counts_once_from_the_last_run_named(tmp_path):
    write_run(tmp_path, "old", [row("t", "mlp/a", 0, 7, 1.0), row("t", "mlp/a", 1, 8, 5.0)])
    write_run(tmp_path, "new", [row("t", "mlp/a", 0, 7, 2.0)])  # same seed and data seed: a re-run
    _, df = load_runs([tmp_path / "runs" / "old", tmp_path / "runs" / "new"], ("task", "label", "status"))
    assert sorted(df["nll"]) == [2.0, 5.0]
    _, df = load_runs([tmp_path / "runs" / "new", tmp_path / "runs" / "old"], ("task", "label", "status"))
    assert sorted(df["nll"]) == [1.0, 5.0]
    _, df = load_runs([tmp_path / "runs" / "old", tmp_path / "runs" / "old"], ())
    assert len(df) == 2  # a run named twice is read once


def test_runs_that_disagree_on_a_direction_are_refused(tmp_path):
    write_run(tmp_path, "r1", [row("t", "mlp/a", 0, 7, 1.0)])
    write_run(tmp_path, "r2", [row("t", "mlp/a", 1, 8, 1.0)], directions={"nll": "higher"})
    assert_usage_error(invoke("show", "--out", tmp_path, "r1", "r2"), "runs disagree on the direction of 'nll'")


def test_merged_records_keep_each_tasks_first_main_metric():
    metas = [
        {
            "run_id": "a",
            "status": "finished",
            "n_cells": 2,
            "metric_directions": {"x": "lower"},
            "main_metrics": {"t": "x"},
        },
        {
            "run_id": "b",
            "status": "interrupted",
            "n_cells": 3,
            "metric_directions": {"y": "higher"},
            "main_metrics": {"t": "y", "u": "y"},
        },
    ]
    meta = merge_meta(metas)
    assert meta["main_metrics"] == {"t": "x", "u": "y"}
    assert meta["metric_directions"] == {"x": "lower", "y": "higher"}
    assert (meta["run_id"], meta["status"], meta["n_cells"]) == ("a + b", "finished/interrupted", 5)
    with pytest.raises(UsageError):
        merge_meta([metas[0], {**metas[1], "metric_directions": {"x": "higher"}}])


def test_the_python_api_loads_several_runs_as_one(tmp_path):
    import ebmbench

    write_run(tmp_path, "r1", [row("t", "mlp/a", 0, 7, 1.0)])
    write_run(tmp_path, "r2", [row("t", "mlp/a", 0, 7, 2.0), row("t", "mlp/a", 1, 8, 3.0)])
    df = ebmbench.load(["r1", "r2"], out=tmp_path)
    assert sorted(df["nll"]) == [2.0, 3.0] and df.attrs["meta"]["run_id"] == "r1 + r2"
    assert [p.rsplit("/", 1)[1] for p in df.attrs["run_dirs"]] == ["r1", "r2"]
    assert ebmbench.load("r1", out=tmp_path)["nll"].tolist() == [1.0]
