"""Executors (serial, process, dask) give the same numbers; the cache reuses exactly the
cells whose code, parameters and seeds are unchanged; --resume, --pdb, --config."""

from __future__ import annotations

import sys

import pandas as pd
import pytest
from support import FAULTS_DIR, assert_usage_error, invoke, only_run

from ebmbench.results.runs import load_results

GRID = (
    "-t",
    "8gaussians",
    "-m",
    "kmeans,mlp",
    "-M",
    "kmeans,dsm",
    "--profile",
    "smoke",
    "--seeds",
    "1",
    "--no-report",
    "--metric",
    "nll_grid,mmd2,energy_gap,auroc_noise",
)
VOLATILE = {"train_time_s", "eval_time_s", "wall_time_s", "peak_mem_mb"}


def numbers(run_dir) -> pd.DataFrame:
    df = load_results(run_dir).set_index("cell_id").sort_index()
    cols = [c for c in df.columns if df[c].dtype.kind in "fi" and c not in VOLATILE]
    return df[["status", *cols]]


@pytest.fixture(scope="module")
def process_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("process")
    r = invoke("run", *GRID, "--out", out)
    assert r.exit_code == 0, r.stderr
    return only_run(out)


@pytest.mark.parametrize("executor", ["serial", pytest.param("dask", marks=pytest.mark.slow)])
def test_every_executor_gives_the_same_numbers(tmp_path, process_run, executor):
    if executor == "dask":
        pytest.importorskip("distributed")
    r = invoke("run", *GRID, "--executor", executor, "-j", "2", "--out", tmp_path)
    assert r.exit_code == 0, r.stderr
    expected, got = numbers(process_run), numbers(only_run(tmp_path))
    assert (expected["status"] == "done").sum() == 2
    pd.testing.assert_frame_equal(got, expected)


def test_a_rerun_reuses_every_cell_and_force_recomputes(tmp_path, process_run):
    import shutil

    shutil.copytree(process_run, tmp_path / "runs" / process_run.name)
    r = invoke("run", *GRID, "--out", tmp_path)
    assert r.exit_code == 0 and "(2 reused from earlier runs)" in r.output
    new = next(p for p in (tmp_path / "runs").iterdir() if p.name != process_run.name)
    df = load_results(new)
    done = df[df["status"] == "done"]
    assert (done["cached_from"] == process_run.name).all() and (done["run_id"] == new.name).all()
    pd.testing.assert_frame_equal(numbers(new), numbers(process_run))
    assert (new / "artifacts").is_dir() and len(list((new / "artifacts").iterdir())) == 2
    # a copy of a copy still names the run that computed the cells
    r = invoke("run", *GRID, "--out", tmp_path)
    third = max((tmp_path / "runs").iterdir(), key=lambda p: p.stat().st_mtime)
    done = load_results(third)[lambda d: d["status"] == "done"]
    assert third not in (new, process_run) and (done["cached_from"] == process_run.name).all()
    r = invoke("run", *GRID, "--out", tmp_path, "--force")
    assert r.exit_code == 0 and "reused" not in r.output


EDITABLE = """
import time
import ebmbench


class EditMe(ebmbench.Method):
    name = "edit_me"
    family = "architectural"
    model_families = frozenset({"prototype"})
    task_kinds = frozenset({"unconditional"})

    def train(self, model, data, ctx):
        ctx.log(0, loss=1.0)


@ebmbench.hookimpl
def ebmbench_register_methods(register):
    register(EditMe)
"""


def test_editing_one_methods_source_invalidates_only_its_cells(tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "editable.py").write_text(EDITABLE)
    args = (
        "run",
        "-t",
        "8gaussians",
        "-m",
        "kmeans",
        "-M",
        "kmeans,edit_me",
        "--profile",
        "smoke",
        "--no-report",
        "--metric",
        "energy_gap",
        "--curve-metric",
        "none",
        "--plugins-dir",
        plugins,
        "--out",
        tmp_path / "o",
    )
    assert invoke(*args).exit_code == 0
    (plugins / "editable.py").write_text(EDITABLE + "\n# an edit\n")
    r = invoke(*args)
    assert r.exit_code == 0 and "(1 reused from earlier runs)" in r.output
    runs = sorted((tmp_path / "o" / "runs").iterdir())
    df = load_results(runs[-1]).set_index("method")
    assert df.loc["kmeans", "cached_from"] == runs[0].name and pd.isna(df.loc["edit_me", "cached_from"])


def test_pdb_needs_the_serial_executor_and_sees_the_exception(tmp_path, monkeypatch):
    assert_usage_error(invoke("run", *GRID, "--pdb", "--out", tmp_path), "--pdb needs --executor serial")
    import pdb

    seen = []
    monkeypatch.setattr(pdb, "post_mortem", lambda tb: seen.append(tb))
    r = invoke(
        "run",
        "-t",
        "8gaussians",
        "-m",
        "kmeans",
        "-M",
        "fault_raise",
        "--profile",
        "smoke",
        "--no-report",
        "--plugins-dir",
        FAULTS_DIR,
        "--executor",
        "serial",
        "--pdb",
        "--out",
        tmp_path,
    )
    assert r.exit_code == 1 and len(seen) == 1
    assert "_explode" in [f.name for f in __import__("traceback").extract_tb(seen[0])]


def test_unknown_executor_and_missing_dask_are_one_line(tmp_path, monkeypatch):
    assert_usage_error(
        invoke("run", *GRID, "--executor", "dusk", "--out", tmp_path), "unknown executor 'dusk'", "did you mean 'dask'"
    )
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    assert_usage_error(invoke("run", *GRID, "--executor", "dask", "--out", tmp_path), 'pip install "ebmbench[dask]"')


def test_config_file_and_pyproject_set_run_options(tmp_path, monkeypatch):
    cfg = tmp_path / "bench.toml"
    cfg.write_text(
        'task = "8gaussians"\nmodel = "kmeans"\nmethod = ["kmeans"]\nprofile = "smoke"\n'
        'no-report = true\nmetric = "energy_gap"\ncurve-metric = "none"\nseeds = 2\n'
    )
    r = invoke("run", "--config", cfg, "--seeds", "1", "--out", tmp_path / "o")
    assert r.exit_code == 0, r.stderr
    df = load_results(only_run(tmp_path / "o"))
    assert df["rep"].tolist() == [0]  # the flag won over the file's seeds = 2
    cfg.write_text("sede = 3\n")
    line = assert_usage_error(invoke("run", "--config", cfg, "--all"), "unknown key 'sede'", "did you mean 'seed'")
    assert str(cfg) in line
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.ebmbench]\njobs = 0\n")
    assert_usage_error(invoke("run", "--all"), "pyproject.toml", "jobs")
