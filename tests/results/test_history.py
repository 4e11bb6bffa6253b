"""`ebmbench history`'s table: every stored run gathered through one pyarrow dataset
(ebmbench/results/history.py) and summarised over seeds (ebmbench/report/history.py).

The runs are made with the project's own store, in each form a root can hold them:
compacted, parts only (killed), resumed after compaction; with metric columns that
differ between runs, and with torn files."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from scipy import stats

from ebmbench.errors import UsageError
from ebmbench.report.history import HISTORY_COLUMNS, gather_history
from ebmbench.results.history import VALUE_COLUMNS, gather_values, results_files
from ebmbench.results.runs import list_runs, load_meta, read_results
from ebmbench.results.schema import RunStatus
from ebmbench.results.store import RunStore

MAINS = {"moons": "nll", "rings": "acc"}


def row(run_id, task, label, rep, status="done", **metrics):
    model, method = label.split("/")
    # cell ids that do not sort by rep: the files' row order is not the seeds' order
    cell = f"{task}-{label.replace('/', '_')}-{(7 * rep + 3) % 10}"
    return {
        "run_id": run_id,
        "cell_id": cell,
        "cell_key": f"key-{cell}",
        "task": task,
        "model": model,
        "method": method,
        "label": label,
        "rep": rep,
        "seed": 100 + rep,
        "status": status,
        "reason": None,
        "train_time_s": 1.0 + rep,
        **metrics,
    }


def make_run(root, run_id, started, rows, finish=True, **meta):
    store = RunStore.create(
        root,
        run_id,
        {
            "run_id": run_id,
            "status": "running",
            "started": started,
            "ebmbench_version": "0.1.0",
            "torch": "2.13.0+cpu",
            "ebmbench_git_commit": meta.pop("commit", "a" * 40),
            "profile": {"name": "smoke", "seeds": 3},
            "grid": {"tasks": None},
            "main_metrics": MAINS,
            **meta,
        },
    )
    for r in rows:
        store.add(r)
    if finish:
        store.finish(RunStatus.FINISHED)
    return store


NLL_A = {"moons": {"mlp/cd": [1.0, 1.5, 0.7], "mlp/dsm": [2.0, 2.5, 2.2]}}


@pytest.fixture
def root(tmp_path):
    """Three runs: two compacted, one killed (parts only), the second with a new metric.

    Run ids sort in another order than their start times: the history follows time."""
    a = [
        row("r-a", "moons", lab, i, nll=v, acc=0.5 + i / 10, modes=3)  # modes: an int column here
        for lab, vals in NLL_A["moons"].items()
        for i, v in enumerate(vals)
    ]
    a += [row("r-a", "rings", "mlp/cd", i, acc=0.9) for i in range(2)]
    a += [row("r-a", "rings", "mlp/dsm", 0, status="skipped")]
    make_run(tmp_path, "3-first", "2026-01-01T10:00:00+00:00", a, commit="1" * 40)
    b = [row("r-b", "moons", "mlp/cd", i, nll=v, acc=0.6, ece=0.1 * i, modes=2.5) for i, v in enumerate([0.9, 1.1])]
    b += [row("r-b", "rings", "mlp/cd", 0, acc=0.95)]
    suite = {"name": "ci", "version": 1}  # as the runner records it, next to the grid's "suite": "ci"
    make_run(tmp_path, "1-second", "2026-01-02T10:00:00+00:00", b, commit="2" * 40, grid={"suite": "ci"}, suite=suite)
    c = [row("r-c", "moons", "mlp/cd", 0, nll=0.8, acc=0.7), row("r-c", "moons", "mlp/dsm", 0, status="error")]
    killed = make_run(tmp_path, "2-third", "2026-01-03T10:00:00+00:00", c, finish=False, ebmbench_git_dirty=True)
    assert not (killed.dir / "results.parquet").exists() and len(results_files(killed.dir)) == 2
    return tmp_path


def test_every_run_in_time_order_with_its_provenance(root):
    h = gather_history(root, main_metrics=MAINS)
    assert list(h.columns) == list(HISTORY_COLUMNS)
    assert list(dict.fromkeys(h["run_id"])) == ["3-first", "1-second", "2-third"]  # by start time, not id
    assert h["started"].is_monotonic_increasing
    runs = h.drop_duplicates("run_id").set_index("run_id")
    assert runs.loc["3-first", "commit"] == "1" * 40 and runs.loc["1-second", "commit"] == "2" * 40
    assert runs.loc["2-third", "dirty"] is True and pd.isna(runs.loc["3-first", "dirty"])
    assert runs.loc["1-second", "suite"] == "ci" and pd.isna(runs.loc["3-first", "suite"])
    assert set(runs["profile"]) == {"smoke"} and set(runs["torch_version"]) == {"2.13.0+cpu"}
    assert set(runs["ebmbench_version"]) == {"0.1.0"}
    assert runs.loc["2-third", "run_status"] == "running" and runs.loc["3-first", "run_status"] == "finished"
    # each task's main metric only, done rows only (the skipped and the failed cell give nothing)
    assert set(zip(h["task"], h["metric"])) == {("moons", "nll"), ("rings", "acc")}
    assert len(h) == 2 + 1 + 1 + 1 + 1  # first: 2 moons + 1 rings; second: 1 + 1; third: 1


def t_interval(values):
    """The few-seed interval `summary.summarize` uses (2-4 seeds): scipy's t-interval."""
    v = np.asarray(values, dtype=float)
    return stats.t.interval(0.95, len(v) - 1, loc=v.mean(), scale=stats.sem(v))


def test_mean_and_ci_match_an_independent_interval(root):
    h = gather_history(root, tasks=["moons"], metrics=["nll"]).set_index(["run_id", "label"])
    for label, values in NLL_A["moons"].items():
        got = h.loc[("3-first", label)]
        low, high = t_interval(values)  # in rep order, whatever order the files hold them in
        assert got["n"] == 3 and got["mean"] == pytest.approx(np.mean(values))
        assert got["std"] == pytest.approx(np.std(values, ddof=1))
        assert (got["ci_low"], got["ci_high"]) == pytest.approx((low, high))
        assert got["ci_low"] < got["mean"] < got["ci_high"]
    two = h.loc[("1-second", "mlp/cd")]
    assert two["n"] == 2 and (two["ci_low"], two["ci_high"]) == pytest.approx(t_interval([0.9, 1.1]))
    one = h.loc[("2-third", "mlp/cd")]  # one seed: a mean, and no invented interval
    assert one["n"] == 1 and one["mean"] == 0.8 and math.isnan(one["ci_low"]) and math.isnan(one["ci_high"])


def test_metric_columns_may_differ_between_runs(root):
    ece = gather_history(root, metrics=["ece"])
    assert set(ece["run_id"]) == {"1-second"}  # only the run that stored it
    assert ece.iloc[0]["mean"] == pytest.approx(0.05)
    modes = gather_history(root, metrics=["modes"]).set_index("run_id")  # int in one run, float in the other
    assert modes.loc["3-first", "mean"].tolist() == [3.0, 3.0] and modes.loc["1-second", "mean"] == 2.5
    every = gather_history(root, tasks=["moons"], main_metrics=None)  # no main metrics: every stored metric
    assert set(every["metric"]) == {"nll", "acc", "ece", "modes"}
    cost = gather_history(root, tasks=["rings"], metrics=["train_time_s"])  # a core number, when named
    assert cost.set_index("run_id").loc["3-first", "mean"] == pytest.approx(1.5)


def test_task_filter_and_unknown_names(root):
    h = gather_history(root, tasks=["rings"], main_metrics=MAINS)
    assert set(h["task"]) == {"rings"} and list(h["run_id"]) == ["3-first", "1-second"]
    with pytest.raises(UsageError, match=r"unknown task 'moon'; did you mean 'moons'"):
        gather_history(root, tasks=["moon"], main_metrics=MAINS)
    with pytest.raises(UsageError, match=r"unknown metric 'nl'; did you mean 'nll'"):
        gather_history(root, metrics=["nl"])
    # a registered task that never ran is no error: its history is empty
    assert gather_history(root, tasks=["digits"], main_metrics={**MAINS, "digits": "fid"}).empty


def test_main_metric_of_a_task_the_registry_no_longer_knows_comes_from_the_runs(root):
    h = gather_history(root, main_metrics={"rings": "acc"})  # moons left the registry
    assert set(zip(h["task"], h["metric"])) == {("moons", "nll"), ("rings", "acc")}
    h = gather_history(root, main_metrics={"moons": "acc"})  # the registry's word wins
    assert set(h.loc[h["task"] == "moons", "metric"]) == {"acc"}


def test_values_are_those_read_results_gives(root):
    """The one-dataset scan reads each run exactly as ebmbench.results.runs does."""
    values = gather_values(root, main_metrics=None)
    assert list(values.columns) == list(VALUE_COLUMNS)
    for run_dir in list_runs(root):
        ref = read_results(run_dir)
        ref = ref[ref["status"] == "done"].melt(
            id_vars=["cell_id"], value_vars=[m for m in ("nll", "acc", "ece", "modes") if m in ref], var_name="metric"
        )
        ref = ref.dropna(subset=["value"]).set_index(["cell_id", "metric"])["value"].astype(float).sort_index()
        got = values[values["run_id"] == load_meta(run_dir)["run_id"]].set_index(["cell_id", "metric"])["value"]
        assert got.sort_index().equals(ref)


# ---------------------------------------------------------------- a cell stored twice
def test_a_resumed_runs_later_row_replaces_the_compacted_one(tmp_path):
    rows = [row("r", "moons", "mlp/cd", 0, status="error"), row("r", "moons", "mlp/cd", 1, nll=5.0)]
    rows += [row("r", "moons", "mlp/cd", 2, nll=6.0)]
    store = make_run(tmp_path, "run", "2026-01-01T10:00:00+00:00", rows)
    store = RunStore.reopen(store.dir, store.meta)  # --resume: new parts next to results.parquet
    store.add(row("r", "moons", "mlp/cd", 0, nll=1.0))  # the failed cell, now done
    store.add(row("r", "moons", "mlp/cd", 2, status="error"))  # a done cell, now failed: it no longer counts
    assert len(results_files(store.dir)) == 3
    values = gather_values(tmp_path, metrics=["nll"])
    assert sorted(values["value"]) == [1.0, 5.0]
    (h,) = gather_history(tmp_path, metrics=["nll"]).itertuples()
    assert h.n == 2 and h.mean == 3.0


def test_a_batch_row_and_the_cells_own_part_count_once(tmp_path):
    store = make_run(tmp_path, "run", "2026-01-01T10:00:00+00:00", [], finish=False)
    reused = [{**row("r", "moons", "mlp/cd", i, nll=v), "cached_from": "older"} for i, v in [(0, 2.0), (1, 3.0)]]
    store.add_batch(reused)
    store.add(row("r", "moons", "mlp/cd", 0, nll=4.0))  # recomputed: its own part wins over the batch
    (h,) = gather_history(tmp_path, metrics=["nll"]).itertuples()
    assert (h.n, h.n_cached, h.mean) == (2, 1, 3.5)


# ---------------------------------------------------------------------- torn runs
def test_unreadable_runs_are_skipped_with_one_warning_each(root):
    runs = root / "runs"
    (runs / "3-first" / "run.json").write_text("{ torn")
    (runs / "1-second" / "results.parquet").write_bytes(b"not parquet at all")
    warnings = []
    h = gather_history(root, main_metrics=MAINS, warn=warnings.append)
    assert set(h["run_id"]) == {"2-third"}
    assert len(warnings) == 2, warnings
    assert any("3-first" in w and "run.json" in w for w in warnings)
    assert any("1-second" in w and "results.parquet" in w for w in warnings)
    assert all("\n" not in w for w in warnings)


def test_a_file_torn_past_its_footer_skips_only_its_run(root):
    """The footer reads (the schema pass cannot tell) but a page does not: the one scan
    fails, and the runs are then scanned one by one."""
    path = root / "runs" / "1-second" / "results.parquet"
    chunk = pq.ParquetFile(path).metadata.row_group(0).column(
        pq.read_schema(path).get_field_index("task")
    )  # fmt: skip
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    data = bytearray(path.read_bytes())
    data[start : start + chunk.total_compressed_size] = b"\xff" * chunk.total_compressed_size
    path.write_bytes(bytes(data))
    warnings = []
    h = gather_history(root, main_metrics=MAINS, warn=warnings.append)
    assert list(dict.fromkeys(h["run_id"])) == ["3-first", "2-third"]
    assert len(warnings) == 1 and "1-second" in warnings[0] and "cannot read its results" in warnings[0], warnings
    assert warnings[0].isprintable()


def test_a_run_whose_columns_clash_with_the_others_is_skipped(root):
    bad = [row("r-d", "moons", "mlp/cd", 0, nll="not a number")]
    make_run(root, "4-text", "2026-01-04T10:00:00+00:00", bad)
    warnings = []
    h = gather_history(root, main_metrics=MAINS, warn=warnings.append)
    assert list(dict.fromkeys(h["run_id"])) == ["3-first", "1-second", "2-third"]
    assert len(warnings) == 1 and "4-text" in warnings[0] and "columns" in warnings[0], warnings


def test_an_empty_root_gives_an_empty_table(tmp_path):
    assert list(gather_history(tmp_path).columns) == list(HISTORY_COLUMNS)
    assert gather_history(tmp_path).empty
    make_run(tmp_path, "nothing-yet", "2026-01-01T10:00:00+00:00", [], finish=False)  # started, no cell stored
    assert gather_history(tmp_path, main_metrics=MAINS).empty


def test_a_run_without_a_start_time_is_placed_by_its_id(tmp_path):
    store = make_run(tmp_path, "20260105-120000-abcdef123456", None, [row("r", "moons", "mlp/cd", 0, nll=1.0)])
    meta = json.loads((store.dir / "run.json").read_text())
    assert meta["started"] is None
    (h,) = gather_history(tmp_path, metrics=["nll"]).itertuples()
    assert h.started.isoformat() == "2026-01-05T12:00:00+00:00"
