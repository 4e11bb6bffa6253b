"""`ebmbench show` in every format, on a run folder written by the store."""

import io
import json

import pandas as pd
import pytest
from click.testing import CliRunner

from ebmbench.cli import cli
from ebmbench.results.store import RunStore


@pytest.fixture
def run_root(tmp_path):
    meta = {
        "run_id": "20260101-000000-abcd",
        "status": "finished",
        "n_cells": 5,
        "profile": {"name": "smoke"},
        "metric_directions": {"nll": "lower", "acc": "higher"},
        "main_metrics": {"t1": "nll", "t2": "acc"},
    }
    store = RunStore.create(tmp_path, meta["run_id"], meta)
    values = {("t1", "a/x[k=1]"): [1.0, 1.5], ("t1", "b/y"): [0.5, 0.7], ("t2", "a/x[k=1]"): [0.9, 0.8]}
    for (task, label), vs in values.items():
        for rep, v in enumerate(vs):
            store.add(
                {
                    "cell_id": f"{task}{label}{rep}",
                    "task": task,
                    "model": label.split("/")[0],
                    "method": label.split("/")[1],
                    "label": label,
                    "rep": rep,
                    "seed": rep,
                    "status": "done",
                    "reason": None,
                    "train_time_s": 0.5,
                    "nll": v,
                    "acc": v,
                },
                [{"step": 0, "time_s": 0.0, "loss": 1.0}],
            )
    store.add(
        {
            "cell_id": "z",
            "task": "t2",
            "model": "b",
            "method": "y",
            "label": "b/y",
            "rep": 0,
            "seed": 0,
            "status": "error",
            "reason": "ValueError: <b>boom</b>",
            "train_time_s": None,
            "nll": None,
            "acc": None,
        },
        [],
    )
    return tmp_path


def invoke(*args):
    return CliRunner().invoke(cli, list(args))


def test_table_shows_ranked_rows_brackets_and_errors(run_root):
    r = invoke("show", "--out", str(run_root))
    assert r.exit_code == 0, r.output
    out = r.output
    assert "a/x[k=1]" in out  # rich markup must not eat parameter brackets
    assert out.index("b/y") < out.index("a/x[k=1]")  # lower nll ranks first on t1
    assert "ValueError: <b>boom</b>" in out


def test_markdown_latex_csv_json(run_root):
    md = invoke("show", "--out", str(run_root), "--format", "md").output
    assert "| model/method" in md and "nll ↓" in md
    latex = invoke("show", "--out", str(run_root), "--metric", "nll", "--format", "latex").output
    assert "\\toprule" in latex and "\\bottomrule" in latex
    csv = invoke("show", "--out", str(run_root), "--format", "csv").output
    df = pd.read_csv(io.StringIO(csv))
    row = df[(df.task == "t1") & (df.label == "b/y") & (df.metric == "nll")].iloc[0]
    assert row["mean"] == pytest.approx(0.6) and row["n"] == 2
    records = json.loads(invoke("show", "--out", str(run_root), "--format", "json", "-t", "t2").output)
    assert {r["task"] for r in records} == {"t2"}


def test_pivot_by_metric(run_root):
    out = invoke("show", "--out", str(run_root), "--metric", "acc", "--format", "md").output
    assert "t1" in out and "t2" in out and "±" in out


def test_several_metrics_and_digits(run_root):
    out = invoke("show", "--out", str(run_root), "--metric", "nll,acc", "--format", "md", "--digits", "5").output
    assert "### nll" in out and "### acc" in out
    # t1 a/x[k=1]: mean of 1.0 and 1.5 = 1.25 -> five significant digits with trailing zeros
    assert "1.2500 ±" in out and "0.60000 ±" in out
    assert "1.25 ±" in invoke("show", "--out", str(run_root), "--metric", "nll", "--format", "md").output
    r = invoke("show", "--out", str(run_root), "--digits", "0")
    assert r.exit_code == 2


def test_cost_columns_pivot_like_metrics(run_root):
    md = invoke("show", "--out", str(run_root), "--metric", "nll,train_time_s", "--format", "md").output
    assert "### train_time_s — " in md and "train_time_s ↓ (model/method)" in md
    assert "| 0.500" in md  # every done cell trained 0.5 s: mean 0.5, no spread
    rows = json.loads(invoke("show", "--out", str(run_root), "--metric", "train_time_s", "--format", "json").output)
    assert {r["label"] for r in rows} == {"a/x[k=1]", "b/y"} and all(r["mean"] == 0.5 for r in rows)
    table = invoke("show", "--out", str(run_root), "--all-columns", "--format", "md").output
    assert "train_time_s" not in table  # not a metric column of the leaderboards ("train s" is)


def test_bad_metric_task_and_run_are_one_line_usage_errors(run_root):
    for args in (["--metric", "nl"], ["-t", "t3"], ["nope"]):
        r = invoke("show", "--out", str(run_root), *args)
        assert r.exit_code == 2
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert "did you mean 'nll'" in invoke("show", "--out", str(run_root), "--metric", "nl").stderr


def test_no_runs(tmp_path):
    r = invoke("show", "--out", str(tmp_path))
    assert r.exit_code == 2 and "ebmbench run --all" in r.stderr


def test_unknown_metric_is_a_usage_error_in_every_format(run_root):
    for fmt in ("table", "md", "csv", "json"):
        r = invoke("show", "--out", str(run_root), "--metric", "nll,nope", "--format", fmt)
        assert r.exit_code == 2, (fmt, r.output)
        assert "nope" in r.output


def test_a_mean_inside_the_oracle_interval_is_marked_in_show_and_the_reports(run_root):
    """b's model declares the oracle family: a/x's t1 mean 1.25 lies in b/y's interval 0.6 ± 1.27."""
    path = next(run_root.glob("runs/*/run.json"))
    meta = json.loads(path.read_text())
    meta["entries"] = {"models": {"a": {"family": "neural"}, "b": {"family": "oracle"}}}
    path.write_text(json.dumps(meta))
    out = invoke("show", "--out", str(run_root), "-t", "t1").output
    assert "≈ 1.25" in out and "within the oracle's 95 % interval" in out
    assert "≈ 0.6" not in out  # the oracle's own row is the floor, not marked
    md = invoke("show", "--out", str(run_root), "--format", "md").output
    assert "≈ 1.25" in md
