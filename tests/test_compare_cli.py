"""`ebmbench compare BASELINE [CURRENT]` through the CLI (ebmbench/cli.py compare_cmd,
results/compare.py compare_sides, compare_view.py): exit codes, what the table, markdown
and JSON outputs say, tolerance bands and their precedence (metric < suite < --tol),
baseline files as a side, newly failing cells and a suite's status-only pairs.

Every run is synthetic, written with `RunStore`; nothing is trained.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from support import assert_usage_error, invoke

from ebmbench.results.baseline import build_baseline, load_side, write_baseline
from ebmbench.results.compare import MARKS, CompareConfig, compare_sides
from ebmbench.results.runs import load_meta, read_results
from ebmbench.results.store import RunStore

WIDE = {"COLUMNS": "250"}  # rich folds long cells on a narrow terminal
DIRECTIONS = {"nll_grid": "lower", "mmd2": "lower", "accuracy": "higher"}
MAIN = {"8gaussians": "nll_grid", "rings": "nll_grid", "digits-classify": "accuracy"}
HASHES = {
    "tasks": {"8gaussians": "t-8g", "rings": "t-rings", "digits-classify": "t-dc"},
    "models": {"mlp": "m-mlp", "kmeans": "m-km", "linear": "m-lin"},
    "methods": {"dsm": "h-dsm", "kmeans": "h-km", "pca": "h-pca"},
    "samplers": {"langevin": "s-lan"},
    "metrics": {m: f"x-{m}" for m in DIRECTIONS},
}
BASE_ID = "20260101-000000-aaaaaaaaaaaa"
CUR_ID = "20260102-000000-bbbbbbbbbbbb"

# five paired seeds: per-seed values and a small per-seed noise
NLL = np.array([2.00, 2.10, 1.95, 2.05, 2.02])
NOISE = np.array([0.004, -0.003, 0.002, -0.004, 0.001])


def cell(task, label, rep, status="done", reason=None, **metrics):
    return {"task": task, "label": label, "rep": rep, "status": status, "reason": reason, **metrics}


def make_run(root, run_id, cells, *, suite=None, **meta):
    """A finished synthetic run under ROOT/runs; its run.json carries what compare reads."""
    full = {
        "run_id": run_id,
        "status": "running",
        "profile": {"name": "smoke"},
        "base_seed": 0,
        "metric_directions": DIRECTIONS,
        "main_metrics": MAIN,
        "metric_tolerances": {},
        "suite": suite,
        "entries": {k: {n: {"source_hash": h} for n, h in v.items()} for k, v in HASHES.items()},
        **meta,
    }
    store = RunStore.create(root, run_id, full)
    for i, c in enumerate(cells):
        model, method = c["label"].split("/")
        store.add(
            {
                "run_id": run_id,
                "cell_id": f"{run_id[-4:]}-{i:03d}",
                "cell_key": f"{c['task']}|{c['label']}|{c['rep']}",
                "model": model,
                "method": method,
                "model_params": "{}",
                "method_params": "{}",
                "seed": 7 + c["rep"],
                "data_seed": 1000 + c["rep"],
                "profile": "smoke",
                "device": "cpu",
                "train_time_s": 0.5,
                **c,
            }
        )
    store.finish("finished")
    return store.dir


def dsm_cells(shift=0.0, **kw):
    """8gaussians mlp/dsm over five seeds, `shift` added to every nll_grid (plus a little noise)."""
    noise = NOISE if shift else np.zeros(5)
    return [cell("8gaussians", "mlp/dsm", r, nll_grid=float(NLL[r] + shift + noise[r]), **kw) for r in range(5)]


def kmeans_cells(statuses=("done",) * 4, reasons=None):
    return [
        cell(
            "8gaussians",
            "kmeans/kmeans",
            r,
            status=s,
            reason=(reasons or {}).get(r),
            nll_grid=3.0 + 0.01 * r if s == "done" else math.nan,
        )
        for r, s in enumerate(statuses)
    ]


def compare(*args, fmt=None):
    extra = ("--format", fmt) if fmt else ()
    return invoke("compare", *args, *extra, env=WIDE)


def as_json(*args):
    r = compare(*args, fmt="json")
    assert r.exit_code in (0, 1), (r.exit_code, r.stderr, r.exception)
    return r.exit_code, json.loads(r.stdout)


def marks(doc, mark):
    return [row for row in doc["rows"] if row["mark"] == mark]


@pytest.fixture
def planted(tmp_path):
    """A baseline run and a current one whose mlp/dsm is 25 % worse on every seed."""
    root = tmp_path / "results"
    base = make_run(root, BASE_ID, dsm_cells() + kmeans_cells())
    cur = make_run(root, CUR_ID, dsm_cells(shift=0.5) + kmeans_cells())
    return root, base, cur


# ------------------------------------------------------------------ verdicts
def test_identical_sides_exit_0_no_regression(planted):
    _, base, _ = planted
    r = compare(base, base)
    assert r.exit_code == 0, (r.stdout, r.stderr)
    assert r.stdout.startswith("no regression") and "2 unchanged" in r.stdout
    assert "--all-rows shows them" in r.stdout
    shown = compare(base, base, "--all-rows")
    assert shown.exit_code == 0 and "mlp/dsm" in shown.stdout and "kmeans/kmeans" in shown.stdout


def test_planted_worse_main_metric_exits_1_naming_task_label_and_metric(planted):
    _, base, cur = planted
    r = compare(base, cur)
    assert r.exit_code == 1, (r.stdout, r.stderr)
    head, *rest = r.stdout.splitlines()
    assert head.startswith("REGRESSION") and "1 worse" in head and "1 unchanged" in head
    (worse,) = [line for line in rest if "worse" in line]
    for fragment in ("8gaussians", "mlp/dsm", "nll_grid", "+0.5", "paired bootstrap CI"):
        assert fragment in worse, (fragment, worse)
    assert "kmeans/kmeans" not in r.stdout  # unchanged rows are hidden ...
    assert "1 unchanged row not shown" in r.stdout  # ... and counted
    assert r.stderr == ""


def test_an_improvement_is_not_a_regression(planted):
    _, base, cur = planted
    code, doc = as_json(cur, base)  # the other way round: 25 % better
    assert code == 0 and not doc["regression"] and doc["counts"]["better"] == 1


def test_format_md_is_a_markdown_table(planted):
    _, base, cur = planted
    r = compare(base, cur, fmt="md")
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    assert lines[0] == "### ebmbench compare: ❌ regression"
    assert lines[2] == f"`run {CUR_ID}` against `run {BASE_ID}`"
    assert lines[4] == "worse: **1** · unchanged: **1**"
    header = lines.index("| mark | task | model/method | metric | baseline | current | change | evidence |")
    assert lines[header + 1] == "|:--|:--|:--|:--|--:|--:|--:|:--|"
    table = [line for line in lines[header:] if line.startswith("|")]
    assert len(table) == 3  # header, separator, the one worse row
    assert all(line.startswith(("| ", "|:")) and line.endswith("|") for line in table)
    assert table[2].startswith("| ▼ worse | 8gaussians | `mlp/dsm` | nll_grid | 2.024 | 2.524 | +0.5 (+24.7%) |")
    assert {line.count(" | ") for line in table[::2]} == {7}  # eight columns, no stray pipes
    assert lines[-1] == "1 unchanged row not shown."

    clean = compare(base, base, fmt="md")
    assert clean.exit_code == 0
    assert clean.stdout.splitlines()[0] == "### ebmbench compare: ✅ no regression"
    assert "All 2 compared rows are unchanged." in clean.stdout and "| mark |" not in clean.stdout


def test_format_json_has_regression_counts_and_every_row(planted):
    _, base, cur = planted
    code, doc = as_json(base, cur)
    assert code == 1
    assert doc["regression"] is True
    assert doc["baseline"] == f"run {BASE_ID}" and doc["current"] == f"run {CUR_ID}"
    assert list(doc["counts"]) == list(MARKS) and doc["marks"] == list(MARKS)
    assert doc["counts"]["worse"] == 1 and doc["counts"]["unchanged"] == 1 and sum(doc["counts"].values()) == 2
    assert len(doc["rows"]) == 2  # unchanged rows too: machines want them
    (row,) = marks(doc, "worse")
    assert (row["task"], row["label"], row["metric"], row["direction"]) == (
        "8gaussians",
        "mlp/dsm",
        "nll_grid",
        "lower",
    )
    assert row["n_base"] == row["n_cur"] == 5 and row["test"] == "paired t-test + bootstrap CI"
    assert row["delta"] == pytest.approx(0.5, abs=0.01) and row["tolerance"] == pytest.approx(0.05 * NLL.mean())
    assert row["ci_low"] > 0 and row["p_holm"] < 0.05
    (same,) = marks(doc, "unchanged")
    assert same["label"] == "kmeans/kmeans" and same["delta"] == 0
    _, clean = as_json(base, base)
    assert clean["regression"] is False and clean["counts"]["unchanged"] == 2


def test_current_defaults_to_the_latest_run_under_root(planted):
    root, base, _ = planted
    code, doc = as_json(BASE_ID, "--root", root)
    assert code == 1 and doc["current"] == f"run {CUR_ID}"
    code, doc = as_json("20260102", "--root", root)  # a prefix; compared with itself
    assert code == 0 and doc["baseline"] == doc["current"] == f"run {CUR_ID}"
    assert_usage_error(invoke("compare", base, "--root", root.parent / "empty"), "no runs")


def test_metric_option_chooses_what_is_judged(tmp_path):
    root = tmp_path / "results"
    base = make_run(
        root, BASE_ID, [cell("8gaussians", "mlp/dsm", r, nll_grid=2.0, mmd2=0.1 + 0.01 * r) for r in range(5)]
    )
    cur = make_run(
        root, CUR_ID, [cell("8gaussians", "mlp/dsm", r, nll_grid=2.0, mmd2=0.2 + 0.01 * r + NOISE[r]) for r in range(5)]
    )
    assert compare(base, cur).exit_code == 0  # the main metric did not move
    code, doc = as_json(base, cur, "--metric", "mmd2")
    assert code == 1 and marks(doc, "worse")[0]["metric"] == "mmd2"
    assert_usage_error(invoke("compare", base, cur, "--metric", "mmd"), "unknown metric 'mmd'", "did you mean 'mmd2'")


# ------------------------------------------------------------------ tolerances
def test_tol_widens_the_band_of_one_metric(planted):
    _, base, cur = planted
    code, doc = as_json(base, cur, "--tol", "nll_grid=0.5")
    assert code == 0 and not doc["regression"]
    (row,) = [r for r in doc["rows"] if r["label"] == "mlp/dsm"]
    assert row["mark"] == "unchanged" and row["tolerance"] == pytest.approx(0.5 * NLL.mean())
    assert "within tolerance" in row["reason"]
    assert compare(base, cur, "--tol", "nll_grid=0,0.6").exit_code == 0  # an absolute band
    assert compare(base, cur, "--tol", "mmd2=0.5").exit_code == 1  # another metric's band
    assert compare(base, cur, "--rel-tol", "0.3").exit_code == 0  # the default band, widened
    # --tol is the user's last word: it beats --rel-tol either way
    assert compare(base, cur, "--rel-tol", "0.3", "--tol", "nll_grid=0.01").exit_code == 1


@pytest.mark.parametrize(
    "value",
    [
        "nll_grid",
        "nll_grid=",
        "=0.5",
        " =0.5",
        "nll_grid=abc",
        "nll_grid=-0.1",
        "nll_grid=0.1,-1",
        "nll_grid=0.1,0.2,0.3",
        "nll_grid=0.1,",
        "nll_grid=nan",
        "nll_grid=inf",
        "nll_grid=0.1,inf",
    ],
)
def test_bad_tol_values_are_one_line_exit_2(planted, value):
    _, base, cur = planted
    assert_usage_error(invoke("compare", base, cur, "--tol", value), "--tol", repr(value))


@pytest.mark.parametrize(
    "args,fragment",
    [
        (("--rel-tol", "-0.1"), "--rel-tol"),
        (("--abs-tol", "-1"), "--abs-tol"),
        (("--alpha", "0"), "--alpha"),
        (("--alpha", "1"), "--alpha"),
        (("--format", "xml"), "--format"),
    ],
)
def test_bad_compare_options_are_one_line_exit_2(planted, args, fragment):
    _, base, cur = planted
    assert_usage_error(invoke("compare", base, cur, *args), fragment)


def test_tol_for_an_unknown_metric_is_refused(planted):
    _, base, cur = planted
    r = invoke("compare", base, cur, "--tol", "nll_gird=0.5")
    assert r.exit_code == 2, (r.exit_code, r.stdout[:200])
    assert "nll_gird" in r.stderr and "did you mean 'nll_grid'" in r.stderr


def test_tolerance_precedence_metric_then_suite_then_user(tmp_path):
    """The metric's own band (run.json metric_tolerances) < the suite's tolerances < --tol."""
    root = tmp_path / "results"
    own = {"metric_tolerances": {"nll_grid": [0.5, 0.0]}}
    suite = {"name": "s", "version": 1, "metrics": [], "groups": [], "status_only": []}

    def pair(name, **meta):
        base = make_run(root / name, BASE_ID, dsm_cells(), **meta)
        cur = make_run(root / name, CUR_ID, dsm_cells(shift=0.5), **meta)
        return base, cur

    base, cur = pair("metric", **own)  # the metric's declared band hides the change
    code, doc = as_json(base, cur)
    assert code == 0 and doc["rows"][0]["tolerance"] == pytest.approx(0.5 * NLL.mean())

    base, cur = pair("suite", **own, suite={**suite, "tolerances": {"nll_grid": [0.01, 0.0]}})
    code, doc = as_json(base, cur)  # the suite's band beats the metric's
    assert code == 1 and doc["rows"][0]["tolerance"] == pytest.approx(0.01 * NLL.mean())

    code, doc = as_json(base, cur, "--tol", "nll_grid=0,0.6")  # the user's beats the suite's
    assert code == 0 and doc["rows"][0]["tolerance"] == pytest.approx(0.6)

    base, cur = pair("loose-suite", suite={**suite, "tolerances": {"nll_grid": [0.5, 0.0]}})
    assert compare(base, cur).exit_code == 0  # a suite band alone widens the default


# ------------------------------------------------------------------ statuses
def test_a_newly_failing_cell_exits_1(tmp_path):
    root = tmp_path / "results"
    base = make_run(root, BASE_ID, dsm_cells() + kmeans_cells())
    failing = kmeans_cells(("done", "done", "error", "done"), {2: "RuntimeError: out of memory\nTraceback ..."})
    cur = make_run(root, CUR_ID, dsm_cells() + failing)
    r = compare(base, cur)
    assert r.exit_code == 1 and "newly failing" in r.stdout and "kmeans/kmeans" in r.stdout
    code, doc = as_json(base, cur)
    (row,) = marks(doc, "newly failing")
    assert (row["task"], row["label"], row["metric"]) == ("8gaussians", "kmeans/kmeans", "status")
    assert row["reason"] == "rep 2 done in baseline, now failing: rep 2: error — RuntimeError: out of memory"
    assert doc["counts"]["newly failing"] == 1 and doc["counts"]["worse"] == 0
    # the other way round the cell is fixed: good news, exit 0
    code, doc = as_json(cur, base)
    assert code == 0 and marks(doc, "fixed")[0]["label"] == "kmeans/kmeans"


@pytest.mark.parametrize("status", ["diverged", "timeout"])
def test_every_failed_status_counts_as_newly_failing(tmp_path, status):
    root = tmp_path / "results"
    base = make_run(root, BASE_ID, kmeans_cells())
    cur = make_run(root, CUR_ID, kmeans_cells(("done", status, "done", "done")))
    code, doc = as_json(base, cur)
    assert code == 1 and f"rep 1: {status}" in marks(doc, "newly failing")[0]["reason"]


STATUS_ONLY_SUITE = {
    "name": "mini",
    "version": 1,
    "profile": "smoke",
    "metrics": [],
    "tolerances": {},
    "groups": [],
    "status_only": ["rings linear/pca"],
}


def pca_cells(shift=0.0, statuses=("done",) * 5):
    return [
        cell(
            "rings",
            "linear/pca",
            r,
            status=s,
            reason="ValueError: singular matrix" if s != "done" else None,
            nll_grid=float(5.0 + 0.1 * r + shift + NOISE[r]) if s == "done" else math.nan,
        )
        for r, s in enumerate(statuses)
    ]


def test_status_only_pairs_are_never_worse(tmp_path):
    root = tmp_path / "results"
    base = make_run(root, BASE_ID, dsm_cells() + pca_cells(), suite=STATUS_ONLY_SUITE)
    cur = make_run(root, CUR_ID, dsm_cells() + pca_cells(shift=10.0), suite=STATUS_ONLY_SUITE)
    code, doc = as_json(base, cur, "--rel-tol", "0")
    assert code == 0 and not doc["regression"]
    assert not [row for row in doc["rows"] if row["label"] == "linear/pca" and row["mark"] in ("worse", "better")]
    assert [row["label"] for row in doc["rows"]] == ["mlp/dsm"]  # the judged pair is still compared
    # without the suite's status_only the same numbers are a regression
    plain_base = make_run(root / "plain", BASE_ID, pca_cells())
    plain_cur = make_run(root / "plain", CUR_ID, pca_cells(shift=10.0))
    assert compare(plain_base, plain_cur).exit_code == 1
    # status-only in either side's run.json is enough (e.g. an older baseline run)
    assert compare(plain_base, cur).exit_code == 0


def test_a_newly_failing_status_only_cell_is_a_regression(tmp_path):
    root = tmp_path / "results"
    base = make_run(root, BASE_ID, pca_cells(), suite=STATUS_ONLY_SUITE)
    cur = make_run(root, CUR_ID, pca_cells(10.0, ("done", "done", "done", "error", "done")), suite=STATUS_ONLY_SUITE)
    code, doc = as_json(base, cur)
    assert code == 1
    (row,) = marks(doc, "newly failing")
    assert (row["label"], row["metric"]) == ("linear/pca", "status") and "rep 3: error" in row["reason"]
    assert not marks(doc, "worse")


# ------------------------------------------------------------------ baseline files as a side
def test_comparing_a_baseline_file_equals_comparing_its_run(tmp_path):
    root = tmp_path / "results"
    base_cells = dsm_cells() + kmeans_cells() + pca_cells() + [cell("digits-classify", "mlp/dsm", 0, accuracy=0.9)]
    cur_cells = (
        dsm_cells(shift=0.5)
        + kmeans_cells(("done", "error", "done", "done"), {1: "boom"})
        + pca_cells(shift=10.0)
        + [cell("rings", "kmeans/kmeans", 0, nll_grid=1.0)]  # new
    )
    base = make_run(root, BASE_ID, base_cells, suite=STATUS_ONLY_SUITE)
    cur = make_run(root, CUR_ID, cur_cells, suite=STATUS_ONLY_SUITE)
    saved = invoke("baseline", "save", BASE_ID, "--name", "ref", "--root", root)
    assert saved.exit_code == 0, saved.stderr
    baseline = root / "baselines" / "ref.json"

    code_run, from_run = as_json(base, cur)
    code_file, from_file = as_json(baseline, cur)
    assert code_run == code_file == 1
    assert from_file["baseline"] == "baseline ref" and from_run["baseline"] == f"run {BASE_ID}"
    for doc in (from_run, from_file):
        del doc["baseline"]
    assert from_file == from_run
    assert {(r["label"], r["mark"]) for r in from_run["rows"]} >= {
        ("mlp/dsm", "worse"),
        ("kmeans/kmeans", "newly failing"),
        ("mlp/dsm", "gone"),
        ("kmeans/kmeans", "new"),
    }
    # the same holds for every output format and for the baseline as CURRENT
    for fmt in ("table", "md"):
        a, b = compare(base, cur, fmt=fmt), compare(baseline, cur, fmt=fmt)
        assert a.exit_code == b.exit_code == 1
        assert a.stdout.replace(f"run {BASE_ID}", "X") == b.stdout.replace("baseline ref", "X")
    code, doc = as_json(cur, baseline)
    code_run, doc_run = as_json(cur, base)
    assert code == code_run and [r["mark"] for r in doc["rows"]] == [r["mark"] for r in doc_run["rows"]]


def test_a_baseline_compared_with_its_own_run_is_clean(planted):
    root, base, _ = planted
    path = write_baseline(build_baseline(read_results(base), load_meta(base), "own"), root / "own.json")
    code, doc = as_json(path, base)
    assert code == 0 and doc["counts"]["unchanged"] == 2 and sum(doc["counts"].values()) == 2
    assert all(row["test"] == "paired t-test + bootstrap CI" for row in doc["rows"])  # data seeds kept: paired


def test_the_results_parquet_is_a_side_too(planted):
    _, base, cur = planted
    code, doc = as_json(base / "results.parquet", cur / "results.parquet")
    assert code == 1 and marks(doc, "worse")[0]["label"] == "mlp/dsm"


# ------------------------------------------------------------------ JSON fidelity
def test_json_keeps_small_p_values(planted):
    _, base, cur = planted
    table = compare_sides(load_side(str(base), base), load_side(str(cur), cur), CompareConfig())
    expected = table.set_index("label").loc["mlp/dsm"]
    assert 0 < expected["p_value"] < 1e-9  # a very clear change
    _, doc = as_json(base, cur)
    (row,) = marks(doc, "worse")
    assert row["p_value"] == pytest.approx(expected["p_value"], rel=1e-6)
    assert row["p_holm"] == pytest.approx(expected["p_holm"], rel=1e-6)


def test_compare_fits_a_log_of_80_columns():
    """Below WIDE columns each changed row is a block (mark, cell, metric, old → new, then
    why) instead of a table squeezed to one-character columns; no line passes 80."""
    import io

    import pandas as pd
    from rich.console import Console

    from ebmbench.compare_view import render_table

    row = {
        "mark": "worse",
        "task": "digits-classify",
        "label": "autoencoder[hidden=64]/margin_square[candidates=8]",
        "metric": "accuracy",
        "base_mean": 0.9312,
        "cur_mean": 0.8803,
        "delta": -0.0509,
        "rel_delta": -0.0547,
        "test": "paired t",
        "p_holm": 0.004,
        "reason": "outside the band (rel 5 %, abs 0.01) and supported over 4 seeds: paired t-test, "
        "p_holm = 0.004, bootstrap 95 % CI of the change [-0.07, -0.03]",
    }
    out = io.StringIO()
    render_table(pd.DataFrame([row]), "baseline ci", "run X", Console(file=out, width=80), all_rows=True)
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    text = " ".join(out.getvalue().split())
    assert "autoencoder[hidden=64]/margin_square[candidates=8] · accuracy: 0.9312 → 0.8803 (-0.0509 (-5.5%))" in text
    assert "bootstrap 95 % CI of the change" in text
