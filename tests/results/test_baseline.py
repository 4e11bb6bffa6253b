"""Baseline files (ebmbench/results/baseline.py) and `ebmbench baseline save`: the round
trip build -> write -> read, what a file keeps and leaves out, its one-cell-per-line
layout, refused inputs, and `load_side`'s four forms of a comparison side.

Every run here is synthetic, written with `RunStore` (no cell is trained).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from support import assert_usage_error, invoke

from ebmbench.errors import UsageError
from ebmbench.results.baseline import BASELINE_FORMAT, build_baseline, load_side, read_baseline, write_baseline
from ebmbench.results.runs import load_meta, read_results
from ebmbench.results.store import RunStore

DIRECTIONS = {"nll_grid": "lower", "mmd2": "lower", "accuracy": "higher", "beta_cal": "none"}
MAIN = {"8gaussians": "nll_grid", "rings": "nll_grid", "digits-classify": "accuracy"}
HASHES = {
    "tasks": {"8gaussians": "t-8g", "rings": "t-rings", "digits-classify": "t-dc", "moons": "t-moons"},
    "models": {"mlp": "m-mlp", "kmeans": "m-km", "linear": "m-lin"},
    "methods": {"dsm": "h-dsm", "kmeans": "h-km", "pca": "h-pca", "nce": "h-nce"},
    "samplers": {"langevin": "s-lan", "hmc": "s-hmc"},
    "metrics": {m: f"x-{m}" for m in DIRECTIONS},
}
RUN_A = "20260101-000000-aaaaaaaaaaaa"
RUN_B = "20260102-000000-bbbbbbbbbbbb"


def cell(task, label, rep, status="done", reason=None, **metrics):
    return {"task": task, "label": label, "rep": rep, "status": status, "reason": reason, **metrics}


def make_run(root, run_id, cells, *, status="finished", suite=None, **meta):
    """A finished (or not) run under ROOT/runs with one stored row per cell."""
    full = {
        "run_id": run_id,
        "status": "running",
        "profile": {"name": "smoke"},
        "base_seed": 0,
        "metric_directions": DIRECTIONS,
        "main_metrics": MAIN,
        "metric_tolerances": {"mmd2": [0.0, 0.001]},
        "suite": suite,
        "ebmbench_version": "9.9.test",
        "torch": "2.test",
        "python": "3.test",
        "ebmbench_git_commit": "c0ffee",
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
                "model": model.split("[")[0],
                "method": method.split("[")[0],
                "model_params": "{}",
                "method_params": '{"lr":1000}' if "[" in method else "{}",
                "seed": 7 + c["rep"],
                "data_seed": 1000 + c["rep"],
                "profile": "smoke",
                "device": "cpu",
                "train_time_s": 0.5,
                **c,
            }
        )
    if status == "running":
        return store.dir
    store.finish(status)
    return store.dir


SUITE = {
    "name": "mini",
    "version": 2,
    "profile": "smoke",
    "metrics": [],
    "tolerances": {"nll_grid": [0.2, 0.0]},
    "groups": [],
    "status_only": ["rings linear/pca"],
}


def varied_cells():
    """Per-seed values, every status, NaN and +-inf, a status-only pair, a skipped pair."""
    return [
        *(cell("8gaussians", "mlp/dsm", r, nll_grid=2.0 + 0.125 * r, mmd2=0.01 * r) for r in range(4)),
        cell("8gaussians", "kmeans/kmeans", 0, nll_grid=math.inf),
        cell("8gaussians", "kmeans/kmeans", 1, nll_grid=-math.inf),
        cell("8gaussians", "kmeans/kmeans", 2, nll_grid=math.nan),
        cell("8gaussians", "kmeans/kmeans", 3, status="error", reason="RuntimeError: boom\n  at line 3"),
        cell("8gaussians", "mlp/nce", 0, status="diverged", reason="loss is nan at step 3"),
        cell("8gaussians", "mlp/nce", 1, status="timeout", reason="x" * 500),
        *(cell("rings", "linear/pca", r, nll_grid=5.0 + r) for r in range(2)),
        cell("digits-classify", "mlp/dsm", 0, accuracy=0.75, nll_grid=1.0),
        cell("horn", "kmeans/kmeans", 0, status="skipped", reason="model kmeans supports unconditional tasks"),
    ]


@pytest.fixture
def varied(tmp_path):
    root = tmp_path / "results"
    return root, make_run(root, RUN_A, varied_cells(), suite=SUITE)


def cells_by_key(doc):
    return {(c["task"], c["label"], c["rep"]): c for c in doc["cells"]}


# ------------------------------------------------------------------ build
def test_build_keeps_per_seed_values_statuses_and_what_decides_comparability(varied):
    _, run_dir = varied
    doc = build_baseline(read_results(run_dir), load_meta(run_dir), "b1")
    assert doc["ebmbench_baseline"] == BASELINE_FORMAT and doc["name"] == "b1" and doc["run_id"] == RUN_A
    assert doc["profile"] == "smoke" and doc["base_seed"] == 0 and doc["suite"]["name"] == "mini"
    assert doc["versions"] == {"ebmbench": "9.9.test", "torch": "2.test", "python": "3.test", "git_commit": "c0ffee"}
    cells = cells_by_key(doc)
    assert len(cells) == 13  # the skipped pair is left out
    assert not any(task == "horn" for task, _, _ in cells)
    for r in range(4):  # per seed, main metric only, and the data seed that pairing needs
        c = cells[("8gaussians", "mlp/dsm", r)]
        assert c["values"] == {"nll_grid": 2.0 + 0.125 * r} and c["data_seed"] == 1000 + r
        assert c["status"] == "done" and c["profile"] == "smoke" and "seed" not in c
    assert cells[("digits-classify", "mlp/dsm", 0)]["values"] == {"accuracy": 0.75}
    assert cells[("8gaussians", "kmeans/kmeans", 3)]["status"] == "error"
    assert cells[("8gaussians", "kmeans/kmeans", 3)]["reason"] == "RuntimeError: boom"  # one line
    assert len(cells[("8gaussians", "mlp/nce", 1)]["reason"]) == 200
    assert cells[("8gaussians", "mlp/nce", 0)]["values"] == {}
    assert doc["main_metrics"] == {"8gaussians": "nll_grid", "digits-classify": "accuracy", "rings": "nll_grid"}
    assert doc["metric_directions"] == {"accuracy": "higher", "nll_grid": "lower"}
    assert doc["metric_tolerances"] == {}  # mmd2's band is not kept: mmd2 is not compared
    assert doc["source_hashes"] == {
        "tasks": {"8gaussians": "t-8g", "digits-classify": "t-dc", "rings": "t-rings"},
        "models": {"kmeans": "m-km", "linear": "m-lin", "mlp": "m-mlp"},
        "methods": {"dsm": "h-dsm", "kmeans": "h-km", "nce": "h-nce", "pca": "h-pca"},
        "samplers": {"hmc": "s-hmc", "langevin": "s-lan"},
        "metrics": {"accuracy": "x-accuracy", "nll_grid": "x-nll_grid"},
    }


def test_status_only_cells_carry_no_values(varied):
    _, run_dir = varied
    cells = cells_by_key(build_baseline(read_results(run_dir), load_meta(run_dir), "b"))
    for r in range(2):
        c = cells[("rings", "linear/pca", r)]
        assert c["status"] == "done" and c["values"] == {}


def test_non_finite_values_are_strict_json(varied, tmp_path):
    _, run_dir = varied
    doc = build_baseline(read_results(run_dir), load_meta(run_dir), "b")
    path = write_baseline(doc, tmp_path / "b.json")

    def refuse(token):
        raise AssertionError(f"non-standard JSON token {token}")

    json.loads(path.read_text(), parse_constant=refuse)  # no NaN / Infinity tokens
    cells = cells_by_key(doc)
    assert cells[("8gaussians", "kmeans/kmeans", 0)]["values"] == {"nll_grid": "inf"}
    assert cells[("8gaussians", "kmeans/kmeans", 1)]["values"] == {"nll_grid": "-inf"}
    assert cells[("8gaussians", "kmeans/kmeans", 2)]["values"] == {}  # NaN: no value


def test_metrics_named_explicitly_and_the_suites_own_metrics(tmp_path):
    root = tmp_path / "results"
    cells = [cell("8gaussians", "mlp/dsm", r, nll_grid=2.0, mmd2=0.5 + r, beta_cal=1.0) for r in range(2)]
    run_dir = make_run(root, RUN_A, cells, suite={**SUITE, "metrics": ["mmd2"], "status_only": []})
    rows, meta = read_results(run_dir), load_meta(run_dir)
    doc = build_baseline(rows, meta, "b")
    assert cells_by_key(doc)[("8gaussians", "mlp/dsm", 1)]["values"] == {"nll_grid": 2.0, "mmd2": 1.5}
    assert doc["metric_tolerances"] == {"mmd2": [0.0, 0.001]}  # a compared metric's own band is kept
    doc = build_baseline(rows, meta, "b", ["beta_cal"])
    assert cells_by_key(doc)[("8gaussians", "mlp/dsm", 0)]["values"] == {"beta_cal": 1.0}
    assert doc["metric_directions"] == {"beta_cal": "none"}
    with pytest.raises(UsageError, match="unknown metric 'mmd'; did you mean 'mmd2'"):
        build_baseline(rows, meta, "b", ["mmd"])


# ------------------------------------------------------------------ write / read
def test_round_trip_write_then_read(varied, tmp_path):
    _, run_dir = varied
    rows, meta = read_results(run_dir), load_meta(run_dir)
    doc = build_baseline(rows, meta, "b1")
    path = write_baseline(doc, tmp_path / "deep" / "er" / "b1.json")  # folders are created
    assert json.loads(path.read_text()) == doc
    assert not list(path.parent.glob("*.tmp"))

    side = read_baseline(path)
    assert side.name == "baseline b1"
    got = side.rows.set_index(["task", "label", "rep"]).sort_index()
    want = rows[rows["status"] != "skipped"].set_index(["task", "label", "rep"]).sort_index()
    assert list(got.index) == list(want.index)
    assert got["status"].tolist() == want["status"].tolist()
    assert got["data_seed"].tolist() == want["data_seed"].tolist()
    dsm = got.loc[("8gaussians", "mlp/dsm")]
    assert dsm["nll_grid"].tolist() == [2.0, 2.125, 2.25, 2.375]  # per seed, exactly
    km = got.loc[("8gaussians", "kmeans/kmeans")]["nll_grid"]
    assert km[0] == math.inf and km[1] == -math.inf and math.isnan(km[2]) and math.isnan(km[3])
    assert got.loc[("digits-classify", "mlp/dsm", 0), "accuracy"] == 0.75
    assert got.loc[("rings", "linear/pca"), "nll_grid"].isna().all()  # status-only: no values
    assert "mmd2" not in got.columns  # only the compared metrics are kept

    m = side.meta
    assert m["run_id"] == RUN_A and m["baseline"] == "b1" and m["base_seed"] == 0
    assert m["main_metrics"] == doc["main_metrics"] and m["metric_directions"] == doc["metric_directions"]
    assert m["suite"]["status_only"] == ["rings linear/pca"] and m["suite"]["tolerances"] == {"nll_grid": [0.2, 0.0]}
    assert m["entries"]["methods"] == {n: {"source_hash": h} for n, h in doc["source_hashes"]["methods"].items()}
    assert m["entries"]["tasks"]["8gaussians"] == {"source_hash": "t-8g"}
    assert m["versions"]["git_commit"] == "c0ffee"


def test_one_line_per_cell_in_a_stable_order(varied, tmp_path):
    _, run_dir = varied
    doc = build_baseline(read_results(run_dir), load_meta(run_dir), "b")
    text = write_baseline(doc, tmp_path / "b.json").read_text()
    lines = text.splitlines()
    start = lines.index('  "cells": [')
    assert lines[-2:] == ["  ]", "}"]
    cell_lines = lines[start + 1 : -2]
    assert len(cell_lines) == len(doc["cells"]) == 13
    parsed = [json.loads(line.strip().rstrip(",")) for line in cell_lines]
    assert parsed == doc["cells"]
    keys = [(c["task"], c["label"], c["rep"]) for c in parsed]
    assert keys == sorted(keys)
    head = json.loads("\n".join(lines[:start]).rstrip(",") + "\n}")
    assert list(head) == sorted(head)  # keys sorted: reviewable diffs
    # saving the same run again changes nothing but the time stamp
    again = build_baseline(read_results(run_dir), load_meta(run_dir), "b")
    assert write_baseline({**again, "saved": doc["saved"]}, tmp_path / "c.json").read_text() == text


def test_a_run_of_only_skipped_cells_writes_a_valid_file(tmp_path):
    run_dir = make_run(tmp_path, RUN_A, [cell("horn", "kmeans/kmeans", 0, status="skipped", reason="unconditional")])
    doc = build_baseline(read_results(run_dir), load_meta(run_dir), "empty")
    path = write_baseline(doc, tmp_path / "empty.json")
    assert json.loads(path.read_text())["cells"] == [] and doc["main_metrics"] == {}
    assert read_baseline(path).rows.empty


def test_baseline_save_of_a_run_without_rows_does_not_crash(tmp_path):
    make_run(tmp_path, RUN_A, [])
    r = invoke("baseline", "save", RUN_A, "--name", "empty", "--root", tmp_path)
    assert r.exit_code in (0, 2) and isinstance(r.exception, SystemExit | type(None)), repr(r.exception)


# ------------------------------------------------------------------ baseline save
def test_baseline_save_writes_root_baselines_name_json(varied):
    root, _ = varied
    r = invoke("baseline", "save", "--name", "ci", "--root", root)
    assert r.exit_code == 0, r.stderr
    path = root / "baselines" / "ci.json"
    assert r.stdout.strip() == f"baseline ci: {path} (13 cells, 7 values, run {RUN_A})"
    doc = json.loads(path.read_text())
    assert doc["name"] == "ci" and doc["run_id"] == RUN_A


def test_baseline_save_by_run_prefix_into_dir_with_metric(varied, tmp_path):
    root, _ = varied
    make_run(root, RUN_B, [cell("8gaussians", "mlp/dsm", 0, nll_grid=9.0, mmd2=0.25)])
    r = invoke("baseline", "save", "20260101", "--name", "old", "--root", root, "--dir", tmp_path / "here")
    assert r.exit_code == 0, r.stderr
    assert json.loads((tmp_path / "here" / "old.json").read_text())["run_id"] == RUN_A
    r = invoke("baseline", "save", "--name", "new", "--root", root, "--metric", "mmd2,nll_grid")
    assert r.exit_code == 0, r.stderr
    doc = json.loads((root / "baselines" / "new.json").read_text())
    assert doc["run_id"] == RUN_B  # the latest run by default
    assert doc["cells"][0]["values"] == {"mmd2": 0.25, "nll_grid": 9.0}


@pytest.mark.parametrize("status", ["running", "interrupted", "failed"])
def test_baseline_save_refuses_a_run_that_is_not_finished(tmp_path, status):
    make_run(tmp_path, RUN_A, [cell("8gaussians", "mlp/dsm", 0, nll_grid=2.0)], status=status)
    r = invoke("baseline", "save", RUN_A, "--name", "b", "--root", tmp_path)
    assert_usage_error(r, RUN_A, status, "finished run")
    assert not (tmp_path / "baselines").exists()


@pytest.mark.parametrize(
    "args,fragments",
    [
        (("--name", "../escape"), ("--name",)),
        (("--name", ""), ("--name",)),
        (("--name", "b", "--metric", "nll_gird"), ("unknown metric 'nll_gird'", "did you mean 'nll_grid'")),
        (("nosuchrun", "--name", "b"), ("unknown run 'nosuchrun'",)),
    ],
)
def test_baseline_save_bad_usage_is_one_line(varied, args, fragments):
    root, _ = varied
    assert_usage_error(invoke("baseline", "save", *args, "--root", root), *fragments)
    assert not (root / "baselines").exists()


def test_baseline_save_without_runs_is_one_line(tmp_path):
    assert_usage_error(invoke("baseline", "save", "--name", "b", "--root", tmp_path), "no runs")


# ------------------------------------------------------------------ bad files
def _cmp(path, other):
    return invoke("compare", path, other)


@pytest.mark.parametrize(
    "text,fragments",
    [
        ("{not json", ("cannot read baseline",)),
        ("", ("cannot read baseline",)),
        ('{"a": 1}', ("is not an ebmbench baseline file",)),
        ("[1, 2]", ("is not an ebmbench baseline file",)),
        ('{"ebmbench_baseline": 2, "cells": []}', ("is not an ebmbench baseline file", "format 1")),
        ('{"ebmbench_baseline": 1}', ("is not an ebmbench baseline file",)),
    ],
)
def test_a_bad_or_unknown_json_file_is_one_line_exit_2(tmp_path, varied, text, fragments):
    _, run_dir = varied
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    assert_usage_error(_cmp(bad, run_dir), "bad.json", *fragments)
    assert_usage_error(_cmp(run_dir, bad), "bad.json", *fragments)
    with pytest.raises(UsageError):
        read_baseline(bad)


def test_a_run_json_is_not_a_baseline(varied):
    _, run_dir = varied
    assert_usage_error(_cmp(run_dir / "run.json", run_dir), "run.json", "not an ebmbench baseline file")


def test_missing_files_are_one_line(varied, tmp_path):
    _, run_dir = varied
    assert_usage_error(_cmp(tmp_path / "nosuch.json", run_dir), "nosuch.json", "no such file")
    assert_usage_error(_cmp(run_dir, tmp_path / "nosuch.parquet"), "nosuch.parquet", "no such file")


@pytest.mark.parametrize(
    "cells",
    [
        "5",
        "[1]",
        '[{"task": "8gaussians", "label": "mlp/dsm", "rep": 0, "status": "done", "values": {"nll_grid": "abc"}}]',
        '[{"task": "8gaussians", "label": "mlp/dsm", "rep": 0, "status": "done", "values": [1]}]',
    ],
    ids=["cells-not-a-list", "cell-not-an-object", "value-not-a-number", "values-not-an-object"],
)
def test_a_baseline_with_malformed_cells_is_one_line_exit_2(tmp_path, varied, cells):
    _, run_dir = varied
    bad = tmp_path / "bad.json"
    bad.write_text('{"ebmbench_baseline": 1, "name": "bad", "cells": ' + cells + "}")
    r = _cmp(bad, run_dir)
    assert r.exit_code == 2 and isinstance(r.exception, SystemExit), (r.exit_code, repr(r.exception))
    assert len(r.stderr.strip().splitlines()) == 1 and "bad.json" in r.stderr


# ------------------------------------------------------------------ load_side
def _core(side):
    cols = ["task", "label", "rep", "status", "data_seed", "nll_grid"]
    rows = side.rows[side.rows["status"] != "skipped"]
    return rows[cols].sort_values(["task", "label", "rep"]).reset_index(drop=True)


def test_load_side_accepts_run_id_prefix_folder_parquet_and_baseline(varied, tmp_path):
    root, run_dir = varied
    make_run(root, RUN_B, [cell("8gaussians", "mlp/dsm", 0, nll_grid=9.0)])
    doc = build_baseline(read_results(run_dir), load_meta(run_dir), "bl")
    baseline = write_baseline(doc, tmp_path / "bl.json")

    by_id = load_side(RUN_A, root)
    by_prefix = load_side("20260101", root)
    by_folder = load_side(str(run_dir), tmp_path / "elsewhere")
    by_parquet = load_side(str(run_dir / "results.parquet"), tmp_path / "elsewhere")
    by_file = load_side(str(baseline), tmp_path / "elsewhere")
    assert by_id.name == by_prefix.name == by_folder.name == f"run {RUN_A}"
    assert by_parquet.name == str(run_dir / "results.parquet") and by_file.name == "baseline bl"
    for side in (by_id, by_prefix, by_folder, by_parquet):
        assert side.meta["run_id"] == RUN_A and side.meta["main_metrics"] == MAIN  # run.json beside the parquet
        assert len(side.rows) == 14
    expected = _core(by_id)
    for side in (by_prefix, by_folder, by_parquet):
        pd.testing.assert_frame_equal(_core(side), expected)
    from_file = _core(by_file)
    # what a baseline keeps: main metric values (nll_grid is not digits-classify's), none of status-only pairs
    ok = expected["nll_grid"].notna() & expected["label"].ne("linear/pca") & expected["task"].ne("digits-classify")
    pd.testing.assert_frame_equal(from_file[ok], expected[ok], check_dtype=False)
    pd.testing.assert_frame_equal(
        from_file.drop(columns="nll_grid"), expected.drop(columns="nll_grid"), check_dtype=False
    )


def test_load_side_of_a_parquet_outside_a_run_has_no_meta(varied, tmp_path):
    _, run_dir = varied
    loose = tmp_path / "loose.parquet"
    loose.write_bytes((run_dir / "results.parquet").read_bytes())
    side = load_side(str(loose), Path("/nonexistent"))
    assert side.meta == {} and len(side.rows) == 14


def test_load_side_errors(varied, tmp_path):
    root, _ = varied
    make_run(root, "20260101-000000-aaaabbbbcccc", [])
    with pytest.raises(UsageError, match="ambiguous"):
        load_side("20260101", root)
    with pytest.raises(UsageError, match="unknown run 'zzz'"):
        load_side("zzz", root)
    torn = tmp_path / "torn.parquet"
    torn.write_bytes(b"PAR1 not a parquet file")
    with pytest.raises(UsageError, match="cannot read"):
        load_side(str(torn), root)
