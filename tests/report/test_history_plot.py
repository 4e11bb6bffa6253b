"""`ebmbench history`'s figure and printed table (ebmbench/report/history.py), on runs
made with the project's own store."""

from __future__ import annotations

import pytest
from PIL import Image

from ebmbench.errors import UsageError
from ebmbench.report.history import gather_history, history_table, plot_history, run_label
from ebmbench.results.schema import RunStatus
from ebmbench.results.store import RunStore


def make_run(root, run_id, started, commit, values, dirty=None):
    """values: {(task, label): {metric: [one value per seed]}}."""
    meta = {"run_id": run_id, "status": "running", "started": started, "ebmbench_git_commit": commit}
    if dirty is not None:
        meta["ebmbench_git_dirty"] = dirty
    store = RunStore.create(root, run_id, meta)
    for (task, label), metrics in values.items():
        for rep in range(len(next(iter(metrics.values())))):
            cell = f"{task}-{label.replace('/', '_')}-{rep}"
            store.add(
                {"run_id": run_id, "cell_id": cell, "task": task, "label": label, "rep": rep, "seed": rep}
                | {"status": "done", **{m: v[rep] for m, v in metrics.items()}}
            )
    store.finish(RunStatus.FINISHED)


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    root = tmp_path_factory.mktemp("history")
    make_run(
        root,
        "r1",
        "2026-01-01T09:00:00+00:00",
        "abcdef0123" * 4,
        {("moons", "mlp/cd"): {"nll": [1.0, 1.2, 0.9]}, ("moons", "mlp/dsm"): {"nll": [2.0, 2.1, 2.3]}},
    )
    make_run(
        root,
        "r2",
        "2026-01-02T09:00:00+00:00",
        "1234567890" * 4,
        {("moons", "mlp/cd"): {"nll": [0.8, 0.85, 0.7]}, ("rings", "mlp/cd"): {"acc": [0.9, 0.95, 0.97]}},
        dirty=True,
    )
    make_run(root, "r3", "2026-01-03T09:00:00+00:00", None, {("moons", "mlp/cd"): {"nll": [0.75]}})  # one seed
    return gather_history(root, main_metrics={"moons": "nll", "rings": "acc"})


def test_plot_is_written_as_png_and_svg(history, tmp_path):
    png = plot_history(history, "nll", tmp_path / "out" / "history-nll")
    assert png == tmp_path / "out" / "history-nll.png"
    with Image.open(png) as im:
        assert im.format == "PNG" and im.width > 500 and im.height > 200
    svg = png.with_suffix(".svg").read_text()
    assert "<svg" in svg and "abcdef0" in svg and "1234567+" in svg  # commits on the x axis, dirty marked


def test_plot_of_every_main_metric_has_a_panel_per_task(history, tmp_path):
    png = plot_history(history, None, tmp_path / "main.png", directions={"nll": "lower", "acc": "higher"})
    svg = png.with_suffix(".svg").read_text()
    assert "moons — nll" in svg and "rings — acc" in svg and "lower is better" in svg


def test_plot_of_a_metric_with_no_values_is_a_usage_error(history, tmp_path):
    with pytest.raises(UsageError, match="no stored values of 'fid'"):
        plot_history(history, "fid", tmp_path / "fid.png")


def test_table_has_a_row_per_run_and_mean_with_its_interval(history):
    table = history_table(history[history["task"] == "moons"])
    assert list(table.columns) == ["run", "commit", "date", "moons: mlp/cd", "moons: mlp/dsm"]
    assert table["run"].tolist() == ["r1", "r2", "r3"]
    assert table["commit"].tolist() == ["abcdef0", "1234567+", "no git"]
    cd = table["moons: mlp/cd"].tolist()
    assert cd[0].startswith("1.03 [") and cd[0].endswith("]")  # mean [CI low, CI high] over three seeds
    assert cd[2] == "0.750"  # one seed: the mean alone
    assert table["moons: mlp/dsm"].tolist()[1:] == ["—", "—"]  # not run there


def test_table_names_the_metric_when_tasks_differ_in_it(history):
    assert "rings: mlp/cd (acc)" in history_table(history).columns


def test_runs_on_the_same_commit_and_day_are_told_apart_by_time(history):
    same = history.drop_duplicates("run_id").assign(commit="f" * 40, dirty=None)
    same["started"] = same["started"].map(lambda t: t.replace(day=5))
    assert run_label(same) == ["fffffff 2026-01-05 09:00"] * 3
    assert run_label(history.drop_duplicates("run_id"))[0] == "abcdef0 2026-01-01"
