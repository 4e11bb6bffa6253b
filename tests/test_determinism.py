"""Determinism: the same command gives identical numbers; another --seed gives others.

Every random draw takes a generator seeded by hashing (base seed, cell identity),
so two runs of one command must agree to the last bit, metrics and curves alike.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from support import SLICE_METRICS, SMOKE, invoke, only_run

from ebmbench.results.runs import load_meta, load_results

IDENTITY = ["task", "model", "method", "rep", "seed", "data_seed", "cell_id"]


def metric_values(run_dir):
    df = load_results(run_dir)
    metrics = [m for m in load_meta(run_dir)["metric_directions"] if m in df.columns]
    assert metrics, df.columns
    (row,) = df.to_dict("records")
    return {m: row[m] for m in metrics}, row


def rerun(tmp_path, *extra):
    r = invoke("run", *SMOKE, *extra, "--out", tmp_path)
    assert r.exit_code == 0, (r.output, r.stderr)
    return only_run(tmp_path)


@pytest.fixture(scope="module")
def again(smoke_run, tmp_path_factory):
    return rerun(tmp_path_factory.mktemp("again"))


def test_same_command_twice_gives_identical_metrics(smoke_run, again):
    _, first = smoke_run
    a, row_a = metric_values(first)
    b, row_b = metric_values(again)
    assert row_a["status"] == row_b["status"] == "done"
    assert set(a) == set(SLICE_METRICS)
    assert all(math.isfinite(v) for v in a.values()), a
    assert a == b  # exactly: no tolerance
    assert [row_a[k] for k in IDENTITY] == [row_b[k] for k in IDENTITY]
    assert load_results(first)["run_id"][0] != load_results(again)["run_id"][0]


def test_same_command_twice_gives_identical_curves(smoke_run, again):
    _, first = smoke_run
    cols = ["step", "name", "value"]
    ca = pd.read_parquet(first / "curves.parquet")[cols]
    cb = pd.read_parquet(again / "curves.parquet")[cols]
    assert len(ca) > 0
    pd.testing.assert_frame_equal(ca, cb)


def test_different_seed_gives_different_values(smoke_run, tmp_path):
    _, first = smoke_run
    other = rerun(tmp_path, "--seed", "1")
    a, row_a = metric_values(first)
    b, row_b = metric_values(other)
    assert row_a["seed"] != row_b["seed"] and row_a["data_seed"] != row_b["data_seed"]
    # continuous metrics of different data and initialisations cannot coincide
    for m in ("mmd2", "energy_gap", "auroc_noise"):
        assert a[m] != b[m], m
