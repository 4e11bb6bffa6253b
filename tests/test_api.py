"""The Python API (issue 12): `ebmbench.run` is `ebmbench run` in-process, so a notebook
gets the same cells, numbers and errors as the command line; `ebmbench.load` reads a run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from support import invoke, only_run

import ebmbench
from ebmbench.errors import UsageError

GRID = {"tasks": "8gaussians", "models": "kmeans", "methods": ["kmeans", "pca"], "seeds": 1, "profile": "smoke"}


def test_run_returns_the_rows_the_command_line_stores(tmp_path):
    df = ebmbench.run(**GRID, out=tmp_path / "api")
    assert isinstance(df, pd.DataFrame)
    assert sorted(df["label"]) == ["kmeans/kmeans", "kmeans/pca"]
    assert set(df["status"]) == {"done", "skipped"}  # pca needs a linear model: a skipped pair
    r = invoke("run", "-t", "8gaussians", "-m", "kmeans", "-M", "kmeans,pca", "--seeds", "1", "--profile", "smoke",
               "--no-report", "--out", tmp_path / "cli")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    cli_rows = pd.read_parquet(only_run(tmp_path / "cli") / "results.parquet").set_index("label")
    api_rows = df.set_index("label")
    assert api_rows.loc["kmeans/kmeans", "cell_key"] == cli_rows.loc["kmeans/kmeans", "cell_key"]
    np.testing.assert_array_equal(api_rows.loc["kmeans/kmeans", "nll_grid"], cli_rows.loc["kmeans/kmeans", "nll_grid"])
    loaded = ebmbench.load(out=tmp_path / "api")
    assert loaded.attrs["run_dir"] == df.attrs["run_dir"] and loaded.attrs["meta"]["profile"]["name"] == "smoke"
    pd.testing.assert_frame_equal(loaded.drop(columns="run_id"), df.drop(columns="run_id"))


def test_bad_input_raises_the_command_lines_one_line(tmp_path):
    with pytest.raises(UsageError, match="unknown method 'pcdd'; did you mean 'pcd'"):
        ebmbench.run(tasks="8gaussians", methods="pcdd", profile="smoke", out=tmp_path)
    with pytest.raises(UsageError, match="no runs under"):
        ebmbench.load(out=tmp_path / "empty")
