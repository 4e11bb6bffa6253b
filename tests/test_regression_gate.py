"""The regression gate end to end, as a plugin package's CI runs it (issue 10).

With the `tiny` suite of tests/fixtures/regress (DSM, 4 seeds, quick budget):
* a planted regression — the method's training steps halved, same source — is flagged,
  and the output names the cell and the metric;
* the same code on 10 other draws of 4 seeds (other data, other training noise) flags
  nothing: the false-alarm check;
* the pytest plugin fails a test suite on the planted regression and passes it otherwise.

Every command runs in a subprocess, as in CI. Marked slow: about two minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ebmbench.results.baseline import Side, load_side
from ebmbench.results.compare import CompareConfig, compare_sides, has_regression
from support import FIXTURES, only_run

pytestmark = pytest.mark.slow
REGRESS_DIR = FIXTURES / "regress"
PLANT = "EBMBENCH_TEST_PLANT_REGRESSION"
# only the compared metric, no training curves: the numbers compared are the same, the
# evaluation costs a fraction (the trained model does not depend on what is measured)
LEAN = ("--metric", "nll_grid", "--curve-metric", "none", "--no-report", "-j", "2")


def ebmbench(*args: str, plant: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "EBMBENCH_PLUGINS_DIR": str(REGRESS_DIR)}
    env.pop(PLANT, None)
    if plant:
        env[PLANT] = "1"
    return subprocess.run([sys.executable, "-m", "ebmbench", *map(str, args)], capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def gate(tmp_path_factory) -> dict[str, Path]:
    """A results root with the suite run at base seed 0 and its baseline file."""
    root = tmp_path_factory.mktemp("gate") / "results"
    run = ebmbench("run", "--suite", "tiny", "--out", root, *LEAN)
    assert run.returncode == 0, run.stderr
    saved = ebmbench("baseline", "save", "--name", "tiny", "--out", root)
    assert saved.returncode == 0, saved.stderr
    return {"root": root, "baseline": root / "baselines" / "tiny.json"}


def test_planted_regression_is_flagged_naming_cell_and_metric(gate, tmp_path):
    out = tmp_path / "planted"
    run = ebmbench("run", "--suite", "tiny", "--out", out, *LEAN, plant=True)
    assert run.returncode == 0, run.stderr
    md = ebmbench("compare", gate["baseline"], "--out", out, "--format", "md")
    assert md.returncode == 1, (md.stdout, md.stderr)
    assert "regression" in md.stdout.splitlines()[0]
    worse = [line for line in md.stdout.splitlines() if line.startswith("| ▼ worse")]
    assert len(worse) == 1 and "8gaussians" in worse[0] and "`mlp/dsm_planted`" in worse[0]
    assert "nll_grid" in worse[0] and "paired bootstrap CI" in worse[0]
    doc = json.loads(ebmbench("compare", gate["baseline"], "--out", out, "--format", "json").stdout)
    (row,) = [r for r in doc["rows"] if r["mark"] == "worse"]
    assert doc["regression"] and row["delta"] > row["tolerance"] > 0 and row["p_holm"] < 0.05


def test_ten_other_draws_of_four_seeds_flag_nothing(gate, tmp_path):
    """The false-alarm rate: unchanged code on 10 other sets of 4 data and training seeds.

    One run of 40 reps at another base seed stands for 10 runs of the suite at 10 base
    seeds (a rep's seeds are hashes of base seed, cell and rep, so each block of 4 reps is
    as independent of the baseline as another base seed's 4 are); one process start
    instead of ten keeps the test at about a minute."""
    out = tmp_path / "draws"
    run = ebmbench(
        "run", "-t", "8gaussians", "-m", "mlp", "-M", "dsm_planted", "--profile", "quick",
        "--seeds", "40", "--seed", "1", "--out", out, *LEAN,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    base = load_side(str(gate["baseline"]), gate["root"])
    current = load_side(str(only_run(out)), out)
    flagged = []
    for block in range(10):
        rows = current.rows[current.rows["rep"] // 4 == block].assign(rep=lambda r: r["rep"] % 4)
        assert len(rows) == 4 and not set(rows["data_seed"]) & set(base.rows["data_seed"])
        table = compare_sides(base, Side(rows, current.meta, f"block {block}"), CompareConfig())
        assert set(table["test"]) == {"mann-whitney"}  # other data seeds: unpaired
        if has_regression(table) or (table["mark"] == "better").any():
            flagged.append((block, table.loc[table["mark"] != "unchanged", "reason"].tolist()))
    assert not flagged


def pytest_in(folder: Path, *args: str, plant: bool = False) -> subprocess.CompletedProcess:
    """A plugin package's own `pytest` (ebmbench's pytest11 entry point loads the plugin)."""
    env = {**os.environ, "EBMBENCH_PLUGINS_DIR": str(REGRESS_DIR)}
    env.pop(PLANT, None)
    if plant:
        env[PLANT] = "1"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(folder), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=folder)


def test_pytest_plugin_gates_a_plugin_packages_tests(gate, tmp_path):
    root = gate["root"]  # its cells are cached: the suite's rerun costs seconds
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    args = ("--ebmbench-suite", "tiny", "--ebmbench-baseline", gate["baseline"], "--ebmbench-root", root)
    args += ("--ebmbench-run-args", " ".join(LEAN))
    passed = pytest_in(tmp_path, *args)
    assert passed.returncode == 0, passed.stdout
    assert "2 passed" in passed.stdout  # the package's own test and ebmbench-regression[tiny]

    (tmp_path / "test_gate.py").write_text(
        "def test_no_regression(ebmbench_regression):\n"
        f"    ebmbench_regression('tiny', {str(gate['baseline'])!r}, extra_args=('--force', *{LEAN!r}))\n"
    )
    failed = pytest_in(tmp_path, "test_gate.py", plant=True)
    assert failed.returncode == 1, failed.stdout
    assert "1 failed" in failed.stdout and "RegressionFound" in failed.stdout
    assert "worse" in failed.stdout and "mlp/dsm_planted" in failed.stdout and "nll_grid" in failed.stdout
