"""The results store: files, columns and run.json of a real run; incremental atomic
writes; run lookup (ebmbench/results/)."""

from __future__ import annotations

import json
import platform
import re
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

import ebmbench
from support import SLICE_METRICS
from ebmbench.errors import UsageError
from ebmbench.registry import LoadConfig, load_registry
from ebmbench.results.runs import find_run, load_curves, load_meta, load_results
from ebmbench.results.store import RunStore, StoreError

RESULT_COLUMNS = {
    "run_id",
    "cell_id",
    "task",
    "model",
    "method",
    "label",
    "model_params",
    "method_params",
    "rep",
    "seed",
    "data_seed",
    "device",
    "status",
    "reason",
    "traceback",
    "train_time_s",
    "eval_time_s",
    "peak_mem_mb",
    "grad_evals",
    "wall_time_s",
    "cell_key",
    "cached_from",
    "profile",
}
CURVE_COLUMNS = [
    "run_id",
    "cell_id",
    "task",
    "model",
    "method",
    "label",
    "rep",
    "seed",
    "step",
    "time_s",
    "name",
    "value",
]
ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------- a real run's files
def test_run_folder_has_the_three_files(smoke_run):
    _, run_dir = smoke_run
    for name in ("results.parquet", "curves.parquet", "run.json"):
        assert (run_dir / name).is_file(), name
    assert not list(run_dir.glob(".*.tmp")), "a temporary file was left behind"
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{12}", run_dir.name)


def test_results_parquet_is_one_tidy_row_per_cell(smoke_run):
    _, run_dir = smoke_run
    df = pd.read_parquet(run_dir / "results.parquet")
    assert RESULT_COLUMNS <= set(df.columns), RESULT_COLUMNS - set(df.columns)
    assert len(df) == 1
    row = df.iloc[0]
    assert (row.task, row.model, row.method, row.label) == ("8gaussians", "kmeans", "kmeans", "kmeans/kmeans")
    assert row.status == "done" and row.rep == 0 and row.device == "cpu"
    assert json.loads(row.model_params) == {} and json.loads(row.method_params) == {}
    assert row.run_id == run_dir.name
    assert row.train_time_s > 0 and row.eval_time_s > 0 and row.peak_mem_mb > 10
    for metric in SLICE_METRICS:
        assert metric in df.columns and pd.notna(row[metric]), metric
    # metric directions travel with the file
    meta = json.loads(pq.read_schema(run_dir / "results.parquet").metadata[b"ebmbench"])
    assert meta["run_id"] == run_dir.name and meta["directions"]["mmd2"] == "lower"


def test_curves_parquet_columns(smoke_run):
    _, run_dir = smoke_run
    curves = pd.read_parquet(run_dir / "curves.parquet")
    assert list(curves.columns) == CURVE_COLUMNS
    assert {"loss", "energy_gap"} <= set(curves["name"])
    loss = curves[curves["name"] == "loss"].sort_values("step")
    assert loss["step"].is_monotonic_increasing and len(loss) >= 2
    # Lloyd's algorithm never increases the inertia
    assert (loss["value"].diff().dropna() <= 1e-6).all()


def test_run_json_provenance(smoke_run):
    _, run_dir = smoke_run
    meta = load_meta(run_dir)
    assert meta["ebmbench_version"] == ebmbench.__version__
    assert meta["status"] == "finished" and meta["run_id"] == run_dir.name
    assert meta["started"] <= meta["ended"]
    assert meta["torch"] == torch.__version__
    assert meta["python"] == platform.python_version() == sys.version.split()[0]
    assert meta["device"] == "cpu" and meta["profile"]["name"] == "smoke"
    assert meta["n_cells"] == 1
    assert "git_commit" in meta  # None outside a repository
    assert meta["command"][0] == "ebmbench"
    assert "run" in meta["command"] and "8gaussians" in meta["command"] and "--profile" in meta["command"]
    plugins = {p["name"]: p for p in meta["plugins"]}
    assert plugins["methods.kmeans"]["version"] == ebmbench.__version__
    assert plugins["methods.kmeans"]["status"] == "loaded"
    for kind, entries in meta["entries"].items():
        for name, e in entries.items():
            assert e["version"] and e["dist"] and re.fullmatch(r"[0-9a-f]{16}", e["source_hash"]), (kind, name)
    assert meta["metric_directions"]["auroc_noise"] == "higher"
    assert meta["main_metrics"]["8gaussians"] == load_registry(LoadConfig()).get("tasks", "8gaussians").cls.main_metric


# --------------------------------------------------------------- RunStore directly
def fake_row(i, status="done", **metrics):
    return {
        "cell_id": f"c{i}",
        "task": "t",
        "model": "m",
        "method": "h",
        "label": "m/h",
        "rep": i,
        "seed": i,
        "status": status,
        "reason": None,
        **metrics,
    }


def test_each_cell_is_on_disk_as_soon_as_it_finishes(tmp_path):
    store = RunStore.create(tmp_path, "r1", {"run_id": "r1", "metric_directions": {"acc": "higher"}})
    assert load_meta(store.dir)["run_id"] == "r1"
    assert load_results(store.dir).empty
    assert list(load_curves(store.dir).columns) == CURVE_COLUMNS  # empty but well-formed
    store.add(fake_row(0, "skipped"), [])
    assert load_results(store.dir)["status"].tolist() == ["skipped"]
    store.add(
        fake_row(1, acc=0.5),
        [{"step": 0, "time_s": 0.1, "loss": 2.0, "gap": 1.0}, {"step": 5, "time_s": 0.2, "loss": 1.0, "gap": 3.0}],
    )
    df = load_results(store.dir)
    assert df["status"].tolist() == ["skipped", "done"] and df["acc"].iloc[1] == 0.5
    curves = load_curves(store.dir)
    assert len(curves) == 4 and set(curves["name"]) == {"loss", "gap"}
    assert curves.set_index(["step", "name"]).loc[(5, "gap"), "value"] == 3.0
    assert not list(store.dir.glob(".*.tmp"))


def test_store_never_overwrites_a_run(tmp_path):
    RunStore.create(tmp_path, "same", {"run_id": "same"})
    with pytest.raises(StoreError, match="cannot create"):
        RunStore.create(tmp_path, "same", {"run_id": "same"})


def test_find_run_latest_prefix_and_errors(tmp_path):
    with pytest.raises(UsageError, match="no runs"):
        find_run(tmp_path, None)
    for rid in ("20260101-000000-aaaa", "20260102-000000-bbbb", "20260102-000000-bbbc"):
        RunStore.create(tmp_path, rid, {"run_id": rid})
    assert find_run(tmp_path, None).name == "20260102-000000-bbbc"
    assert find_run(tmp_path, "20260101").name == "20260101-000000-aaaa"
    assert find_run(tmp_path, str(tmp_path / "runs" / "20260101-000000-aaaa")).name == "20260101-000000-aaaa"
    with pytest.raises(UsageError, match="ambiguous"):
        find_run(tmp_path, "20260102-000000-bbb")
    with pytest.raises(UsageError, match="unknown run"):
        find_run(tmp_path, "2027")


def test_no_pickle_anywhere():
    """Results, caches and weights are parquet/JSON/npz only (issue 2: no pickle)."""
    pattern = re.compile(
        r"^\s*(import|from)\s+(pickle|cPickle|dill|joblib|cloudpickle)\b|pickle\.(dumps?|loads?)\("
        r"|torch\.(save|load)\(|allow_pickle\s*=\s*True|to_pickle\(|read_pickle\("
    )
    offenders = []
    for folder in ("ebmbench", "plugins"):
        for path in (ROOT / folder).rglob("*.py"):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line.split("#")[0]):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, offenders
